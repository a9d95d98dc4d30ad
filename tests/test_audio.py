"""Audio in: WAV reading and its fault paths, silence trimming, VAD endpointing, and the real
sounddevice capture path fed by a WAV through an ALSA capture device."""

from __future__ import annotations

import struct
import subprocess
import time
import tracemalloc
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.voice.audio import (
    SAMPLE_RATE,
    WAV_MAX_CHANNELS,
    WAV_MAX_RATE,
    WAV_MIN_RATE,
    AudioError,
    SpeechDetector,
    list_devices,
    read_wav,
    resample,
    segment,
    trim_silence,
    write_wav,
)
from assistant.voice.stt import word_error_rate
from tests.audio_fixtures import SENTENCES, run_python, run_with_capture_file, silence, speak_to_array, white_noise


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> list[np.ndarray]:
    folder = tmp_path_factory.mktemp("speech")
    return [speak_to_array(text, folder, f"s{i}") for i, text in enumerate(SENTENCES[:2])]


@pytest.fixture(scope="module")
def detector() -> SpeechDetector:
    return SpeechDetector()


def _write_pcm(path: Path, samples: np.ndarray, rate: int, width: int) -> Path:
    """Write interleaved float samples (frames x channels) as little-endian PCM of ``width`` bytes."""
    scaled = np.round(samples * (2 ** (8 * width - 1) - 1)).astype("<i4")
    data = scaled.view(np.uint8).reshape(-1, 4)[:, :width] if width > 1 else None
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(samples.shape[1])
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(data.tobytes() if data is not None else (scaled + 128).astype(np.uint8).tobytes())
    return path


def test_wav_round_trip(tmp_path):
    audio = np.sin(np.linspace(0, 200, SAMPLE_RATE)).astype(np.float32) * 0.5
    write_wav(tmp_path / "a.wav", audio)
    back = read_wav(tmp_path / "a.wav")
    assert back.dtype == np.float32 and back.shape == audio.shape
    assert np.abs(back - audio).max() < 1e-4


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_stereo_44k_any_width_is_resampled_to_16k_mono(tmp_path, width):
    rate, seconds = 44100, 0.5
    t = np.arange(int(rate * seconds)) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([tone, tone], axis=1)
    audio = read_wav(_write_pcm(tmp_path / "stereo.wav", stereo, rate, width))
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size == int(SAMPLE_RATE * seconds)
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.argmax(spectrum) * SAMPLE_RATE / audio.size == pytest.approx(440, abs=2)
    assert np.abs(audio).max() == pytest.approx(0.5, abs=0.03)


def test_resampled_speech_reads_back_like_the_original(tmp_path, speech):
    """A 44.1 kHz stereo copy of real speech reads back close to the 16 kHz original."""
    original = speech[0]
    upsampled = resample(original, SAMPLE_RATE, 44100)
    audio = read_wav(_write_pcm(tmp_path / "cd.wav", np.stack([upsampled, upsampled], axis=1), 44100, 2))
    assert audio.size == original.size
    assert np.corrcoef(audio, original)[0, 1] > 0.99


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(AudioError, match=r"nope\.wav: no such audio file"):
        read_wav(tmp_path / "nope.wav")


def test_corrupt_wav_is_a_clear_error(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage that ends early")
    with pytest.raises(AudioError, match=r"corrupt\.wav is not a readable PCM WAV file"):
        read_wav(path)


def test_non_wav_file_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are not audio samples\n")
    with pytest.raises(AudioError, match=r"notes\.wav is not a readable PCM WAV file.*sox"):
        read_wav(path)


def test_float_wav_is_rejected_with_a_conversion_hint(tmp_path):
    path = tmp_path / "float.wav"
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-e", "floating-point", "-b", "32", str(path), "synth", "0.2", "sine", "440"],
        check=True,
    )
    with pytest.raises(AudioError, match=r"float\.wav is not a readable PCM WAV file.*sox"):
        read_wav(path)


def test_empty_wav_is_a_clear_error(tmp_path):
    write_wav(tmp_path / "empty.wav", np.zeros(0))
    with pytest.raises(AudioError, match=r"empty\.wav contains no audio"):
        read_wav(tmp_path / "empty.wav")


HEADER = {"nchannels": (22, "<H"), "framerate": (24, "<I"), "bits": (34, "<H"), "data_bytes": (40, "<I")}


def forged_wav(path: Path, seconds: float = 1.0, rate: int = SAMPLE_RATE, channels: int = 1, **fields: int) -> Path:
    """A real 16-bit WAV of ``seconds`` of a tone, then header fields overwritten in place, as a broken or hostile
    file has them (``HEADER``: the offsets in the 44-byte header the wave module writes)."""
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)
    _write_pcm(path, np.repeat(tone[:, None], channels, axis=1), rate, 2)
    with path.open("r+b") as file:
        for name, value in fields.items():
            offset, layout = HEADER[name]
            file.seek(offset)
            file.write(struct.pack(layout, value))
    return path


