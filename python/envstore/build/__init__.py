"""Source builds (issue 16): running a project's PEP 517/660 backend in a sandboxed temporary
directory. Only the backend runner exists so far (`backend`); build environments, built-wheel
artifacts and the resolver/realize wiring are still to come."""
