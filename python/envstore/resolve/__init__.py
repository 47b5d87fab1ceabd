"""Resolution: EnvSpec + target interpreter + index client -> pinned wheels -> Lock.

`lock.lock_env()` is the whole `store lock` pipeline and `lock.resolve()` pure resolution; they
live in a submodule so that `fit`, `target` and `stale` (which realize needs on every run) do not
load the index client and resolvelib with the package."""
