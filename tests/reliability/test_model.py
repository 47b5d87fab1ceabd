"""Model-based test (RELIABILITY §harness): a Hypothesis state machine over realize, switch
(`store use`), remove-root, gc, verify and crash-at-point, checking the store invariants
(promises 1-7) after every step, and that every env the model says is rooted still imports."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from harness import assert_store_valid, copy_store, run_store, write_env

ENVS = {"m1": ["tinya"], "m2": ["tinyb"], "m3": ["tinyc", "tinyd"]}
POINTS = ["blob.before_publish", "prefix.before_rename", "prefix.after_rename", "realize.before_link"]


def make_machine(template: Path, wheels):
    class StoreMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.tmp = Path(tempfile.mkdtemp(prefix="envstore-model-"))
            self.store = copy_store(template, self.tmp / "store")
            self.rooted: dict[str, str] = {}  # env name -> prefix the model expects alive
            self.profile: str | None = None

        def teardown(self) -> None:
            # Only directories are made writable: files share inodes with the template store.
            subprocess.run(["find", str(self.tmp), "-type", "d", "-exec", "chmod", "u+w", "{}", "+"],
                           capture_output=True)
            subprocess.run(["rm", "-rf", str(self.tmp)], capture_output=True)

        def env(self, name: str) -> Path:
            return write_env(self.tmp / name, ENVS[name])

        @rule(name=st.sampled_from(sorted(ENVS)))
        def realize(self, name: str) -> None:
            r = run_store(self.store, "realize", str(self.env(name)), *wheels.index_args())
            assert r.returncode == 0, r.stderr
            self.rooted[name] = r.stdout.strip()

        @rule(name=st.sampled_from(sorted(ENVS)), point=st.sampled_from(POINTS))
        def crash(self, name: str, point: str) -> None:
            r = run_store(self.store, "realize", str(self.env(name)), *wheels.index_args(),
                          env={"_ENVSTORE_TEST_CRASH_AT": point})
            assert r.returncode in (0, -9), r.stderr  # 0: already realized, the point is not reached

        @rule(name=st.sampled_from(sorted(ENVS)))
        def switch(self, name: str) -> None:
            if name not in self.rooted:
                return
            r = run_store(self.store, "use", self.rooted[name])
            assert r.returncode == 0, r.stderr
            self.profile = self.rooted[name]

        @rule(name=st.sampled_from(sorted(ENVS)))
        def remove_root(self, name: str) -> None:
            link = self.tmp / name / ".envstore" / name
            if link.is_symlink():
                link.unlink()
                self.rooted.pop(name, None)

        @rule()
        def gc(self) -> None:
            r = run_store(self.store, "gc")
            assert r.returncode == 0, r.stderr
            assert_store_valid(self.store, after_gc=True)

        @rule()
        def verify(self) -> None:
            r = run_store(self.store, "verify")
            assert r.returncode == 0, r.stdout + r.stderr

        @invariant()
        def store_valid(self) -> None:
            assert_store_valid(self.store)
            for name, prefix in self.rooted.items():
                assert Path(prefix).is_dir(), f"rooted env {name} was collected"
            if self.profile is not None:
                assert os.path.realpath(self.store / "profiles" / "default") == self.profile or Path(
                    os.path.realpath(self.store / "profiles" / "default")).is_dir()

    return StoreMachine


def test_model_store_state_machine(template_store: Path, wheels) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    machine = make_machine(template_store, wheels)
    run_state_machine_as_test(machine, settings=settings(
        max_examples=4, stateful_step_count=8, deadline=None, derandomize=True, database=None,
        phases=[Phase.explicit, Phase.generate], report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck)))
