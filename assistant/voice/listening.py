"""Turn-taking: recognise while the user speaks, and end the turn as soon as the request is complete.

Frames come from :class:`assistant.voice.capture.Frames` (a microphone, or a recording played at
real-time speed). Silero VAD marks each 32 ms frame. At the first short pause (``PASS_AFTER_S``)
the audio so far is recognised and routed ahead with the unfinished mark allowed: the router says
whether "set a timer for" is a whole request. After ``early_s`` of pause a turn whose request is
complete (by the router, Smart Turn or both: ``turn_end``) ends at once, its transcript and calls
ready; otherwise the ``silence_s`` window ends it, as before. The pause's pass is reused when no
speech came after it, so the turn is rarely recognised twice.

After an early end the loop keeps listening through the rest of the silence window: if the
speaker goes on, the turn is told so (skills that act have waited for this) and the whole
utterance, first part included, is heard again as one turn. Nothing said is lost: capture never
pauses, and a turn is handled in another thread while frames keep queueing.

Recognising takes CPU that decoding also needs. When passes take longer than the silence window,
so that they cannot end a turn sooner, listening ahead turns itself off and the loop works as
before (recognise after the silence window), saying so in the log (``-v``); it tries again ten
turns later, in case the machine was only busy for a while.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from assistant.config import VoiceConfig
from assistant.pipeline import Ahead, Assistant, Turn
from assistant.voice.audio import SAMPLE_RATE, SpeechDetector, Utterance
from assistant.voice.barge_in import BargeIn
from assistant.voice.tts import Speaker

log = logging.getLogger(__name__)

THRESHOLD = 0.5  # Silero's speech probability; quiet is below THRESHOLD - 0.15 (its hysteresis)
PASS_AFTER_S = 0.096  # the pause (3 frames) after which what was said so far is recognised and routed
PRE_ROLL_S = 0.3  # audio kept before the first voiced frame
MIN_SPEECH_S = 0.25  # shorter voiced stretches are blips
SLOW_PASSES = 2  # passes in a row slower than the silence window before listening ahead turns off
RETRY_AFTER_TURNS = 10  # turns after which it tries again (the machine may have been busy for a while)
SMART_TURN_COMPLETE = 0.5


@dataclass
class Heard:
    """One turn's audio and what was made of it while listening."""

    audio: np.ndarray
    transcript: str | None = None  # recognised while listening; None: recognise it now
    ahead: Ahead | None = None  # routed while listening, on exactly this transcript
    early: bool = False  # ended at a short pause, before the silence window
    last_voiced: int = 0  # index of the last voiced frame in the stream (for the latency benchmark)
    _settled: threading.Event = field(default_factory=threading.Event)
    _resumed: bool = False

    def went_on(self) -> bool:
        """Wait until the silence window has passed or speech resumed; True if it resumed."""
        self._settled.wait()
        return self._resumed

    def settle(self, resumed: bool) -> None:
        self._resumed = resumed
        self._settled.set()


@dataclass
class _Pass:
    """A recognition (and routing) of the utterance up to one pause."""

    voiced_upto: int  # frames of the utterance it covers, up to its last voiced frame
    transcript: str
    ahead: Ahead | None
    complete: bool  # judged a whole request by turn_end's judge


