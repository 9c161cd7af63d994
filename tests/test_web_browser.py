"""End to end: `lightning-eq serve` in a subprocess, driven by httpx clients and by headless Chromium.

Chromium is Debian's (/usr/bin/chromium, installed by .ci/system-deps); Playwright never downloads a browser. Every answer
the page shows comes from the real server: nothing is intercepted or faked.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

import system_deps
from processes import start, stop_tree
from test_web_api import build_champion, build_predictor

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]
SR = 44100

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(folder: Path, model: str | None, tracking_uri: str | None = None) -> Iterator[str]:
    """Base URL of `lightning-eq serve --model MODEL` on the models in ``folder`` (or, with no model, the champion of
    ``tracking_uri``); stopped with its whole process tree."""
    port = free_port()
    command = [str(Path(sys.executable).parent / "lightning-eq"), "serve", "--port", str(port),
               "--models-dir", str(folder / "models"), "--cache-dir", str(folder / "cache"), "--max-upload-mb", "2",
               "--max-audio-seconds", "30", "--tracking-uri", tracking_uri or f"sqlite:///{folder}/none.db"]
    command += ["--model", model] if model else []
    with (folder / "serve.log").open("w") as log:
        process = start(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
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




@pytest.fixture(scope="module")
def server(tmp_path_factory, data, hq_words):
    """Base URL of `lightning-eq serve` running a freshly trained knn/GloVe model."""
    folder = tmp_path_factory.mktemp("served")
    build_predictor(folder, data, hq_words)
    with serving(folder, "knn") as url:
        yield url


@pytest.fixture(scope="module")
def spanish_server(tmp_path_factory):
    """Base URL of `lightning-eq serve` on a registered routing champion (English: knn on GloVe; other
    languages: the multilingual e5 model): a Spanish description is answered by the multilingual route."""
    folder = tmp_path_factory.mktemp("served-es")
    uri = build_champion(folder)
    with serving(folder, None, tracking_uri=uri) as url:
        yield url


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


def open_page(browser, url: str, locale: str):
    """A fresh browser profile whose language is ``locale``, on the page, once the server's health has loaded."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 1400}, locale=locale)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#model-badge:not([hidden])")
    return page


@pytest.fixture
def page(browser, server):
    page = open_page(browser, server, "en-US")
    yield page
    page.context.close()


@pytest.fixture
def spanish_page(browser, server):
    page = open_page(browser, server, "es-ES")
    yield page
    page.context.close()


