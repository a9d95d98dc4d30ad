"""Turn-taking: recognise while the user speaks, and end the turn as soon as the request is complete.

Frames come from :class:`assistant.voice.capture.Frames` (a microphone, or a recording played at
real-time speed). Silero VAD marks each 32 ms frame. At the first frame after speech that Silero
does not call speech, the audio so far is recognised and routed ahead, in a thread of its own,
with the unfinished mark allowed: the router says whether "set a timer for" is a whole request.
A pass the speaker talks over is cancelled. (Played in real time, 66 benchmark recordings
interleaved in one process: a pass in its own thread after one quiet frame answered a median 45 ms
sooner than one in the listening thread after three.) Once ``early_s`` of pause has passed, a turn
whose request is complete (by the router, Smart Turn or both: ``turn_end``) ends as soon as the
router has decoded its first call: that call runs while the router decodes whether another
follows. Otherwise the ``silence_s`` window ends it, as before. The pause's pass is reused when no
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

import enum
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from assistant.config import VoiceConfig
from assistant.pipeline import Assistant, RoutedAhead, Turn
from assistant.timing import elapsed_ms
from assistant.voice.audio import SAMPLE_RATE, SPEECH_THRESHOLD, SpeechDetector, Utterance
from assistant.voice.barge_in import BargeIn
from assistant.voice.tts import Speaker

log = logging.getLogger(__name__)

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
    ahead: RoutedAhead | None = None  # routed while listening, on exactly this transcript
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
    ahead: RoutedAhead | None
    complete: bool  # judged a whole request by turn_end's judge
    took_s: float


@dataclass
class _Job:
    """A pass asked for: which utterance, up to which voiced frame, and its audio."""

    utterance: int  # the listener numbers its utterances, so a late pass is never taken for a later one
    voiced_upto: int
    audio: np.ndarray
    cancelled: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    result: _Pass | None = None  # None: cancelled before it routed
    error: BaseException | None = None
    seen: bool = False  # its time was counted (see Listener._outcome)

    @property
    def key(self) -> tuple[int, int]:
        return self.utterance, self.voiced_upto


@dataclass
class _FirstCall:
    """A pass whose router has decoded its first call: the request is whole, though routing goes on."""

    job: _Job
    result: _Pass


class _End(enum.Enum):
    """The end of the frames: a sentinel of its own type, so that the queue's type can name it."""

    FRAMES = enum.auto()


_FRAMES_END: Final = _End.FRAMES
# What the listener's queue holds: frames, what stopped them, passes (at their first call and when done), the end.
_Event = np.ndarray | Exception | _FirstCall | _Job | _End


class _Passes:
    """Passes run one at a time in a thread of their own, so frames are heard while one runs and the
    turn can end the moment its first call is decoded; a pass posts that (:class:`_FirstCall`), and
    then itself once done, among the frames. A pass the speaker talked over is cancelled:
    recognition cannot be stopped, but it is not routed."""

    def __init__(self, run: Callable[[_Job, Callable[[_FirstCall], None]], _Pass | None], events: queue.Queue[_Event]):
        self._run, self._events = run, events
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self.latest: _Job | None = None
        threading.Thread(target=self._work, name="listening-ahead", daemon=True).start()

    def ask(self, job: _Job) -> None:
        self.cancel()
        self.latest = job
        self._jobs.put(job)

    def cancel(self) -> None:
        if self.latest is not None:
            self.latest.cancelled.set()
            self.latest = None

    def wait(self, key: tuple[int, int]) -> _Job | None:
        """The latest job, once done, if it is the pass of ``key``: cheaper than recognising again."""
        job = self.latest
        if job is None or job.key != key:
            return None
        job.done.wait()
        return job

    def close(self) -> None:
        self.cancel()
        self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            if not job.cancelled.is_set():
                try:
                    job.result = self._run(job, self._events.put)
                except Exception as error:  # handed to the listener, which raises it in its own thread
                    job.error = error
            job.done.set()
            self._events.put(job)


def _feed(frames: Iterable[np.ndarray], events: queue.Queue[_Event]) -> None:
    """Frames into the listener's event queue, then the end of them (or what stopped them)."""
    try:
        for frame in frames:
            events.put(frame)
    except Exception as error:
        events.put(error)
    events.put(_FRAMES_END)