class Listener:
    """Consumes frames and yields :class:`Heard` turns. It must run in a thread of its own (see
    :func:`listen`): a turn that ended early is settled by the frames that come after it."""

    def __init__(self, assistant: Assistant, voice: VoiceConfig, detector: SpeechDetector | None = None,
                 smart_turn: Callable[[np.ndarray], float] | None = None, speaker: Speaker | None = None):
        self.assistant, self.voice = assistant, voice
        self.detector = detector or SpeechDetector()
        self.speaker = speaker
        self.barge_in = BargeIn(_Recogniser(assistant), voice.wake_word)
        self.smart_turn = smart_turn
        if voice.turn_end in ("smart-turn", "both") and smart_turn is None:
            from assistant.voice.smart_turn import SmartTurn

            self.smart_turn = SmartTurn().complete
        self.ahead = voice.listen_ahead
        self._slow = 0
        self._off_for = 0  # turns left before listening ahead, turned off as too slow, tries again

    def heard(self, frames: Iterable[np.ndarray]) -> Iterator[Heard]:
        said = Utterance(self.detector, THRESHOLD, PRE_ROLL_S)
        passed: _Pass | None = None
        settling: Heard | None = None  # a turn that ended early, while the silence window runs on
        index, interrupted = -1, False
        for index, frame in enumerate(frames):
            if self.speaker is not None and self.speaker.speaking:  # its own voice is never a turn; "stop" is heard
                if not interrupted:
                    self.barge_in.reset()
                    if settling is not None:  # a ring during the window: what was heard stands
                        settling.settle(resumed=False)
                    passed, settling, interrupted = None, None, True
                if self.barge_in.hears_stop(frame, self.speaker.saying):
                    log.info("heard you say stop")
                    self.speaker.stop()
                continue
            if interrupted:
                said.reset()
                interrupted = False
            speech = said.hear(frame)
            if speech is None:
                continue
            if speech and settling is not None:  # the speaker went on: hear it all again as one turn
                log.info("you went on after the pause: hearing the whole request again")
                settling.settle(resumed=True)
                settling, passed = None, None
            last = index - (len(said.frames) - said.last_voiced)  # the last voiced frame in the stream
            if settling is not None:
                if said.quiet_s >= self.voice.silence_s:
                    settling.settle(resumed=False)
                    settling, passed = None, None
                    said.clear()
                continue
            if (self.ahead and said.quiet and said.quiet_s >= PASS_AFTER_S and said.voiced_s >= MIN_SPEECH_S
                    and (passed is None or passed.voiced_upto != said.last_voiced)):
                passed = self._pass(said.frames[:said.last_voiced], said.last_voiced)
            if (passed is not None and passed.complete and passed.voiced_upto == said.last_voiced
                    and said.quiet_s >= self.voice.early_s and self.voice.turn_end != "silence"):
                settling = Heard(np.concatenate(said.frames), passed.transcript, passed.ahead, True, last)
                yield settling
                continue
            if said.quiet_s >= self.voice.silence_s or said.seconds >= self.voice.max_utterance_s:
                if said.voiced_s >= MIN_SPEECH_S:  # shorter: a blip
                    yield self._final(said, passed, last)
                said.clear()
                passed = None
        if settling is not None:
            settling.settle(resumed=False)
        elif said.frames and said.voiced_s >= MIN_SPEECH_S:
            yield self._final(said, passed, index - (len(said.frames) - said.last_voiced))

    def _final(self, utterance: Utterance, passed: _Pass | None, last: int) -> Heard:
        """A turn ended by the silence window; the pause's pass is its transcript if nothing was said after it."""
        if self._off_for:
            self._off_for -= 1
            if not self._off_for:
                self.ahead, self._slow = True, SLOW_PASSES - 1  # one more slow pass turns it off again
                log.info("listening ahead: trying again")
        heard = Heard(np.concatenate(utterance.frames), last_voiced=last)
        if passed is not None and passed.voiced_upto == utterance.last_voiced:
            heard.transcript, heard.ahead = passed.transcript, passed.ahead
        heard.settle(resumed=False)
        return heard

    def _pass(self, audio: list[np.ndarray], voiced_upto: int) -> _Pass:
        start = time.perf_counter()
        samples = np.concatenate(audio)
        transcript = self.assistant.recognise(samples)
        ahead = self.assistant.route_ahead(transcript) if transcript else None
        routed_complete = routed_finished(ahead)
        complete = routed_complete
        if self.voice.turn_end in ("smart-turn", "both") and self.smart_turn is not None:
            audible = sounds_finished(self.smart_turn, samples)
            complete = audible and (routed_complete or self.voice.turn_end == "smart-turn") and bool(transcript)
        took = time.perf_counter() - start
        log.info("heard so far (%.0f ms): %r -> %s%s", took * 1000, transcript,
                 ahead.routed.calls if ahead else "nothing", "" if complete else " (not finished)")
        self._slow = self._slow + 1 if took > self.voice.silence_s else 0
        if self._slow >= SLOW_PASSES:
            self.ahead, self._off_for = False, RETRY_AFTER_TURNS
            log.info("listening ahead is off for %d turns: recognising and routing took %.0f ms, longer than the %g s "
                     "silence window, so the loop recognises after the window instead", RETRY_AFTER_TURNS, took * 1000,
                     self.voice.silence_s)
        return _Pass(voiced_upto, transcript, ahead, complete)


def routed_finished(ahead: Ahead | None) -> bool:
    """The router's judgement of what was said so far: a request it routed whole, not the unfinished mark."""
    return ahead is not None and not ahead.routed.calls.unfinished and ahead.routed.error is None


def sounds_finished(smart_turn: Callable[[np.ndarray], float], audio: np.ndarray) -> bool:
    """Smart Turn's judgement of the audio so far."""
    return smart_turn(audio) >= SMART_TURN_COMPLETE


def listen(frames: Iterable[np.ndarray], assistant: Assistant, voice: VoiceConfig,
           on_heard: Callable[[Heard], None] = lambda heard: None,
           smart_turn: Callable[[np.ndarray], float] | None = None, speaker: Speaker | None = None) -> Iterator[Turn]:
    """Turns from live frames: the listener runs in its own thread so capture and recognition go on
    while a turn is handled; ``on_heard`` hears each turn's end (the end-of-turn sound). While
    ``speaker`` speaks or rings, only "stop" (or the wake word) is listened for."""
    listener = Listener(assistant, voice, smart_turn=smart_turn, speaker=speaker)
    turns: queue.Queue[Heard | BaseException | None] = queue.Queue()

    def run() -> None:
        try:
            for heard in listener.heard(frames):
                on_heard(heard)
                turns.put(heard)
        except BaseException as error:  # handed to the caller's thread, never lost in this one
            turns.put(error)
        turns.put(None)

    threading.Thread(target=run, name="listening", daemon=True).start()
    while (item := turns.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield assistant.handle_heard(item.audio, item.transcript, item.ahead, item if item.early else None)


class _Recogniser:
    """The assistant's recogniser as a transcriber (it serialises recognition across threads)."""

    def __init__(self, assistant: Assistant):
        self.transcribe = assistant.recognise


def end_of_turn_sound() -> np.ndarray:
    """A short soft tick (60 ms at 880 Hz, faded) that tells the speaker they were heard."""
    t = np.arange(int(0.06 * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.2 * np.sin(2 * np.pi * 880 * t) * np.hanning(t.size)).astype(np.float32)

