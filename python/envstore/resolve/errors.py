"""The resolvers' error, apart from what explains it: the conda solver raises it too, without
loading the wheel resolver's index stack."""

from __future__ import annotations

from envstore.errors import EnvstoreError


class ResolutionError(EnvstoreError):
    code = "resolve"