def _peak_bytes(read) -> tuple[np.ndarray | AudioError, int]:
    """What ``read()`` returned or raised, and the most memory Python and numpy held meanwhile."""
    tracemalloc.start()
    try:
        result = read()
    except AudioError as error:
        result = error
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"framerate": 0}, "a sample rate of 0 Hz, outside 8000-192000 Hz; convert it with: sox"),
        ({"framerate": 1}, "a sample rate of 1 Hz, outside 8000-192000 Hz"),
        ({"framerate": 4_000_000_000}, "a sample rate of 4000000000 Hz, outside 8000-192000 Hz"),
        ({"nchannels": 1000}, f"1000 channels, the most is {WAV_MAX_CHANNELS}; convert it with: sox"),
        ({"bits": 64}, "64-bit samples; 8, 16, 24 or 32-bit PCM is read; convert it with: sox"),
    ],
    ids=["0-hz", "1-hz", "4-ghz", "1000-channels", "64-bit"],
)
def test_a_header_out_of_range_is_one_line_before_any_sample_is_read(tmp_path, fields, message):
    path = forged_wav(tmp_path / "forged.wav", **fields)
    refused, peak = _peak_bytes(lambda: read_wav(path))
    assert isinstance(refused, AudioError) and str(refused).startswith(f"{path}: {message}")
    assert "\n" not in str(refused) and peak < 1_000_000  # it was 3.2 GB at 1 Hz, resampled 16,000-fold


def test_the_rates_at_either_end_are_read(tmp_path):
    for rate in (WAV_MIN_RATE, WAV_MAX_RATE):
        audio = read_wav(forged_wav(tmp_path / f"{rate}.wav", seconds=0.5, rate=rate))
        assert audio.size == SAMPLE_RATE // 2 and np.abs(audio).max() == pytest.approx(0.3, abs=0.03)


def test_an_hour_long_recording_is_refused_from_its_header_in_little_memory(tmp_path):
    """A real hour of 48 kHz stereo (a sparse file of 691 MB): refused before a sample is read; it took 5.4 GB."""
    path = forged_wav(tmp_path / "hour.wav", seconds=0.0, rate=48000, channels=2, data_bytes=3600 * 48000 * 4)
    with path.open("r+b") as file:
        file.truncate(44 + 3600 * 48000 * 4)
    start = time.monotonic()
    refused, peak = _peak_bytes(lambda: read_wav(path, max_s=15))
    assert str(refused) == f"{path}: the recording is 3600.0 s long; the most is 15 s ([voice] max_utterance_s)"
    assert peak < 1_000_000 and time.monotonic() - start < 10
    assert isinstance(read_wav(forged_wav(tmp_path / "short.wav", seconds=2.0), max_s=2.0), np.ndarray)  # the limit


def test_a_header_that_claims_more_than_the_file_holds_reads_what_it_holds(tmp_path):
    """A truncated file, and a streamed one (data size 0xFFFFFFFF, 6 hours at 48 kHz stereo): memory follows
    the samples there are, not the claim."""
    for name, claim in (("truncated.wav", 10 * SAMPLE_RATE * 2), ("streamed.wav", 0xFFFFFFFF)):
        path = forged_wav(tmp_path / name, seconds=1.0, data_bytes=claim)
        audio, peak = _peak_bytes(lambda path=path: read_wav(path, max_s=15))
        assert isinstance(audio, np.ndarray), audio  # read, not refused
        assert audio.size == SAMPLE_RATE and np.abs(audio).max() == pytest.approx(0.3, abs=0.01)
        assert peak < 2_000_000


def test_a_long_recording_is_read_a_little_at_a_time(tmp_path):
    """14 s of 48 kHz 8-channel 16-bit PCM: 10.8 MB of samples in the file, never all held at once (the mono
    float32 samples at 48 kHz are 2.7 MB)."""
    path = forged_wav(tmp_path / "eight.wav", seconds=14.0, rate=48000, channels=8)
    audio, peak = _peak_bytes(lambda: read_wav(path, max_s=15))
    assert isinstance(audio, np.ndarray), audio  # read, not refused
    assert audio.size == 14 * SAMPLE_RATE and np.abs(audio).max() == pytest.approx(0.3, abs=0.01)
    assert peak < path.stat().st_size / 2


