"""Predict latency per description: warm process (median over new, uncached phrases and cached words)
and a cold `lightning-eq predict` in a fresh process. Needs trained models (`make run`)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from lightning_eq.predict import load_predictor

VENV_BIN = Path(sys.executable).parent


def main() -> None:
    predictor = load_predictor()
    predictor.predict(["warm"])  # load what the model needs once
    words = ["warm", "bright", "muddy", "airy", "boomy", "crisp", "dark", "harsh", "smooth", "thin"]
    phrases = [f"{a} and {b} {i}" for i, (a, b) in enumerate(zip(words, reversed(words)))]
    for label, texts in (("cached words", words), ("new phrases", phrases)):
        times = []
        for text in texts:
            start = time.perf_counter()
            predictor.predict([text])
            times.append(1000 * (time.perf_counter() - start))
        print(f"warm predict, {label:<12}: median {statistics.median(times):7.1f} ms, max {max(times):7.1f} ms "
              f"(model {predictor.key})", flush=True)
    for text in ("warm", f"bright and very airy {time.time():.0f}"):
        start = time.perf_counter()
        subprocess.run([str(VENV_BIN / "lightning-eq"), "predict", text, "--format", "json"], check=True,
                       capture_output=True)
        print(f"cold `lightning-eq predict {text!r}`: {time.perf_counter() - start:.2f} s", flush=True)


if __name__ == "__main__":
    main()
