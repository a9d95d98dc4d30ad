"""Speech to text end to end from real audio (espeak-ng speech made here) through both Whisper
backends, the bundled samples, and the CTranslate2 -> openai-whisper checkpoint conversion."""

from __future__ import annotations

import wave

import numpy as np
import pytest
import torch

from assistant.voice.audio import read_wav
from assistant.voice.samples import SAMPLES_DIR, load_samples
from assistant.voice.stt import (
    MAX_TOKENS,
    FasterWhisperTranscriber,
    SpeechGate,
    _prepare,
    load_transcriber,
    without_closing_punctuation,
    without_repeats,
    word_error_rate,
)
from assistant.voice.whisper_convert import ConversionError, default_checkpoint, main, read_ct2_model
from tests.audio_fixtures import SENTENCES, silence, speak_to_array, white_noise

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private VOXROUTE_CACHE, so the offline default conversion runs here and not in ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("cache")
        patch.setenv("VOXROUTE_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def faster(cache):
    return load_transcriber("faster-whisper")


@pytest.fixture(scope="module")
def reference(cache):
    """openai-whisper with its offline default: the bundled tiny.en converted into the cache."""
    return load_transcriber("openai-whisper")


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> list[np.ndarray]:
    folder = tmp_path_factory.mktemp("spoken")
    return [speak_to_array(text, folder, f"s{i}") for i, text in enumerate(SENTENCES)]


@pytest.mark.parametrize("backend", ["faster", "reference"])
def test_espeak_speech_transcribes_back(backend, spoken, request):
    transcriber = request.getfixturevalue(backend)
    texts = [transcriber.transcribe(audio) for audio in spoken]
    assert all(isinstance(text, str) for text in texts)
    assert word_error_rate(list(SENTENCES), texts) <= 0.1, texts


@pytest.mark.parametrize("backend", ["faster", "reference"])
def test_long_silent_tail_does_not_repeat_the_sentence(backend, spoken, request):
    transcriber = request.getfixturevalue(backend)
    text = transcriber.transcribe(np.concatenate([silence(1), spoken[0], silence(20)]))
    assert word_error_rate([SENTENCES[0]], [text]) <= 0.1, text


@pytest.mark.parametrize("backend", ["faster", "reference"])
def test_silence_gives_empty_text(backend, request):
    transcriber = request.getfixturevalue(backend)
    assert transcriber.transcribe(silence(3)) == ""
    assert transcriber.transcribe(np.zeros(0, dtype=np.float32)) == ""


@pytest.mark.parametrize("backend", ["faster", "reference"])
def test_white_noise_does_not_crash_and_says_little(backend, request):
    transcriber = request.getfixturevalue(backend)
    text = transcriber.transcribe(white_noise(3, 0.1))
    assert isinstance(text, str) and len(text.split()) <= 3, text


def test_bundled_samples_transcribe_to_their_text(faster):
    samples = load_samples()
    texts = [faster.transcribe(read_wav(sample["file"])) for sample in samples]
    assert word_error_rate([sample["text"] for sample in samples], texts) <= 0.05, texts


def test_bundled_samples_are_small_16k_mono_and_cover_every_skill():
    from assistant.routing.calls import parse_call

    samples = load_samples()
    assert 20 <= len(samples) <= 30
    assert sum(path.stat().st_size for path in SAMPLES_DIR.iterdir()) < 3_000_000
    for sample in samples:
        with wave.open(sample["file"], "rb") as file:
            assert (file.getframerate(), file.getnchannels(), file.getsampwidth()) == (16000, 1, 2)
            assert 1.0 <= file.getnframes() / 16000 <= 5.0
    skills = {parse_call(sample["call"]).name for sample in samples}
    assert skills == {"weather", "timecheck", "timer", "run_app", "notes", "math", "news", "story", "ask", "other"}


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="faster-whisper, openai-whisper"):
        load_transcriber("vosk")


def test_offline_default_is_converted_once_into_the_cache(reference, cache):
    assert default_checkpoint() == cache / "whisper" / "tiny.en-from-ct2.pt"
    assert default_checkpoint().is_file()