def answer(url: str, text: str) -> dict:
    """The server's own prediction for ``text`` (what the page should show)."""
    response = httpx.post(f"{url}/api/predict", json={"text": text}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["predictions"][0]


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
    """Describe ``text`` and wait until the page shows *its* curve (an earlier curve's circles are already there)."""
    page.fill("#text", text)
    with page.expect_response("**/api/predict"):
        page.click("#predict-button")
    page.wait_for_function("t => ['“' + t + '”', '«' + t + '»'].some(q => "
                           "document.querySelector('#curve-caption').textContent.includes(q))", arg=text)
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
    for _ in range(600):  # the request reaches the route handler within 30 s, or the test fails
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the page never sent /api/apply"
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
    for fmt, opening in expected.items():
        with page.expect_download() as info:
            page.click(f"button.preset[data-format={fmt}]")
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        assert path.name.startswith("bright-and-airy-") and opening in path.read_text()
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


def test_the_page_speaks_spanish_to_a_spanish_browser(spanish_page):
    page = spanish_page
    assert page.get_attribute("html", "lang") == "es"
    assert page.inner_text("#describe-title") == "1. Describe el sonido"
    assert page.inner_text("#predict-button") == "Mostrar curva"
    assert page.get_attribute("#text", "placeholder").startswith("p. ej.")
    examples = page.locator("button.example").all_text_contents()
    assert {"cálido", "brillante y aireado", "menos retumbante"} <= set(examples) and len(examples) >= 5
    assert page.inner_text("#model-badge") == "modelo: knn"
    assert page.inner_text("#limits") == "WAV, FLAC, OGG o MP3, de hasta 2 MB y 0:30 de duración."
    assert page.inner_text("#curve-caption") == "Aún no hay curva: describe un sonido arriba."
    assert page.get_attribute(".language-switch button[data-language=es]", "aria-pressed") == "true"
    missing = page.evaluate("Object.keys(DICTIONARIES.en).filter((k) => !(k in DICTIONARIES.es))")
    assert missing == []  # every English text has its Spanish one

    page.click("#apply-button")  # the page's own error
    assert page.inner_text("#apply-error").startswith("Primero describe un sonido")
    page.fill("#text", "   ")  # an error the server words in English, shown in Spanish by its code
    page.click("#predict-button")
    page.wait_for_selector("#predict-error:not([hidden])")
    assert page.inner_text("#predict-error").startswith("La descripción está vacía")


def test_switching_to_english_relabels_everything_and_is_remembered(spanish_page):
    page = spanish_page
    page.fill("#text", "   ")
    page.click("#predict-button")
    page.wait_for_selector("#predict-error:not([hidden])")
    show_curve(page, "warm")
    page.click(".language-switch button[data-language=en]")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("#describe-title") == "1. Describe the sound"
    assert "warm" in page.locator("button.example").all_text_contents()
    assert page.inner_text("#curve-caption") == "EQ for “warm”."  # what was on screen changes language too
    assert page.inner_text("#curve-summary").startswith("Largest boost")
    assert "frequency (Hz)" in page.locator("#plot .axis-title").all_text_contents()
    page.reload()
    page.wait_for_selector("#model-badge:not([hidden])")
    assert page.inner_text("#describe-title") == "1. Describe the sound"  # remembered, though the browser says es
    other = page.context.new_page()
    other.goto(page.url)
    assert other.inner_text("#predict-button") == "Show curve"
    other.click(".language-switch button[data-language=es]")
    assert other.inner_text("#predict-button") == "Mostrar curva"


@pytest.mark.parametrize("locale, words", [("es-MX", "Mostrar curva"), ("fr-FR", "Show curve"), ("en-GB", "Show curve")])
def test_other_browser_languages_get_spanish_or_english(browser, server, locale, words):
    page = open_page(browser, server, locale)
    try:
        assert page.inner_text("#predict-button") == words
    finally:
        page.context.close()


def test_a_spanish_description_draws_a_curve_with_its_language_and_model(browser, spanish_server):
    """Typed on the Spanish page of the routing server: identified as Spanish, answered by the multilingual model."""
    expected = answer(spanish_server, "cálido")
    health = httpx.get(f"{spanish_server}/api/health").json()
    assert expected["model"] == "e5" and expected["language"] == "es" and set(health["models"]) == {"knn", "e5"}
    page = open_page(browser, spanish_server, "es-ES")
    try:
        page.locator("#text").press_sequentially("cálido")
        page.click("#predict-button")
        page.wait_for_selector("#plot circle.centre")
        assert page.locator("#plot circle.centre").count() == 40
        assert page.inner_text("#curve-caption") == "Ecualización para «cálido»."
        assert page.inner_text("#curve-model") == f"Modelo: {expected['model']}"
        language = {"es": "español", None: "sin identificar"}[expected["language"]]
        assert page.inner_text("#curve-language") == f"Idioma: {language}"
        assert page.get_attribute("#curve-language", "data-language") == (expected["language"] or "")
        if expected["confidence"] is None:
            assert page.inner_text("#curve-confidence") == "Confianza: este modelo no la indica"
        else:
            assert page.inner_text("#curve-confidence").endswith("%")
        assert page.is_hidden("#unfamiliar") != expected["unfamiliar"]
    finally:
        page.context.close()


def test_an_unfamiliar_description_is_called_a_guess(page, server):
    """A string of no language (GloVe knows none of its words) on the knn/GloVe server."""
    gibberish = "qzxv wpkj"
    expected = answer(server, gibberish)
    assert expected["unfamiliar"], f"{gibberish!r} should be unfamiliar, got confidence {expected['confidence']}"
    show_curve(page, gibberish)
    warning = page.inner_text("#unfamiliar")
    assert page.is_visible("#unfamiliar") and warning.startswith("Unfamiliar description") and "a guess" in warning
    assert "guess" in page.get_attribute("#curve-path", "class")  # drawn dashed
    assert page.inner_text("#curve-confidence").endswith("%")
    peak = lambda: max(abs(float(t.split(":")[1].replace("−", "-").replace("dB", "")))  # noqa: E731
                       for t in page.locator("#plot circle.centre").all_text_contents())
    assert peak() == pytest.approx(5.0 * expected["confidence"], abs=0.06)  # the gains are turned down by it
    page.uncheck("#confidence-scaling")
    assert peak() == pytest.approx(5.0, abs=0.06) and "untick" not in page.inner_text("#unfamiliar")  # full strength
    page.click(".language-switch button[data-language=es]")
    assert page.inner_text("#unfamiliar").startswith("Descripción desconocida") and "suposición" in page.inner_text("#unfamiliar")
    show_curve(page, "warm")
    assert page.is_hidden("#unfamiliar") == (not answer(server, "warm")["unfamiliar"])


def plotted_gains(page) -> np.ndarray:
    """The gains the plot shows, from its 40 dots' tooltips ("83 Hz: −1.2 dB")."""
    titles = page.locator("#plot circle.centre").all_text_contents()
    return np.array([float(t.split(":")[1].replace("−", "-").replace("dB", "")) for t in titles])


def rate_round(page, values: list[int], ratings_after: int) -> None:
    """Set each version's slider (0-10), send them, and wait for the curve of ``ratings_after`` ratings."""
    for i, value in enumerate(values):
        page.locator("#probe-list input.rating").nth(i).fill(str(value))
    with page.expect_response("**/api/tune") as sent:
        page.click("#tune-rate")
    assert sent.value.status == 200
    page.wait_for_function("n => document.querySelector('#tune-summary').textContent.startsWith(n + ' ratings')",
                           arg=ratings_after)


def test_tune_by_ear_moves_the_curve_undoes_and_the_tuned_curve_downloads(page, song, tmp_path):
    """Describe, tune by ear on a real upload, rate two rounds, undo one, reload, then equalise and export the result."""
    show_curve(page, "warm")
    page.set_input_files("#file", str(song))
    with page.expect_response("**/api/tune") as first:
        page.click("#tune-start")
    request = first.value.request.post_data_json
    assert request["text"] == "warm" and request["ratings"] == [] and request["sample_rate"] > 8000
    page.wait_for_selector("#probe-list li")
    assert page.locator("#probe-list input.rating").count() == 2 and page.locator("#plot .probe").count() == 2
    assert page.inner_text("#curve-caption") == "EQ for “warm”, tuned by ear (0 ratings)."
    prior = plotted_gains(page)

    page.click("#tune-play")  # the versions play through the server's filters in Web Audio
    page.wait_for_function("tune.audio && tune.audio.context.state === 'running'")
    assert page.evaluate("Object.keys(tune.audio.chains)") == ["original", "current", "probe0", "probe1"]
    page.click("#probe-list li:nth-child(2) button")
    assert page.get_attribute("#probe-list li:nth-child(2) button", "aria-pressed") == "true"
    page.click("#tune-play")  # stop

    rate_round(page, [9, 1], 2)
    once = plotted_gains(page)
    assert np.abs(once - prior).max() > 0.3  # the curve on the plot moved
    rate_round(page, [2, 8], 4)
    twice = plotted_gains(page)
    assert np.abs(twice - once).max() > 0.1
    page.click("#tune-undo")
    page.wait_for_function("document.querySelector('#tune-summary').textContent.startsWith('2 ratings')")
    assert np.array_equal(plotted_gains(page), once)  # Undo restores the previous curve

    page.reload()  # the ratings live in the page (localStorage): a reload asks the server again, same curve
    page.wait_for_selector("#tune-panel:not([hidden]) #probe-list li")
    page.wait_for_function("document.querySelector('#tune-summary').textContent.startsWith('2 ratings')")
    assert np.array_equal(plotted_gains(page), once)
    tuned_z = page.evaluate("state.prediction.curve_z")

    page.set_input_files("#file", str(song))
    page.click("#apply-button")
    page.wait_for_selector("#download:not([hidden])")
    with page.expect_download() as info:
        page.click("#download")
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    out, rate = sf.read(saved)
    original, _ = sf.read(song)
    assert saved.name == "song-eq.wav" and rate == SR and out.shape == original.shape
    assert not np.allclose(out, original, atol=1e-3)

    with page.expect_download() as info:
        page.click("button.preset[data-format=json]")
    preset = tmp_path / info.value.suggested_filename
    info.value.save_as(preset)
    assert preset.name == "warm-tuned-json.json"  # the tuned curve, as any other curve goes to the presets
    assert np.allclose(json.loads(preset.read_text())["curve_z"], tuned_z, atol=1e-4)


def test_tune_mode_speaks_spanish_and_words_the_tuners_errors(spanish_page):
    page = spanish_page
    assert page.inner_text("#tune-title") == "4. Ajustar de oído" and page.inner_text("#tune-start") == "Ajustar de oído"
    page.click("#tune-start")  # no audio chosen yet
    page.wait_for_selector("#tune-error:not([hidden])")
    assert page.inner_text("#tune-error").startswith("Primero elige un archivo de audio")
    shown = page.evaluate("""async () => {
        try {
          await api("/api/tune", { method: "POST", headers: { "Content-Type": "application/json" },
                                   body: JSON.stringify({ ratings: [{ curve_z: Array(40).fill(0), rating: 2 }] }) });
        } catch (err) { return say(err.spec); }
      }""")
    assert shown.startswith("Las valoraciones enviadas no son válidas") and "200" in shown
