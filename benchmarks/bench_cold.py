"""Cold start, as ratios to `python -c "import torch"` in the same run: a cold `lightning-eq predict "warm"` with
the registered champion (a fresh process each time; the word's embedding is cached, as after any first use),
and `lightning-eq --help`. Targets: predict <= 2x, --help <= 0.5x. Median of 7 fresh processes each, min-max."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from champion import temporary_champion

BIN = Path(sys.executable).parent
ROUNDS = 7


def timed(command: list[str]) -> list[float]:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        uri = temporary_champion(Path(tmp))
        predict = [str(BIN / "lightning-eq"), "predict", "warm", "--tracking-uri", uri, "--models-dir", tmp]
        subprocess.run(predict, check=True, capture_output=True)  # the word's embedding into the cache, once
        rows = {"python -c 'import torch'": timed([sys.executable, "-c", "import torch"]),
                "lightning-eq --help": timed([str(BIN / "lightning-eq"), "--help"]),
                "lightning-eq predict warm (champion)": timed(predict)}
    torch_s = statistics.median(rows["python -c 'import torch'"])
    for label, times in rows.items():
        median = statistics.median(times)
        print(f"{label:<38} median {median:5.2f} s (min {min(times):.2f}, max {max(times):.2f}) = {median / torch_s:4.2f}x "
              "import torch", flush=True)


if __name__ == "__main__":
    main()