def test_trim_silence_keeps_speech_and_a_little_padding(speech):
    padded = np.concatenate([silence(2), speech[0], silence(3)])
    trimmed = trim_silence(padded)
    assert speech[0].size * 0.8 < trimmed.size < speech[0].size + 0.6 * SAMPLE_RATE
    assert trim_silence(silence(2)).size == 0
    assert trim_silence(np.zeros(10, dtype=np.float32)).size == 0


def test_vad_yields_one_utterance_per_command(speech, detector):
    stream = np.concatenate([silence(0.5), speech[0], silence(1.0), speech[1], silence(1.0)])
    blocks = np.array_split(stream, 97)  # odd block sizes, as a device might deliver
    utterances = list(segment(blocks, detector))
    assert len(utterances) == 2
    for utterance, spoken in zip(utterances, speech, strict=True):
        assert abs(utterance.size - spoken.size) < 0.8 * SAMPLE_RATE


@pytest.mark.parametrize(
    "audio", [silence(3), white_noise(3, 0.1), white_noise(3, 0.3, seed=1)], ids=["silence", "noise", "loud-noise"]
)
def test_vad_ignores_silence_and_noise(audio, detector):
    assert list(segment([audio], detector)) == []


def test_vad_drops_a_click(detector):
    click = silence(2)
    click[SAMPLE_RATE : SAMPLE_RATE + 80] = 0.9
    assert list(segment([click], detector)) == []


def test_vad_cuts_endless_speech_at_max_length(speech, detector):
    babble = np.concatenate([speech[0], speech[1]] * 3)
    utterances = list(segment([babble], detector, max_s=4.0))
    assert len(utterances) >= 2
    assert all(u.size <= 4.0 * SAMPLE_RATE for u in utterances)


_NO_DEVICE = """
import json
from assistant.voice.audio import AudioError, PushToTalk, list_devices
try:
    next(PushToTalk().utterances())
    error = None
except AudioError as exc:
    error = str(exc)
print(json.dumps({"error": error, "devices": list_devices()}))
"""


def test_no_microphone_points_to_audio_and_text_options(tmp_path):
    asoundrc = tmp_path / "asoundrc"
    asoundrc.write_text("pcm.!default { type hw card 99 }\nctl.!default { type hw card 99 }\n")
    result = run_python(_NO_DEVICE, {"ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{asoundrc}"})
    assert result["error"] and "--audio FILE.wav" in result["error"] and '--text "..."' in result["error"]
    assert isinstance(result["devices"], str)


def test_list_devices_without_a_sound_card_says_what_to_do():
    if Path("/proc/asound/cards").is_file() and "no soundcards" not in Path("/proc/asound/cards").read_text():
        pytest.skip("this machine has a sound card")
    assert "--audio FILE.wav" in list_devices()


_CAPTURE = """
import json
from assistant.voice.audio import list_devices, segment
from assistant.voice.capture import MicrophoneStream
from assistant.voice.stt import load_transcriber
stt = load_transcriber()
microphone = MicrophoneStream()
microphone.check()
utterances = segment(microphone.start())
texts = [stt.transcribe(next(utterances)) for _ in range(2)]
microphone.stop()
print(json.dumps({"texts": texts, "devices": list_devices()}))
"""


def test_microphone_capture_endpoints_and_transcribes(tmp_path, speech):
    """The real PortAudio/ALSA path: a capture device plays two commands into the frame queue; VAD yields each one."""
    audio = np.concatenate([silence(0.5), speech[0], silence(1.0), speech[1], silence(2.0)])
    result = run_with_capture_file(audio, tmp_path, _CAPTURE)
    assert "default" in result["devices"]
    assert word_error_rate(list(SENTENCES[:2]), result["texts"]) <= 0.1


_PUSH_TO_TALK = """
import json, time
from assistant.voice.audio import PushToTalk
from assistant.voice.stt import load_transcriber
asked = []
def prompt(message):
    asked.append(message)
    if message.startswith("Recording"):
        time.sleep(0.5)  # "Enter" to stop, after a while
    elif len(asked) > 1:
        raise EOFError  # Ctrl-D at the second "Press Enter to talk"
recordings = list(PushToTalk(max_s=8.0, prompt=prompt).utterances())
print(json.dumps({"texts": [load_transcriber().transcribe(audio) for audio in recordings], "asked": asked}))
"""


def test_push_to_talk_records_between_two_presses_of_enter(tmp_path, speech):
    result = run_with_capture_file(np.concatenate([silence(0.3), speech[0], silence(2.0)]), tmp_path, _PUSH_TO_TALK)
    assert len(result["texts"]) == 1
    assert word_error_rate([SENTENCES[0]], result["texts"]) <= 0.1
    assert result["asked"][0].startswith("Press Enter")
