"""Predict latency per description in a warm process, with the registered champion of benchmarks/champion.py
(default configuration): cached words, new English phrases (one language-model pass each) and new Spanish
phrases. Target: <= 100 ms for a new phrase."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from champion import temporary_champion
from lightning_eq.predict import load_predictor


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        predictor = load_predictor(tracking_uri=temporary_champion(Path(tmp)), models_dir=tmp)
        predictor.warm_up()
        words = ["warm", "bright", "muddy", "airy", "boomy", "crisp", "dark", "harsh", "smooth", "thin"]
        stamp = f"{time.time():.0f}"[-5:]
        english = [f"{a} and {b} {stamp}{i}" for i, (a, b) in enumerate(zip(words, reversed(words)))]
        spanish = [f"un poco más {w} {stamp}{i}" for i, w in enumerate(["cálido", "brillante", "oscuro", "suave", "áspero"] * 2)]
        for label, texts in (("cached words", words), ("new English phrases", english), ("new Spanish phrases", spanish)):
            times, models = [], set()
            for text in texts:
                start = time.perf_counter()
                curve = predictor.predict([text])[0]
                times.append(1000 * (time.perf_counter() - start))
                models.add(curve.model)
            print(f"warm predict, {label:<20}: median {statistics.median(times):7.1f} ms, max {max(times):7.1f} ms "
                  f"(answered by {', '.join(sorted(models))})", flush=True)


if __name__ == "__main__":
    main()
