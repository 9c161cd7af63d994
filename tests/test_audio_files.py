"""Reading, writing and refusing files: formats and subtypes kept, broken inputs named, outputs never clobbered."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from lightning_eq.audio import apply_file
from lightning_eq.curves import EqCurve
from lightning_eq.errors import AudioError

CURVE = EqCurve(np.sin(np.linspace(0, 3, 40)))
def require_mp3() -> None:
    """The soundfile wheel this project installs carries libsndfile >= 1.1, which writes MP3."""
    if "MP3" not in sf.available_formats():
        pytest.fail("libsndfile here cannot write MP3 (it needs >= 1.1): .venv/bin/pip install -U soundfile")


def write_tone(path, sample_rate=44100, seconds=0.5, channels=2, **kwargs):
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    audio = np.repeat(0.3 * np.sin(2 * np.pi * 440 * t)[:, None], channels, axis=1)
    sf.write(path, audio, sample_rate, **kwargs)


@pytest.mark.parametrize(
    ("name", "subtype"),
    [("in.wav", "PCM_16"), ("in.wav", "PCM_24"), ("in.wav", "FLOAT"), ("in.flac", "PCM_16"), ("in.flac", "PCM_24"),
     ("in.ogg", "VORBIS"), ("in.mp3", "MPEG_LAYER_III")],
)  # fmt: skip
def test_format_and_subtype_are_kept(tmp_path, name, subtype):
    if name.endswith(".mp3"):
        require_mp3()
    source = tmp_path / name
    write_tone(source, subtype=subtype)
    target = tmp_path / f"out{source.suffix}"
    report = apply_file(source, target, CURVE)
    info = sf.info(target)
    assert (info.format, info.subtype) == (sf.info(source).format, subtype) == (report.format, report.subtype)
    assert info.channels == 2 and info.frames == sf.info(source).frames


def test_output_format_follows_the_extension_or_the_flag(tmp_path):
    write_tone(tmp_path / "in.wav", subtype="FLOAT")
    assert apply_file(tmp_path / "in.wav", tmp_path / "out.flac", CURVE).subtype == "PCM_24"  # FLAC has no float
    report = apply_file(tmp_path / "in.wav", tmp_path / "out.audio", CURVE, out_format="ogg")
    assert sf.info(tmp_path / "out.audio").format == "OGG" == report.format
    report = apply_file(tmp_path / "in.wav", tmp_path / "out16.wav", CURVE, subtype="pcm_16")
    assert sf.info(tmp_path / "out16.wav").subtype == "PCM_16"


def test_output_may_be_the_input(tmp_path):
    path = tmp_path / "song.wav"
    write_tone(path, subtype="PCM_24")
    before, _ = sf.read(path)
    apply_file(path, path, CURVE, amount=-1.0)
    after, _ = sf.read(path)
    assert after.shape == before.shape and not np.allclose(after, before, atol=1e-3)
    assert [p.name for p in tmp_path.iterdir()] == ["song.wav"]  # no temporary files left


def truncated_wav(path):
    write_tone(path, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_text("this is a shopping list, not audio\n" * 10), "Cannot read .* as audio"),
        (truncated_wav, "is truncated"),
        (lambda p: sf.write(p, np.zeros((0, 2)), 44100), "no audio frames"),
        (lambda p: None, "does not exist"),
    ],
    ids=["empty", "text", "truncated", "no-frames", "missing"],
)
def test_broken_inputs_raise_audio_error_and_leave_the_output_alone(tmp_path, make, message):
    source, target = tmp_path / "broken.wav", tmp_path / "out.wav"
    make(source)
    target.write_bytes(b"precious")
    with pytest.raises(AudioError, match=message) as caught:
        apply_file(source, target, CURVE)
    assert "\n" not in str(caught.value)
    assert target.read_bytes() == b"precious"
    assert not list(tmp_path.glob(".*.part"))  # no temporary file left behind


def test_failed_write_leaves_the_output_alone(tmp_path):
    """MP3 cannot hold 96 kHz audio: the encoder refuses, and the existing output must survive untouched."""
    require_mp3()
    write_tone(tmp_path / "in.wav", sample_rate=96000)
    target = tmp_path / "out.mp3"
    target.write_bytes(b"precious")
    with pytest.raises(AudioError, match="nothing was overwritten"):
        apply_file(tmp_path / "in.wav", target, CURVE)
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.mp3"]


def test_bad_output_settings_are_named(tmp_path):
    write_tone(tmp_path / "in.wav")
    with pytest.raises(AudioError, match="Unknown output format 'xyz'"):
        apply_file(tmp_path / "in.wav", tmp_path / "out.wav", CURVE, out_format="xyz")
    with pytest.raises(AudioError, match="FLAC cannot hold subtype 'FLOAT'"):
        apply_file(tmp_path / "in.wav", tmp_path / "out.flac", CURVE, subtype="FLOAT")
    with pytest.raises(AudioError, match="folder .* does not exist"):
        apply_file(tmp_path / "in.wav", tmp_path / "nowhere" / "out.wav", CURVE)


def test_unsupported_sample_rate_in_a_file(tmp_path):
    write_tone(tmp_path / "low.wav", sample_rate=4000)
    with pytest.raises(AudioError, match="Sample rate 4000 Hz is not supported"):
        apply_file(tmp_path / "low.wav", tmp_path / "out.wav", CURVE)
