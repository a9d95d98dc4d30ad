"""Audio in without gaps: 32 ms frames queued as the microphone delivers them, also while a turn is handled.

A reader thread puts the microphone's frames on a bounded queue as the device delivers them;
whoever listens takes them off at its own pace and catches up after work (a recognition pass, a
turn) without losing a sample. A recording can be played into the same queue at the rate a
microphone delivers it, so that the benchmark and the tests run the listening loop as it runs live.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from assistant.voice.audio import (
    FRAME,
    FRAME_S,
    NO_MICROPHONE_HINT,
    SAMPLE_RATE,
    AudioError,
    check_microphone,
    import_sounddevice,
)

if TYPE_CHECKING:
    from sounddevice import InputStream

log = logging.getLogger(__name__)

MAX_BACKLOG_S = 30.0  # audio kept while nobody listens; older frames are dropped (and said so)


class Frames:
    """A bounded queue of float32 16 kHz frames of :data:`FRAME` samples; iterate to take them off."""

    def __init__(self, max_backlog_s: float = MAX_BACKLOG_S):
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=max(1, round(max_backlog_s / FRAME_S)))
        self._pending = np.zeros(0, dtype=np.float32)
        self.dropped = 0
        self.closed = False

    def put(self, block: np.ndarray, wait: bool = False) -> None:
        """Queue audio of any length. When full, the oldest frame goes, or with ``wait`` (a reader that
        the device paces) the caller waits for room until the queue is closed."""
        self._pending = np.concatenate([self._pending, np.asarray(block, dtype=np.float32).ravel()])
        usable = self._pending.size // FRAME * FRAME
        for frame in self._pending[:usable].reshape(-1, FRAME):
            while not self.closed:
                try:
                    self._queue.put(frame.copy(), timeout=0.2) if wait else self._queue.put_nowait(frame.copy())
                    break
                except queue.Full:
                    if not wait:
                        self._drop_oldest()
        self._pending = self._pending[usable:]

    def _drop_oldest(self) -> None:
        try:
            self._queue.get_nowait()
            self.dropped += 1
            if self.dropped == 1:
                log.warning("audio backlog over %g s: dropping the oldest frames", MAX_BACKLOG_S)
        except queue.Empty:
            pass

    def close(self) -> None:
        """No more audio: iteration ends once the queued frames are taken."""
        self.closed = True
        while True:
            try:
                self._queue.put_nowait(None)
                return
            except queue.Full:
                self._drop_oldest()

    def backlog_s(self) -> float:
        """Seconds of audio waiting to be taken: how far the listener is behind the microphone."""
        return self._queue.qsize() * FRAME_S

    def __iter__(self) -> Iterator[np.ndarray]:
        while (frame := self._queue.get()) is not None:
            yield frame


def play_into(frames: Frames, audio: np.ndarray, tail_s: float = 1.5, noise_db: float = -70.0, seed: int = 0) -> float:
    """Feed ``audio`` and then ``tail_s`` of faint noise into ``frames`` at real-time speed, one frame each
    32 ms as a microphone delivers it, from a thread; ``frames`` is closed at the end. Returns the
    ``time.perf_counter()`` of the start: frame ``i`` is delivered at ``start + (i + 1) * FRAME_S``."""
    rng = np.random.default_rng(seed)
    tail = rng.normal(0, 10 ** (noise_db / 20), int(tail_s * SAMPLE_RATE)).astype(np.float32)
    samples = np.concatenate([np.asarray(audio, dtype=np.float32).ravel(), tail])

    start = time.perf_counter()

    def run() -> None:
        for index in range(samples.size // FRAME):
            delay = start + (index + 1) * FRAME_S - time.perf_counter()  # a frame exists once it has been spoken
            if delay > 0:
                time.sleep(delay)
            frames.put(samples[index * FRAME : (index + 1) * FRAME])
        frames.close()

    threading.Thread(target=run, name="playback", daemon=True).start()
    return start


class MicrophoneStream:
    """The microphone as :class:`Frames`, recording from ``start()`` until ``stop()`` without pauses."""

    def __init__(self, device: int | str | None = None):
        self.device = device
        self.frames = Frames()
        self._stream: InputStream | None = None

    def check(self) -> None:
        check_microphone(self.device)

    def start(self) -> Frames:
        sd = import_sounddevice()
        try:
            self._stream = sd.InputStream(
                device=self.device, channels=1, dtype="int16", samplerate=SAMPLE_RATE, blocksize=FRAME
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as error:
            raise AudioError(f"cannot record from the microphone ({error}): {NO_MICROPHONE_HINT}") from None
        threading.Thread(
            target=self._read, args=(self._stream, sd.PortAudioError), name="microphone", daemon=True
        ).start()
        return self.frames

    def _read(self, stream: InputStream, closed: type[Exception]) -> None:
        """Blocking reads at the device's pace, into the queue; a listener 30 s behind holds the reader
        back, and the device says it overflowed."""
        while not self.frames.closed:
            try:
                data, overflowed = stream.read(FRAME)
            except closed:  # stopped
                return
            if overflowed:
                log.info("microphone: input overflow")
            self.frames.put(data[:, 0].astype(np.float32) / 32768, wait=True)

    def stop(self) -> None:
        self.frames.close()
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
