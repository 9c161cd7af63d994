"""Wall time of the main job (`lightning-eq run`, the default budget) in fresh temporary stores.

The embedding cache is the user's (warm after a first run); pass LIGHTNING_EQ_CACHE to time a cold one.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = str(Path(sys.executable).parent / "lightning-eq")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        args = [CLI, "run", "--storage", f"sqlite:///{tmp}/optuna.db", "--tracking-uri", f"sqlite:///{tmp}/mlflow.db",
                "--models-dir", str(tmp / "models"), "--reports-dir", str(tmp / "reports")]
        start = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, cwd=tmp)
        wall_s = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip().splitlines()[-1])
        seconds = [line for line in done.stdout.splitlines() if line.startswith("Seconds:")]
        print(f"main job (lightning-eq run, default budget): {wall_s / 60:.1f} min wall; {seconds[-1] if seconds else ''}")


if __name__ == "__main__":
    main()
