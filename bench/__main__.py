"""Run every benchmark (`make bench`): each `bench/bench_*.py` module's `main()` prints its
figures and the ratio to the baseline it measures in the same run.

Each benchmark runs in a process of its own, with the environment `make bench` was given, so
no benchmark's Django set-up (settings module, database, environment) leaks into the next.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    only = sys.argv[1:]
    failed = []
    for name in names:
        if only and name not in only:
            continue
        print(f"== {name}", flush=True)
        code = f"import sys; from bench import {name}; sys.exit({name}.main())"
        if subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode:
            failed.append(name)
    if failed:
        print(f"missed or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
