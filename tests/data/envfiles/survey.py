"""Lock every env file in this folder, one at a time as a new user would, and print which lock and
the first line of each failure. The files are written in the shapes real environment.yml files
have (issue 13); they are test data, not fixtures of one test.

    python tests/data/envfiles/survey.py [--store DIR] [--timeout S] [--json OUT]

Each file is copied into a scratch directory first, so no lock lands in the repository. The index
is whatever `store` is configured with (pip's configuration by default)."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent


def first_message(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error")]
    return (errors or lines or ["(no message)"])[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, help="store to lock into (default: a new temporary one)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds before a lock counts as hung")
    ap.add_argument("--json", type=Path, help="write the results here as JSON too")
    ap.add_argument("files", nargs="*", type=Path, help="env files (default: every *.yml here)")
    args = ap.parse_args()
    files = args.files or sorted(HERE.glob("*.yml"))
    scratch = Path(tempfile.mkdtemp(prefix="envfile-survey-"))
    store = args.store or scratch / "store"
    results = []
    try:
        for f in files:
            work = scratch / f.stem
            work.mkdir()
            shutil.copy(f, work / f.name)
            start = time.monotonic()
            try:
                proc = subprocess.run(["store", "--store", str(store), "lock", f.name], cwd=work,
                                      capture_output=True, text=True, timeout=args.timeout)
                ok, message = proc.returncode == 0, first_message(proc.stderr)
            except subprocess.TimeoutExpired:
                ok, message = False, f"(hung: no answer in {args.timeout:.0f} s)"
            took = time.monotonic() - start
            results.append({"file": f.name, "locks": ok, "seconds": round(took, 1),
                            "message": "" if ok else message})
            print(f"{'ok  ' if ok else 'FAIL'} {f.name:32} {took:6.1f}s  {'' if ok else message}", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    n_ok = sum(r["locks"] for r in results)
    print(f"{n_ok} of {len(results)} lock")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
