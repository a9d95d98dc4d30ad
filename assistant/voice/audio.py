"""Audio in: WAV files and the microphone, as float32 mono 16 kHz arrays (what Whisper wants).

Endpointing (:func:`segment`, and the listening loop) uses the Silero VAD model that
ships inside faster-whisper (ONNX, run frame by frame with its recurrent state carried over):
offline, ~0.06 ms per 32 ms frame, and it stays below threshold on white noise, where an energy
or WebRTC detector keeps triggering.
"""

from __future__ import annotations

import contextlib
import threading
import wave
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from assistant.config import VoiceConfig
from assistant.errors import VoxrouteError

if TYPE_CHECKING:
    from sounddevice import InputStream

SAMPLE_RATE = 16000
FRAME = 512  # Silero's window at 16 kHz: 32 ms
FRAME_S = FRAME / SAMPLE_RATE
SPEECH_THRESHOLD = 0.5  # Silero's speech probability; quiet is below it less 0.15 (its hysteresis)
WAV_MIN_RATE, WAV_MAX_RATE = 8000, 192000  # Hz: a 1 Hz header would be resampled 16,000-fold
WAV_MAX_CHANNELS = 8
WAV_WIDTHS = (1, 2, 3, 4)  # bytes per sample: 8-bit unsigned, 16/24/32-bit signed PCM
NO_MICROPHONE_HINT = 'use --audio FILE.wav to transcribe a recording, or --text "..." to type the command'


class AudioError(VoxrouteError, RuntimeError):
    """Audio could not be read or recorded; the message says what to do."""


