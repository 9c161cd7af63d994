"""`make bench`: run every benchmark module here (bench_*.py with a main()) and print their figures.

Pass module names to run a subset: python benchmarks/run.py bench_predict bench_apply
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    sys.path.insert(0, str(HERE))
    names = names or sorted(p.stem for p in HERE.glob("bench_*.py"))
    failed = []
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        try:
            importlib.import_module(name).main()
        except Exception as err:  # one broken benchmark must not hide the others' figures
            print(f"{name} failed: {type(err).__name__}: {err}", flush=True)
            failed.append(name)
        print(f"({name}: {time.perf_counter() - start:.0f} s)", flush=True)
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