def test_converter_cli_writes_a_loadable_checkpoint_atomically(tmp_path, spoken):
    import whisper

    out = tmp_path / "models" / "tiny.en.pt"
    main(["--out", str(out)])
    assert [path.name for path in out.parent.iterdir()] == ["tiny.en.pt"]  # no temp file left behind
    checkpoint = torch.load(out, weights_only=True)
    assert checkpoint["dims"] == {
        "n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 384, "n_audio_head": 6, "n_audio_layer": 4,
        "n_vocab": 51864, "n_text_ctx": 448, "n_text_state": 384, "n_text_head": 6, "n_text_layer": 4,
    }  # fmt: skip
    assert all(tensor.dtype == torch.float32 for tensor in checkpoint["model_state_dict"].values())
    model = whisper.load_model(str(out), device="cpu")
    result = whisper.transcribe(model, spoken[3], language="en", beam_size=5, temperature=0.0, fp16=False)
    assert word_error_rate([SENTENCES[3]], [result["text"]]) <= 0.1, result["text"]


def test_converter_rejects_a_file_that_is_not_a_ctranslate2_model(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x06\x00\x00\x00" + b"\xff" * 64)
    with pytest.raises(ConversionError, match=r"model\.bin"):
        read_ct2_model(path)


@pytest.mark.parametrize(
    ("heard", "kept"),
    [
        ("Shut up! Shut up!", "Shut up!"),
        ("Open Firefox. Open Firefox. Open", "Open Firefox."),
        (
            "Set a timer for an hour and a half. set a timer for an hour and a half",
            "Set a timer for an hour and a half.",
        ),
        (
            "add a note call the landlord, add a note pay the rent",
            "add a note call the landlord, add a note pay the rent",
        ),
        ("what time is it", "what time is it"),
        (
            "I want a latte run party time! run party time! run party time! run party time!",
            "I want a latte run party time!",
        ),
        ("a b a b a b then the rest", "a b then the rest"),
        ("very very good", "very very good"),
    ],
)
def test_a_transcript_that_only_says_itself_again_is_kept_once(heard: str, kept: str) -> None:
    assert without_repeats(heard) == kept


@pytest.mark.parametrize(
    ("heard", "routed"),
    [
        ("Set a timer for.", "Set a timer for"),
        ("What time is it in Tokyo?", "What time is it in Tokyo"),
        ("Open the...", "Open the"),
        ("Shut up!", "Shut up"),
        ("Weather in St. Louis", "Weather in St. Louis"),
        ("Dr. Who, 3.5 minutes.", "Dr. Who, 3.5 minutes"),
        (".", ""),
    ],
)
def test_the_router_is_given_a_transcript_without_its_closing_punctuation(heard: str, routed: str) -> None:
    assert without_closing_punctuation(heard) == routed


def test_the_short_encoder_context_reads_the_bundled_commands_as_the_whole_window_does() -> None:
    """The context that follows the audio (at least 8 s) against Whisper's 30 s window, on the 24 bundled recordings."""
    samples = load_samples()
    audio = [read_wav(sample["file"]) for sample in samples]
    short, whole = FasterWhisperTranscriber(context="audio"), FasterWhisperTranscriber(context="30s")
    references = [sample["text"] for sample in samples]
    assert (
        word_error_rate(references, [short.transcribe(a) for a in audio])
        <= word_error_rate(references, [whole.transcribe(a) for a in audio]) + 0.01
    )


def test_only_speech_reaches_whisper_and_its_text_is_bounded_by_the_speech_heard(spoken) -> None:
    """Silero VAD gates recognition: noise and silence give no text at all, and a command's text
    may hold at most a few tokens per second of speech (a runaway loop cannot fill the window)."""
    gate = SpeechGate()
    assert _prepare(white_noise(3.0, level=0.3), gate) is None
    assert _prepare(silence(3.0), gate) is None
    prepared = _prepare(spoken[1], gate)  # "Set a timer for two hours.", about 2 s
    assert prepared is not None
    audio, most_tokens = prepared
    assert 16 < most_tokens < MAX_TOKENS // 4
    assert most_tokens < 16 + 10 * audio.size / 16000 + 1