class Listener:
    """Consumes frames and yields :class:`Heard` turns. It must run in a thread of its own (see
    :func:`listen`): a turn that ended early is settled by the frames that come after it."""

    def __init__(
        self,
        assistant: Assistant,
        voice: VoiceConfig,
        detector: SpeechDetector | None = None,
        smart_turn: Callable[[np.ndarray], float] | None = None,
        speaker: Speaker | None = None,
    ):
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
        """The turns of ``frames``. Frames and finished passes arrive in one queue: a frame is heard
        while a pass runs, and a pass that finishes ends its turn at once, not at the next frame."""
        events: queue.Queue[_Event] = queue.Queue()  # holds what arrives during one pass at most
        threading.Thread(target=_feed, args=(frames, events), name="frames", daemon=True).start()
        passes = _Passes(self._pass, events)
        try:
            yield from self._turns(events, passes)
        finally:
            passes.close()

    def _turns(self, events: queue.Queue[_Event], passes: _Passes) -> Iterator[Heard]:
        said = Utterance(self.detector, SPEECH_THRESHOLD, PRE_ROLL_S)
        utterance = 0  # numbers the utterances said; a pass belongs to one (see _Job)
        passed: _Pass | None = None  # the latest pass of what was said, up to its last voiced frame
        settling: Heard | None = None  # a turn that ended early, while the silence window runs on
        index, interrupted = -1, False
        while (event := events.get()) is not _FRAMES_END:
            if isinstance(event, Exception):
                raise event
            if isinstance(event, _FirstCall):
                if settling is not None or event.job.key != (utterance, said.last_voiced):
                    continue  # the speaker went on after it
                passed = event.result
            elif isinstance(event, _Job):
                result = self._outcome(event)
                if settling is not None or result is None or event.key != (utterance, said.last_voiced):
                    continue  # cancelled, or the speaker went on after it
                passed = result
            else:
                index += 1
                if self.speaker is not None and self.speaker.speaking:  # its own voice is never a turn; "stop" is heard
                    if not interrupted:
                        self.barge_in.reset()
                        passes.cancel()
                        if settling is not None:  # a ring during the window: what was heard stands
                            settling.settle(resumed=False)
                        passed, settling, interrupted = None, None, True
                    if self.barge_in.hears_stop(event, self.speaker.saying):
                        log.info("heard you say stop")
                        self.speaker.stop()
                    continue
                if interrupted:
                    said.reset()
                    utterance += 1
                    interrupted = False
                speech = said.hear(event)
                if speech is None:
                    continue
                if speech:
                    passes.cancel()  # what it recognised is no longer all that was said
                    if settling is not None:  # the speaker went on: hear it all again as one turn
                        log.info("you went on after the pause: hearing the whole request again")
                        settling.settle(resumed=True)
                        settling, passed = None, None
                if settling is not None:
                    if said.quiet_s >= self.voice.silence_s:
                        settling.settle(resumed=False)
                        settling, passed = None, None
                        said.clear()
                        utterance += 1
                    continue
                if (
                    self.ahead
                    and said.last_voiced < len(said.frames)
                    and said.voiced_s >= MIN_SPEECH_S
                    and (passes.latest is None or passes.latest.key != (utterance, said.last_voiced))
                    and (passed is None or passed.voiced_upto != said.last_voiced)
                ):
                    passes.ask(_Job(utterance, said.last_voiced, np.concatenate(said.frames[: said.last_voiced])))
            last = index - (len(said.frames) - said.last_voiced)  # the last voiced frame in the stream
            if (
                passed is not None
                and passed.complete
                and passed.voiced_upto == said.last_voiced
                and said.quiet_s >= self.voice.early_s
                and self.voice.turn_end != "silence"
            ):
                settling = Heard(np.concatenate(said.frames), passed.transcript, passed.ahead, True, last)
                yield settling
                continue
            if said.quiet_s >= self.voice.silence_s or said.seconds >= self.voice.max_utterance_s:
                if said.voiced_s >= MIN_SPEECH_S:  # shorter: a blip
                    yield self._final(said, self._latest(passed, passes, (utterance, said.last_voiced)), last)
                said.clear()
                utterance += 1
                passed = None
        if settling is not None:
            settling.settle(resumed=False)
        elif said.frames and said.voiced_s >= MIN_SPEECH_S:
            last = index - (len(said.frames) - said.last_voiced)
            yield self._final(said, self._latest(passed, passes, (utterance, said.last_voiced)), last)

    def _latest(self, passed: _Pass | None, passes: _Passes, key: tuple[int, int]) -> _Pass | None:
        """The pass of exactly what was said: the one at hand, or the one still running (waited for)."""
        if passed is not None and passed.voiced_upto == key[1]:
            return passed
        job = passes.wait(key)
        return self._outcome(job) if job is not None else None

    def _outcome(self, job: _Job) -> _Pass | None:
        """A finished job's pass (its error raised here, in the listener's thread); slow passes turn
        listening ahead off for a while."""
        if job.error is not None:
            raise job.error
        if job.seen or job.result is None:
            return job.result
        job.seen = True
        took = job.result.took_s
        self._slow = self._slow + 1 if took > self.voice.silence_s else 0
        if self.ahead and self._slow >= SLOW_PASSES:
            self.ahead, self._off_for = False, RETRY_AFTER_TURNS
            log.info(
                "listening ahead is off for %d turns: recognising and routing took %.0f ms, longer than the %g s "
                "silence window, so the loop recognises after the window instead",
                RETRY_AFTER_TURNS,
                took * 1000,
                self.voice.silence_s,
            )
        return job.result

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

    def _pass(self, job: _Job, post: Callable[[_FirstCall], None]) -> _Pass | None:
        start = time.perf_counter()
        transcript = self.assistant.recognise(job.audio)
        if job.cancelled.is_set():  # the speaker went on while it was recognised: routing it would only take CPU
            log.info("heard so far (%.0f ms): %r, then you went on: not routed", elapsed_ms(start), transcript)
            return None
        audible = None
        if self.voice.turn_end in ("smart-turn", "both") and self.smart_turn is not None:
            audible = sounds_finished(self.smart_turn, job.audio)

        def first_call(ahead: RoutedAhead) -> None:
            """A whole request by the router; the turn may end before the router knows whether more calls follow."""
            if judged_complete(self.voice.turn_end, True, audible, transcript):
                post(_FirstCall(job, _Pass(job.voiced_upto, transcript, ahead, True, time.perf_counter() - start)))

        ahead = self.assistant.route_ahead(transcript, first_call) if transcript else None
        complete = judged_complete(self.voice.turn_end, routed_finished(ahead), audible, transcript)
        took = time.perf_counter() - start
        log.info(
            "heard so far (%.0f ms): %r -> %s%s",
            took * 1000,
            transcript,
            ahead.routed.calls if ahead else "nothing",
            "" if complete else " (not finished)",
        )
        return _Pass(job.voiced_upto, transcript, ahead, complete, took)


