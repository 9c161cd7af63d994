"""API latency: `lightning-eq serve` with a registered champion (benchmarks/champion.py) on loopback, and 8
concurrent clients (threads, one httpx keep-alive connection each) sending POST /api/predict. Prints the median
and 99th percentile latency and the requests per second.

Two workloads: descriptions from a fixed set (their embeddings are cached after the first request), and
descriptions no one sent before (the embedder runs for each). A single client gives the baseline.

Then one client's POST /api/tune with 20 ratings (a simulated listener's, from ten rounds of rating the probes):
without text (the mean-curve prior), with a description sent before (its embedding cached: the tuner's own time
plus the prediction), with a new description each time (plus the embedding), and as the page asks (with
sample_rate, so each curve also carries its designed biquads); then /api/predict of new descriptions, the
embedding's own share. Median and 90th percentile.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

VENV_BIN = Path(sys.executable).parent
WORDS = ["warm", "bright", "muddy", "airy", "boomy", "crisp", "dark", "harsh", "smooth", "thin", "punchy", "tinny"]
DESCRIPTIONS = WORDS + ["very warm", "less boomy, more presence", "bright and airy", "a bit darker",
                        "warm, punchy and a bit airy", "not harsh", "much more crisp", "slightly thin"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tracking_uri: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [str(VENV_BIN / "lightning-eq"), "serve", "--port", str(port), "--tracking-uri", tracking_uri,
               "--models-dir", str(log_path.parent)]
    log = log_path.open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"`lightning-eq serve` did not start; its log:\n{log_path.read_text()[-2000:]}")


def run_clients(url: str, clients: int, requests: int, seconds: float, texts_for) -> tuple[np.ndarray, float, int]:
    """Latencies in ms of every answered request, the wall time in s and how many requests failed."""
    deadline = time.monotonic() + seconds

    def client(index: int) -> tuple[list[float], int]:
        times, failed = [], 0
        with httpx.Client(base_url=url, timeout=60) as http:
            for i in range(requests):
                if time.monotonic() > deadline:
                    break
                start = time.perf_counter()
                response = http.post("/api/predict", json={"text": texts_for(index, i)})
                times.append(1000 * (time.perf_counter() - start))
                failed += response.status_code != 200
        return times, failed

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients)))
    wall = time.perf_counter() - start
    return np.array([t for times, _ in results for t in times]), wall, sum(f for _, f in results)


def report(label: str, latencies_ms: np.ndarray, wall_s: float, failed: int) -> None:
    median, p99 = np.percentile(latencies_ms, [50, 99])
    print(f"{label:<38}: {len(latencies_ms):4d} requests in {wall_s:5.1f} s = {len(latencies_ms) / wall_s:6.1f} req/s; "
          f"median {median:6.1f} ms, p99 {p99:6.1f} ms" + (f"; {failed} FAILED" if failed else ""), flush=True)


def twenty_ratings(url: str) -> list[dict]:
    """Ten rounds of rating two probes by a listener whose curve is a real SocialEQ record (0.5 + 0.5 r)."""
    from lightning_eq.data.socialeq import load_records

    listener = load_records().curves_z[0]
    ratings: list[dict] = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for seed in range(10):
            answer = http.post("/api/tune", json={"text": "warm", "ratings": ratings, "seed": seed}).json()
            ratings += [{"curve_z": p["curve_z"], "rating": float(np.clip(0.5 + 0.5 * np.corrcoef(p["curve_z"], listener)[0, 1],
                                                                          0, 1))} for p in answer["probes"]]
    return ratings


def tune_latency(url: str, repeats: int) -> None:
    ratings = twenty_ratings(url)
    stamp = f"{time.time():.0f}"[-6:]
    tuned = {"ratings": ratings, "n_probes": 2, "seed": 10}
    cases = {  # label: (path, body of call i); the last case is the embedding alone, for comparison
        "/api/tune, 20 ratings, no text": ("/api/tune", lambda i: tuned),
        "/api/tune, 20 ratings, text sent before": ("/api/tune", lambda i: {**tuned, "text": "warm"}),
        "/api/tune, 20 ratings, new text each call": ("/api/tune", lambda i: {**tuned, "text": f"{WORDS[i % 12]} t {stamp}x{i}"}),
        "/api/tune, 20 ratings, the page's (sample_rate)": ("/api/tune", lambda i: {**tuned, "text": "warm", "sample_rate": 48000}),
        "/api/predict, new text each call": ("/api/predict", lambda i: {"text": f"{WORDS[i % 12]} p {stamp}x{i}"}),
    }
    with httpx.Client(base_url=url, timeout=60) as http:
        for label, (path, body) in cases.items():
            times = []
            for i in range(repeats + 2):
                start = time.perf_counter()
                response = http.post(path, json=body(i))
                if i >= 2:  # the first two warm the connection and the text
                    times.append(1000 * (time.perf_counter() - start))
                assert response.status_code == 200, response.text
            median, p90 = np.percentile(times, [50, 90])
            print(f"{label:<48}: median {median:6.1f} ms, p90 {p90:6.1f} ms ({len(times)} calls)", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=100, help="per client, per workload")
    parser.add_argument("--seconds", type=float, default=30.0, help="time bound per workload")
    parser.add_argument("--tune-calls", type=int, default=50, help="timed /api/tune calls per case")
    parser.add_argument("--only-tune", action="store_true", help="skip the /api/predict workloads")
    args = parser.parse_args(argv or [])
    with tempfile.TemporaryDirectory() as tmp:
        from champion import temporary_champion

        process, url = start_server(temporary_champion(Path(tmp)), Path(tmp) / "serve.log")
        try:
            model = httpx.get(f"{url}/api/health").json()["model"]
            print(f"server: `lightning-eq serve` (model {model}) on {url}; {os.cpu_count()} CPU cores", flush=True)
            if not args.only_tune:
                fixed = lambda c, i: DESCRIPTIONS[(c * 7 + i) % len(DESCRIPTIONS)]  # noqa: E731
                run_clients(url, 2, len(DESCRIPTIONS), args.seconds, lambda c, i: DESCRIPTIONS[i])  # warm the cache
                report("1 client, fixed descriptions", *run_clients(url, 1, args.requests, args.seconds, fixed))
                report(f"{args.clients} clients, fixed descriptions",
                       *run_clients(url, args.clients, args.requests, args.seconds, fixed))
                stamp = f"{time.time():.0f}"[-6:]
                fresh = lambda c, i: f"{WORDS[i % len(WORDS)]} and {WORDS[c % len(WORDS)]} {stamp}{c}x{i}"  # noqa: E731
                report(f"{args.clients} clients, new descriptions",
                       *run_clients(url, args.clients, max(1, args.requests // 5), args.seconds, fresh))
            tune_latency(url, args.tune_calls)
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main(sys.argv[1:])
