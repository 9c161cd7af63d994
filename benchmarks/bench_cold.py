"""Cold start, as ratios to `python -c "import torch"` in the same run: a cold `lightning-eq predict "warm"` with
the registered champion (a fresh process each time; the word's embedding is cached, as after any first use), a
cold `lightning-eq predict` of a phrase no cache holds (a new one each time: the language model loads and runs),
and `lightning-eq --help`. Targets: cached predict <= 2x, new phrase <= 3x, --help <= 0.5x. Median of 7 fresh
processes each, min-max."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from champion import temporary_champion

BIN = Path(sys.executable).parent
ROUNDS = 7


def timed(command: list[str] | Callable[[int], list[str]]) -> list[float]:
    """Seconds of ROUNDS fresh processes; ``command`` may be a function of the round (a new phrase each time)."""
    times = []
    for i in range(ROUNDS):
        start = time.perf_counter()
        subprocess.run(command(i) if callable(command) else command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        uri = temporary_champion(Path(tmp))
        predict = [str(BIN / "lightning-eq"), "predict", "warm", "--tracking-uri", uri, "--models-dir", tmp]
        subprocess.run(predict, check=True, capture_output=True)  # the word's embedding into the cache, once
        stamp = f"{time.time():.0f}"[-6:]  # phrases no cache holds
        rows = {"python -c 'import torch'": timed([sys.executable, "-c", "import torch"]),
                "lightning-eq --help": timed([str(BIN / "lightning-eq"), "--help"]),
                "lightning-eq predict warm (champion)": timed(predict),
                "lightning-eq predict <new phrase>": timed(lambda i: predict[:2] + [f"velvety glassy tone {stamp}{i}"]
                                                           + predict[3:])}
    torch_s = statistics.median(rows["python -c 'import torch'"])
    for label, times in rows.items():
        median = statistics.median(times)
        print(f"{label:<40} median {median:5.2f} s (min {min(times):.2f}, max {max(times):.2f}) = {median / torch_s:4.2f}x "
              "import torch", flush=True)


if __name__ == "__main__":
    main()