def routed_finished(ahead: RoutedAhead | None) -> bool:
    """The router's judgement of what was said so far: a request it routed whole, not the unfinished mark."""
    return ahead is not None and not ahead.routed.calls.unfinished and ahead.routed.error is None


def judged_complete(turn_end: str, routed: bool, audible: bool | None, transcript: str) -> bool:
    """``turn_end``'s judgement from the router's (``routed``) and Smart Turn's (``audible``; None when
    it was not asked): "smart-turn" needs the audio to sound finished and words heard, "both" needs
    that and the router; otherwise the router judges alone."""
    if audible is None or turn_end not in ("smart-turn", "both"):
        return routed
    return audible and bool(transcript) and (routed or turn_end == "smart-turn")


def sounds_finished(smart_turn: Callable[[np.ndarray], float], audio: np.ndarray) -> bool:
    """Smart Turn's judgement of the audio so far."""
    return smart_turn(audio) >= SMART_TURN_COMPLETE


def listen(
    frames: Iterable[np.ndarray],
    assistant: Assistant,
    voice: VoiceConfig,
    on_heard: Callable[[Heard], None] = lambda heard: None,
    smart_turn: Callable[[np.ndarray], float] | None = None,
    speaker: Speaker | None = None,
) -> Iterator[Turn]:
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
