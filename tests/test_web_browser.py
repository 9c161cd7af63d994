"""End to end: `lightning-eq serve` in a subprocess, driven by httpx clients and by headless Chromium.

Chromium is Debian's (/usr/bin/chromium, installed by .ci/system-deps); Playwright never downloads a browser.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

import system_deps
from processes import start, stop_tree
from test_web_api import build_predictor

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]
SR = 44100

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, data, hq_words):
    """Base URL of `lightning-eq serve` running a freshly trained knn/GloVe model."""
    folder = tmp_path_factory.mktemp("served")
    build_predictor(folder, data, hq_words)
    port = free_port()
    command = [str(Path(sys.executable).parent / "lightning-eq"), "serve", "--port", str(port), "--model", "knn",
               "--models-dir", str(folder / "models"), "--cache-dir", str(folder / "cache"), "--max-upload-mb", "2",
               "--max-audio-seconds", "30"]
    with (folder / "serve.log").open("w") as log:
        process = start(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"`lightning-eq serve` did not start:\n{(folder / 'serve.log').read_text()[-3000:]}")
                time.sleep(0.3)
            yield url
        finally:
            stop_tree(process)


def test_eight_concurrent_clients_are_all_served(server):
    words = ["warm", "bright", "boomy", "less harsh", "very airy", "punchy and tight", "dark", "a bit crisp"]

    def client(word: str) -> list[int]:
        with httpx.Client(base_url=server, timeout=30) as http:
            return [http.post("/api/predict", json={"text": word}).status_code for _ in range(10)]

    with ThreadPoolExecutor(8) as pool:
        codes = [c for result in pool.map(client, words) for c in result]
    assert codes == [200] * 80


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless; missing, it fails the test with how to install it (never a silent skip)."""
    executable = system_deps.chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 1400})
    page = context.new_page()
    page.goto(server)
    page.wait_for_selector("#model-badge:not([hidden])")
    yield page
    context.close()


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    """Three seconds of music-like sound: a bass note, a chord and a little noise, in stereo."""
    t = np.arange(3 * SR) / SR
    left = 0.3 * np.sin(2 * np.pi * 82.4 * t) + sum(0.1 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
    noise = 0.03 * np.random.default_rng(0).standard_normal((t.size, 2))
    path = tmp_path_factory.mktemp("audio") / "song.wav"
    sf.write(path, np.stack([left, left * 0.9], axis=1) + noise, SR, subtype="PCM_16")
    return path


def show_curve(page, text: str) -> None:
    page.fill("#text", text)
    page.click("#predict-button")
    page.wait_for_selector("#plot circle.centre")


def test_a_description_draws_its_curve_and_the_slider_redraws_without_predicting(page):
    predicts = []
    page.on("request", lambda r: predicts.append(r.url) if r.url.endswith("/api/predict") else None)
    show_curve(page, "less boomy, more presence")
    assert page.locator("#plot circle.centre").count() == 40
    assert page.locator("#plot .centre-tick").count() == 40
    assert len(page.get_attribute("#curve-path", "d")) > 200
    labels = page.locator("#plot .axis-label").all_text_contents()
    assert {"20", "100", "1k", "10k", "20k", "0"} <= set(labels)
    assert "less boomy, more presence" in page.inner_text("#curve-caption")
    first_dot = page.locator("#plot circle.centre").first
    before = (page.get_attribute("#curve-path", "d"), first_dot.text_content())
    page.locator("#amount").fill("0.5")
    assert page.inner_text("#amount-value") == "0.50×"
    after = (page.get_attribute("#curve-path", "d"), first_dot.text_content())
    assert after[0] != before[0]
    gain = lambda title: float(title.split(":")[1].replace("−", "-").replace("dB", ""))  # noqa: E731
    assert gain(after[1]) == pytest.approx(gain(before[1]) / 2, abs=0.06)  # "20 Hz: −5.0 dB" -> "−2.5 dB"
    assert len(predicts) == 1


def test_upload_equalise_listen_a_b_and_download(page, song, tmp_path):
    show_curve(page, "warm")
    page.set_input_files("#file", str(song))
    assert page.get_attribute("#original", "src").startswith("blob:")
    held = []
    page.route("**/api/apply", lambda route: held.append(route))
    page.click("#apply-button")
    page.wait_for_function("document.querySelector('#apply-status').textContent.includes('Equalising')")
    assert page.is_disabled("#apply-button")  # the long step shows that it is working
    while not held:
        page.wait_for_timeout(50)
    held[0].continue_()
    page.wait_for_selector("#download:not([hidden])")
    assert page.is_enabled("#apply-button")
    assert page.get_attribute("#equalised", "src").startswith("blob:")
    page.wait_for_function("document.querySelector('#equalised').readyState >= 1")  # Chromium can play it
    assert page.evaluate("document.querySelector('#equalised').duration") == pytest.approx(3.0, abs=0.01)
    assert "Equalised 0:03 at 44100 Hz, 2 ch" in page.inner_text("#apply-report")

    with page.expect_download() as info:
        page.click("#download")
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.name == "song-eq.wav"
    out, rate = sf.read(saved)
    original, _ = sf.read(song)
    assert rate == SR and out.shape == original.shape and not np.allclose(out, original, atol=1e-3)

    page.click("#ab-button")  # nothing playing: B starts where A was
    page.wait_for_function("!document.querySelector('#equalised').paused")
    page.click("#ab-button")  # B playing: switch to A
    page.wait_for_function("!document.querySelector('#original').paused")
    assert page.evaluate("document.querySelector('#equalised').paused")


def test_presets_download_for_each_format(page, tmp_path):
    show_curve(page, "bright and airy")
    expected = {"graphic": "GraphicEQ: 20 ", "parametric": "Filter 1: ON", "json": '"gains_db"'}
    for fmt, start in expected.items():
        with page.expect_download() as info:
            page.click(f"button.preset[data-format={fmt}]")
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        assert path.name.startswith("bright-and-airy-") and start in path.read_text()
    assert "fit the curve within" not in page.inner_text("#export-status")  # json came last: no fit line
    assert '"gains_db"' in page.inner_text("#preset-preview")


def test_errors_show_in_plain_words(page, tmp_path):
    page.fill("#text", "   ")
    page.click("#predict-button")
    page.wait_for_selector("#predict-error:not([hidden])")
    assert "The description is empty" in page.inner_text("#predict-error")

    page.click("#apply-button")  # no curve yet
    assert "Describe a sound first" in page.inner_text("#apply-error")

    show_curve(page, "warm")
    assert page.is_hidden("#predict-error")
    notes = tmp_path / "notes.txt"
    notes.write_text("these are words, not audio\n" * 20)
    page.set_input_files("#file", str(notes))
    page.click("#apply-button")
    page.wait_for_selector("#apply-error:not([hidden])")
    message = page.inner_text("#apply-error")
    assert "Cannot read notes.txt as audio" in message and "/tmp" not in message
    assert page.is_enabled("#apply-button")


def test_too_large_a_file_is_refused_before_uploading(page, tmp_path):
    big = tmp_path / "big.wav"
    sf.write(big, np.zeros((30 * 22050, 2)), 22050, subtype="PCM_16")  # 2.5 MB, over the 2 MB limit
    show_curve(page, "warm")
    page.set_input_files("#file", str(big))
    assert "this server takes files up to 2 MB" in page.inner_text("#apply-error")