def resample(audio: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """High-quality resampling with libsoxr (the soxr package)."""
    if rate == target or audio.size == 0:
        return audio.astype(np.float32, copy=False)
    import soxr

    resampled: np.ndarray = soxr.resample(audio.astype(np.float32, copy=False), rate, target)
    return resampled.astype(np.float32, copy=False)


def recording_too_long(seconds: float, limit: float) -> str:
    """The one line that refuses a recording over ``[voice] max_utterance_s``, read from a file or heard."""
    return f"the recording is {seconds:.1f} s long; the most is {limit:g} s ([voice] max_utterance_s)"


def read_wav(path: str | Path, max_s: float = VoiceConfig().max_utterance_s) -> np.ndarray:
    """Read a PCM WAV file as float32 mono 16 kHz in [-1, 1]; other rates and channels are converted.

    The header is checked before any sample is read, and a recording over ``max_s`` is refused: memory
    follows ``max_s``, never what the header claims. A tenth of a second at a time is read and made mono.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such audio file")
    if not path.is_file():  # a FIFO or a device would block or never end
        raise AudioError(f"{path}: not a regular file")
    convert = f"convert it with: sox {path} -r 16000 -c 1 -b 16 out.wav"
    try:
        with path.open("rb") as file, wave.open(file, "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            if not WAV_MIN_RATE <= rate <= WAV_MAX_RATE:
                raise AudioError(
                    f"{path}: a sample rate of {rate} Hz, outside {WAV_MIN_RATE}-{WAV_MAX_RATE} Hz; {convert}"
                )
            if not 1 <= channels <= WAV_MAX_CHANNELS:
                raise AudioError(f"{path}: {channels} channels, the most is {WAV_MAX_CHANNELS}; {convert}")
            if width not in WAV_WIDTHS:
                raise AudioError(f"{path}: {8 * width}-bit samples; 8, 16, 24 or 32-bit PCM is read; {convert}")
            held = (path.stat().st_size - file.tell()) // (width * channels)  # the data chunk starts here
            frames = min(wav.getnframes(), held)  # a header may claim more than a truncated file holds
            if frames / rate > max_s:
                raise AudioError(f"{path}: {recording_too_long(frames / rate, max_s)}")
            audio, done = np.empty(frames, dtype=np.float32), 0
            while done < frames and (data := wav.readframes(min(frames - done, rate // 10))):
                block = _mono(data, width, channels)
                audio[done : done + block.size] = block
                done += block.size
    except (wave.Error, EOFError) as error:
        raise AudioError(f"{path} is not a readable PCM WAV file ({error}); {convert}") from None
    except OSError as error:
        raise AudioError(f"{path} cannot be read: {error.strerror}") from None
    if done == 0:
        raise AudioError(f"{path} contains no audio")
    return resample(audio[:done], rate)


def _mono(data: bytes, width: int, channels: int) -> np.ndarray:
    """Interleaved little-endian PCM frames as float32 mono in [-1, 1]."""
    frames = len(data) // (width * channels)
    raw = np.frombuffer(data, dtype=np.uint8, count=frames * width * channels).reshape(-1, width)
    if width == 1:
        samples = raw[:, 0].astype(np.float32)
        samples -= 128
        samples /= 128
    else:
        # Signed PCM of any width: put the bytes at the top of an int32.
        padded = np.zeros((raw.shape[0], 4), dtype=np.uint8)
        padded[:, 4 - width :] = raw
        samples = padded.view("<i4")[:, 0].astype(np.float32)
        samples /= 2**31
    mono: np.ndarray = samples.reshape(frames, channels).mean(axis=1, dtype=np.float32)  # an array: axis is given
    return mono


def write_wav(path: str | Path, audio: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write float audio in [-1, 1] as 16-bit mono PCM."""
    pcm = np.clip(np.round(np.asarray(audio) * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())


def trim_silence(
    audio: np.ndarray, rate: int = SAMPLE_RATE, floor_db: float = -55.0, below_peak_db: float = 40.0, pad_s: float = 0.2
) -> np.ndarray:
    """Cut leading and trailing quiet (20 ms frames below both thresholds), keeping ``pad_s`` around.

    Whisper repeats or invents text over a long silent tail; all-quiet input gives an empty array.
    """
    hop = max(1, rate // 50)
    usable = audio.size // hop * hop
    if usable == 0:
        return audio[:0]
    rms = np.sqrt(np.mean(np.square(audio[:usable].reshape(-1, hop), dtype=np.float64), axis=1))
    threshold = max(10 ** (floor_db / 20), rms.max() * 10 ** (-below_peak_db / 20))
    loud = np.flatnonzero(rms > threshold)
    if loud.size == 0:
        return audio[:0]
    pad = int(pad_s * rate)
    return audio[max(0, loud[0] * hop - pad) : min(audio.size, (loud[-1] + 1) * hop + pad)]


MIX_FRAME = 2048  # samples per frame of the mix's energy comparison, as the Picovoice benchmark's mix.py


def max_frame_energy(pcm: np.ndarray, frame_length: int = MIX_FRAME) -> float:
    """The energy (sum of squares) of the loudest whole frame."""
    frames = pcm.size // frame_length
    if frames == 0:
        raise ValueError(f"{pcm.size} samples: shorter than one frame of {frame_length}")
    return float((pcm[: frames * frame_length].reshape(frames, frame_length) ** 2).sum(axis=1).max())


def noise_scale(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> float:
    """What the noise is multiplied by so that the loudest frames stand ``snr_db`` apart."""
    if speech.shape != noise.shape:
        raise ValueError(f"speech of {speech.size} samples, noise of {noise.size}: they must be as long")
    return float(np.sqrt(max_frame_energy(speech) / (max_frame_energy(noise) * 10 ** (snr_db / 10))))


def noise_segment(noise: np.ndarray, length: int, seed: str) -> np.ndarray:
    """``length`` samples of ``noise`` from a start drawn with ``seed``."""
    if length >= noise.size:
        raise ValueError(f"a recording of {length} samples is not shorter than the noise ({noise.size})")
    start = int(np.random.default_rng(zlib.crc32(seed.encode())).integers(0, noise.size - length))
    segment: np.ndarray = noise[start : start + length]
    return segment


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float, name: str) -> np.ndarray:
    """``speech`` with ``noise`` laid under it at ``snr_db``, scaled to half of full scale; the same ``name``
    and SNR give the same mix. The SNR compares the loudest :data:`MIX_FRAME` of each (not the mean power),
    as the Picovoice benchmark mixes: the barista benchmark and the heard training data mix alike."""
    segment = noise_segment(noise, speech.size, f"{name}@{snr_db:g}")
    return half_scale(speech + noise_scale(speech, segment, snr_db) * segment)


def half_scale(audio: np.ndarray) -> np.ndarray:
    """``audio`` as float32 with its peak at half of full scale, as the Picovoice benchmark leaves its mixes."""
    peak = np.abs(audio).max()
    scaled: np.ndarray = (audio / (2 * peak) if peak > 0 else audio).astype(np.float32)
    return scaled


class SpeechDetector:
    """Silero VAD run one 512-sample frame at a time; returns the speech probability of each frame."""

    def __init__(self) -> None:
        import onnxruntime
        from faster_whisper.utils import get_assets_path

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = options.intra_op_num_threads = 1
        options.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(
            str(Path(get_assets_path()) / "silero_vad_v6.onnx"),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, 64), dtype=np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        frame = np.asarray(frame, dtype=np.float32).reshape(1, FRAME)
        window = np.concatenate([self._context, frame], axis=1)
        probability, self._h, self._c = self._session.run(None, {"input": window, "h": self._h, "c": self._c})
        self._context = frame[:, -64:]
        return float(probability.ravel()[0])


class Utterance:
    """One utterance as Silero hears it, frame by frame: its frames from ``pad_s`` before the first
    voiced one, how many were voiced, and how many have been quiet since the last voiced one
    (quiet is below ``threshold - 0.15``: Silero's hysteresis)."""

    def __init__(self, detector: SpeechDetector, threshold: float = SPEECH_THRESHOLD, pad_s: float = 0.3):
        self.detector, self.threshold = detector, threshold
        self.pad = max(1, round(pad_s / FRAME_S))
        self._pre_roll: deque[np.ndarray] = deque(maxlen=self.pad)
        self.reset()

    def reset(self) -> None:
        """Forget everything heard, the detector's state included."""
        self.detector.reset()
        self._pre_roll.clear()
        self.clear()

    def clear(self) -> None:
        """End the utterance; the next voiced frame starts another."""
        self.frames: list[np.ndarray] = []
        self.voiced = self.quiet = self.last_voiced = 0  # last_voiced: frames up to the last voiced one

    def hear(self, frame: np.ndarray) -> bool | None:
        """Take one frame: whether it is speech, or None while no utterance has started."""
        probability = self.detector(frame)
        speech = probability >= self.threshold
        if not self.frames:
            if not speech:
                self._pre_roll.append(frame)
                return None
            self.frames = [*self._pre_roll, frame]
            self._pre_roll.clear()
        else:
            self.frames.append(frame)
        if speech:
            self.voiced, self.quiet, self.last_voiced = self.voiced + 1, 0, len(self.frames)
        elif probability < self.threshold - 0.15:
            self.quiet += 1
        return speech

    @property
    def voiced_s(self) -> float:
        return self.voiced * FRAME_S

    @property
    def quiet_s(self) -> float:
        return self.quiet * FRAME_S

    @property
    def seconds(self) -> float:
        return len(self.frames) * FRAME_S


def frames_of(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """16 kHz float blocks of any sizes as frames of :data:`FRAME` samples."""
    pending = np.zeros(0, dtype=np.float32)
    for block in blocks:
        pending = np.concatenate([pending, np.asarray(block, dtype=np.float32).ravel()])
        usable = pending.size // FRAME * FRAME
        yield from pending[:usable].reshape(-1, FRAME)
        pending = pending[usable:]


def segment(
    blocks: Iterable[np.ndarray],
    detector: SpeechDetector | None = None,
    threshold: float = SPEECH_THRESHOLD,
    silence_s: float = 0.7,
    min_speech_s: float = 0.25,
    max_s: float = 15.0,
    pad_s: float = 0.3,
) -> Iterator[np.ndarray]:
    """Split a stream of 16 kHz float blocks (any sizes) into utterances.

    An utterance starts at a frame with speech probability >= ``threshold`` (with ``pad_s`` of
    audio before it) and ends after ``silence_s`` below ``threshold - 0.15`` (Silero's hysteresis),
    or at ``max_s``. Blips with less than ``min_speech_s`` of speech are dropped.
    """
    heard = Utterance(detector or SpeechDetector(), threshold, pad_s)

    def utterance() -> np.ndarray | None:
        kept = len(heard.frames) - max(0, heard.quiet - heard.pad)
        return np.concatenate(heard.frames[:kept]) if heard.voiced_s >= min_speech_s else None

    for frame in frames_of(blocks):
        if heard.hear(frame) is None:
            continue
        if heard.quiet_s >= silence_s or heard.seconds >= max_s:
            if (done := utterance()) is not None:
                yield done
            heard.clear()
    if heard.frames and (done := utterance()) is not None:
        yield done


def import_sounddevice() -> ModuleType:
    """sounddevice, or an AudioError when the PortAudio library itself is missing."""
    try:
        import sounddevice
    except OSError as error:  # the PortAudio shared library is missing
        raise AudioError(
            f"audio devices are unavailable ({error}): install libportaudio2, or {NO_MICROPHONE_HINT}"
        ) from None
    module: ModuleType = sounddevice  # sounddevice has no type information: mypy sees Any
    return module


def list_devices() -> str:
    """A readable table of the input devices PortAudio sees (``*`` marks the default)."""
    sd = import_sounddevice()
    try:
        devices = sd.query_devices()
        default = sd.default.device[0]
    except sd.PortAudioError as error:
        return f"PortAudio found no audio devices ({error}): {NO_MICROPHONE_HINT}"
    inputs = [device for device in devices if device["max_input_channels"] > 0]
    if not inputs:
        return f"PortAudio found no microphone: {NO_MICROPHONE_HINT}"
    apis = [api["name"] for api in sd.query_hostapis()]
    rows = [f"{'':1} {'id':>3}  {'name':<40} {'api':<12} {'channels':>8} {'rate':>7}"]
    for device in inputs:
        mark = "*" if device["index"] == default else ""
        rows.append(
            f"{mark:1} {device['index']:>3}  {device['name'][:40]:<40} {apis[device['hostapi']][:12]:<12} "
            f"{device['max_input_channels']:>8} {device['default_samplerate']:>7.0f}"
        )
    return "\n".join(rows)


def check_microphone(device: int | str | None) -> None:
    """Raise AudioError (with the --audio/--text hint) when ``device`` cannot record 16 kHz mono:
    cheap, so a caller can find out before it loads models for nothing."""
    sd = import_sounddevice()
    try:
        sd.check_input_settings(device, channels=1, dtype="int16", samplerate=SAMPLE_RATE)
    except (sd.PortAudioError, ValueError) as error:
        raise AudioError(f"cannot record from the microphone ({error}): {NO_MICROPHONE_HINT}") from None


class PushToTalk:
    """Records spoken commands at 16 kHz mono between two presses of Enter: ``for audio in PushToTalk().utterances()``.

    (Hands-free listening takes frames from :class:`assistant.voice.capture.MicrophoneStream`.)
    The stream runs only while the user records.
    """

    def __init__(
        self, device: int | str | None = None, *, max_s: float = 15.0, prompt: Callable[[str], object] = input
    ) -> None:
        self.device, self.max_s, self.prompt = device, max_s, prompt

    def check(self) -> None:
        check_microphone(self.device)

    def utterances(self) -> Iterator[np.ndarray]:
        """Yield each recording as float32 16 kHz; AudioError (with the --audio/--text hint) at the first
        step when there is no usable microphone."""
        self.check()
        sd = import_sounddevice()
        try:
            stream = sd.InputStream(
                device=self.device, channels=1, dtype="int16", samplerate=SAMPLE_RATE, blocksize=FRAME
            )
        except (sd.PortAudioError, ValueError) as error:
            raise AudioError(f"cannot record from the microphone ({error}): {NO_MICROPHONE_HINT}") from None
        with stream:
            stream.stop()
            yield from self._push_to_talk(stream)

    @staticmethod
    def _blocks(stream: InputStream) -> Iterator[np.ndarray]:
        """Blocking reads pace the loop at the device's speed (no queue to overflow)."""
        while True:
            data, _overflowed = stream.read(FRAME)
            yield data[:, 0].astype(np.float32) / 32768

    def _push_to_talk(self, stream: InputStream) -> Iterator[np.ndarray]:
        while True:
            try:
                self.prompt("Press Enter to talk (Ctrl-D to quit) ")
            except EOFError:
                return
            stopped = threading.Event()
            threading.Thread(target=self._wait_for_enter, args=(stopped,), daemon=True).start()
            stream.start()
            blocks, limit = [], int(self.max_s * SAMPLE_RATE / FRAME)
            for block in self._blocks(stream):
                blocks.append(block)
                if stopped.is_set() or len(blocks) >= limit:
                    break
            stream.stop()
            stopped.wait()  # past max_s the recording is capped, but the user still ends it with Enter
            audio = trim_silence(np.concatenate(blocks))
            if audio.size:
                yield audio

    def _wait_for_enter(self, stopped: threading.Event) -> None:
        with contextlib.suppress(EOFError):
            self.prompt("Recording... press Enter to stop ")
        stopped.set()
