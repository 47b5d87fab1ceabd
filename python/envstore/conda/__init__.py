"""Conda channels, the conda solve and conda package downloads: the conda route's inputs and its
resolver. Channels and downloads are inputs (`channels`, `fetch`), the solve is resolve (`solve`);
placing a package into a prefix is install's (`envstore.install.conda`). rattler does the work
the field already has a library for: match specs, repodata, the solver, virtual packages."""
