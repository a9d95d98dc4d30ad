"""One turn of the assistant: audio → transcript → calls → answer, with per-stage timings.

The router may find up to three calls in one utterance; each runs as soon as it is decoded, under
its own limits, and the answer joins theirs. A turn soon after the last one is routed with that
one in the prompt, so that "and tomorrow?" can build on it (:mod:`assistant.dialogue`). While the
user speaks, the listening loop routes ahead (:meth:`Assistant.route_ahead`); a turn whose final
transcript was routed so reuses those calls. A turn that ended early, at a short pause, runs the
skills that only read at once and holds those that act until the speaker has not gone on.

A turn the router is unsure of (``Routed.confidence`` below ``[router] confirm_below``) whose one call
is of a skill that acts and asks (``@skill(confirm=...)``) runs nothing: its answer is the question
("A timer for ten minutes?"), remembered as the turn's. A bare yes next (:func:`assistant.dialogue.yes_or_no`)
runs that call, a bare no runs nothing ("OK, I won't."), anything else is routed as a follow-up of the
question, and silence past the follow-up window leaves it undone. A call that might be asked about is
held until routing ends, when its confidence is known, and so is every call decoded after it.

A turn never raises for bad input: unreadable audio, silence, a missing wake word, an unusable
model output or a failing skill all end as a Turn whose ``error`` says what happened. ``failed``
tells the two kinds apart: speech not meant for the assistant (silence, no wake word, ``other()``)
or a clarifying question is a turn done right; input that could not be handled (unreadable or
refused, no usable call, a skill that raised or ran out of time) is a failure.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.config import Config
from assistant.dialogue import Exchange, Memory, after_wake_word, yes_or_no
from assistant.routing.calls import Call, Calls
from assistant.routing.choice_spelling import ChoiceSpelling
from assistant.routing.router import Routed, Router, fallback_calls
from assistant.runtime.dispatch import Dispatcher, Outcome
from assistant.runtime.example_files import utterance_key
from assistant.runtime.pack import NOT_ACTING, SkillPack, acts
from assistant.runtime.resolution import confirmation
from assistant.timing import elapsed_ms
from assistant.voice.audio import SAMPLE_RATE, AudioError, read_wav, recording_too_long
from assistant.voice.stt import Recogniser, without_closing_punctuation

log = logging.getLogger(__name__)

ORDINALS = ("first", "second", "third")
DECLINED = "OK, I won't."  # the answer to a no after the assistant asked to confirm
CONFIRMATION = "confirmation"  # Turn.path of a bare yes or no to the assistant's question: the calls are its


def asked_first(pack: SkillPack, calls: Calls) -> str:
    """The question asked instead of acting on ``calls`` when the router is unsure of them: one call of a skill
    that acts and asks (``@skill(confirm=...)``); "" for any other calls, which are run as routed."""
    skill = pack.skills.get(calls[0].name) if len(calls) == 1 else None
    return confirmation(pack, calls) if skill is not None and not skill.reads_only else ""


class RoutedAhead:
    """Calls routed while the user was still speaking, for exactly this command and previous turn.

    It may be handed on while the router is still decoding: :meth:`calls` gives each call as soon
    as it is decoded, so the first can run before the router knows whether another follows.
    """

    def __init__(self, command: str, context: Exchange | None):
        self.command, self.context = command, context
        self._decoded: list[Call] = []
        self._routed: Routed | None = None
        self._changed = threading.Condition()

    def decoded(self, call: Call) -> None:
        with self._changed:
            self._decoded.append(call)
            self._changed.notify_all()

    def end(self, routed: Routed) -> None:
        with self._changed:
            self._routed = routed
            self._changed.notify_all()

    @property
    def routed(self) -> Routed:
        """The whole result, once routing has ended."""
        with self._changed:
            self._changed.wait_for(lambda: self._routed is not None)
            assert self._routed is not None
            return self._routed

    def whole(self) -> bool:
        """Whether it routed a request, not the unfinished mark: known at its first call (or its end)."""
        with self._changed:
            self._changed.wait_for(lambda: bool(self._decoded) or self._routed is not None)
            return bool(self._decoded) or (self._routed is not None and not self._routed.calls.unfinished)

    def calls(self) -> Iterator[Call]:
        """Each call as soon as it is decoded, until routing has ended."""
        index = 0
        while True:

            def ready(index: int = index) -> bool:  # index bound now, though wait_for calls it at once
                return len(self._decoded) > index or self._routed is not None

            with self._changed:
                self._changed.wait_for(ready)
                if len(self._decoded) <= index:
                    return
                call = self._decoded[index]
            index += 1
            yield call


class Pending(Protocol):
    """A turn that ended early: whether the speaker went on within the silence window."""

    def went_on(self) -> bool:
        """Wait until the silence window has passed or speech resumed; True if it resumed."""


@dataclass
class Turn:
    transcript: str = ""
    calls: list[str] = field(default_factory=list)
    answer: str = ""
    error: str | None = None
    failed: bool = False
    superseded: bool = False  # ended at a pause, but the speaker went on: the next turn is the whole request
    path: str | None = None  # what found the calls: "router", "instant" (the pack's own sentence), or
    # "confirmation" (a yes or no to the question before); None: unrouted
    confidence: float | None = None  # how sure the router was of the calls (Routed.confidence); None: unrouted
    confirming: bool = False  # the calls were not run: the answer asks whether to (below [router] confirm_below)
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["timings"] = {key: round(value, 1) for key, value in self.timings.items()}
        return data


def first_of_pack(readings: list[str], is_sentence: Callable[[str], bool]) -> str:
    """The first of ``readings`` (the likeliest first) that ``is_sentence`` calls a sentence of the pack (the
    instant path's matcher: a template's or a written example's, said whole), else the first; "" for none. Whisper
    misreads a word of a command it was nearly sure of ("set a timer for free quarters of an hour") more often
    than it takes other speech for one of the pack's sentences. A reading that is the first cut short ("what
    time is it back home" for "... in Manila") is never taken: the beam's shorter readings drop what was said."""
    if not readings:
        return ""
    best = utterance_key(readings[0]).split()

    def cut_short(text: str) -> bool:
        words = utterance_key(text).split()
        return len(words) < len(best) and best[: len(words)] == words

    return next((text for text in readings if not cut_short(text) and is_sentence(text)), readings[0])


class Assistant:
    """Ties the parts together; the transcriber and router are built on first use (they load models)."""

    def __init__(
        self,
        pack: SkillPack,
        config: Config,
        make_router: Callable[[], Router],
        make_transcriber: Callable[[], Recogniser],
        on_stage: Callable[[str], None] = lambda stage: None,
    ):
        self.pack = pack
        self.config = config
        self.on_stage = on_stage
        self._make_router, self._make_transcriber = make_router, make_transcriber
        self._router: Router | None = None
        self._transcriber: Recogniser | None = None
        self.dispatcher = Dispatcher(pack, config.router.skill_timeout_s)
        self.memory = Memory(config.router.follow_up_s)
        self._spelling = ChoiceSpelling(pack, config.router.choice_spelling)
        self._running = ThreadPoolExecutor(max_workers=3, thread_name_prefix="call")
        self._routing = threading.Lock()  # the listening loop routes ahead from its own thread
        self._preparing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare")
        self._hearing = threading.Lock()  # and recognises from it

    @property
    def router(self) -> Router:
        if self._router is None:
            self._router = self._make_router()
        return self._router

    @property
    def transcriber(self) -> Recogniser:
        if self._transcriber is None:
            self._transcriber = self._make_transcriber()
        return self._transcriber

    def load(self, speech: bool = True) -> None:
        """Load the models now, so that no turn's timings include loading; ``speech=False`` for typed input.
        The time it took is logged (``voxroute -v`` shows it)."""
        start = time.perf_counter()
        _ = self.router
        if speech:
            _ = self.transcriber
        log.info("models loaded in %.1f s", elapsed_ms(start) / 1000)

    def not_for_me(self, turn: Turn) -> bool:
        """The turn ended in the pack's fallback call (``other()``) alone: speech not addressed to the assistant."""
        return self.pack.fallback is not None and turn.calls == [str(self.pack.fallback)] and turn.error is None

    def handle_file(self, path: str | Path) -> Turn:
        start = time.perf_counter()
        try:
            audio = read_wav(path, self.config.voice.max_utterance_s)
        except AudioError as error:
            return Turn(error=str(error), failed=True, timings={"read_ms": elapsed_ms(start)})
        return self.handle_audio(audio)

    def handle_audio(self, audio: np.ndarray) -> Turn:
        start = time.perf_counter()
        seconds, limit = len(audio) / SAMPLE_RATE, self.config.voice.max_utterance_s
        if seconds > limit:
            return Turn(error=recording_too_long(seconds, limit), failed=True, timings={"total_ms": elapsed_ms(start)})
        self.on_stage("transcribing")
        transcript = self.recognise(audio)
        stt_ms = elapsed_ms(start)
        if not transcript:
            return Turn(error="heard nothing (silence or noise)", timings={"stt_ms": stt_ms, "total_ms": stt_ms})
        turn = self.handle_text(transcript)
        turn.timings = {"stt_ms": stt_ms, **turn.timings, "total_ms": stt_ms + turn.timings["total_ms"]}
        return turn

    def _command(self, text: str) -> tuple[str | None, Exchange | None]:
        """What the router is given for ``text`` (None without the wake word), its choices spelt as written,
        and the previous turn."""
        context = self.memory.recent()
        command = after_wake_word(text, self.config.voice.wake_word)
        if command is None and context is not None:  # a follow-up needs no wake word
            command = text
        return (None if command is None else self._spelling.written(command)), context

    def route_ahead(
        self, text: str, on_first: Callable[[RoutedAhead], None] = lambda ahead: None
    ) -> RoutedAhead | None:
        """Route a partial transcript without running anything; its calls may be ``UNFINISHED``.
        ``on_first`` is handed the RoutedAhead when its first call is decoded, while routing goes on."""
        command, context = self._command(text)
        if command is None or not command.strip() or len(command) > self.config.router.max_utterance_chars:
            return None
        ahead, told = RoutedAhead(command, context), False

        def decoded(call: Call) -> None:
            nonlocal told
            ahead.decoded(call)
            if not told:
                told = True
                on_first(ahead)

        with self._routing:
            try:
                ahead.end(self.router.route(command, context, decoded, allow_unfinished=True))
            except Exception as error:  # whoever waits on its calls is told, not left waiting
                ahead.end(Routed(fallback_calls(self.pack), "", 0.0, error=f"routing failed: {error}"))
                raise
        return ahead

    def handle_heard(
        self,
        audio: np.ndarray,
        transcript: str | None = None,
        ahead: RoutedAhead | None = None,
        pending: Pending | None = None,
    ) -> Turn:
        """A turn from the listening loop: recognised and maybe routed already; ``pending`` if it ended early."""
        if transcript is None:
            return self.handle_audio(audio)
        if not transcript:
            return Turn(error="heard nothing (silence or noise)")
        before = self.memory.snapshot()
        turn = self.handle_text(transcript, ahead, pending)
        if pending is not None and pending.went_on():
            self.memory.restore(before)  # the speaker went on: the whole utterance is the next turn, after the same one
            turn.superseded = True
        return turn

    def recognise(self, audio: np.ndarray) -> str:
        """What was said: Whisper's best reading, or where no previous turn is recent, the first of its beam's
        readings that is a sentence of the pack (:func:`first_of_pack`)."""
        with self._hearing:
            readings = [without_closing_punctuation(text.strip()) for text in self.transcriber.readings(audio)]
        if len(readings) < 2 or self.memory.recent() is not None:
            return next(iter(readings), "")
        from assistant.routing.instant import InstantRouter

        router = self.router
        if not isinstance(router, InstantRouter):
            return readings[0]

        def is_sentence(text: str) -> bool:
            command, _ = self._command(text)
            return command is not None and router.matcher.match(command) is not None

        chosen = first_of_pack(readings, is_sentence)
        if chosen != readings[0]:
            log.info("heard %r as %r, a sentence of the pack that Whisper's beam also read", readings[0], chosen)
        return chosen

    def handle_text(self, text: str, ahead: RoutedAhead | None = None, pending: Pending | None = None) -> Turn:
        start = time.perf_counter()
        turn = Turn(transcript=text)
        command, context = self._command(text)
        if command is None:
            turn.calls, turn.error = self._fallback(), f"no wake word {self.config.voice.wake_word!r}: ignored"
            turn.timings = {"total_ms": elapsed_ms(start)}
            return turn
        if len(command) > self.config.router.max_utterance_chars:
            turn = self.refuse(text, len(command))
            turn.timings["total_ms"] = elapsed_ms(start)
            return turn
        if context is not None:
            log.info(
                "follow-up of: %s -> %s%s",
                context.user,
                context.calls,
                f" (asked: {context.asked})" if context.asked else "",
            )
            confirming = bool(context.asked) and context.asked == asked_first(self.pack, context.calls)
            reply = yes_or_no(command) if confirming else None
            if reply is not None:
                return self._confirmed(turn, context, reply, pending, start)
        self.on_stage("thinking")
        started: list[Future[Outcome]] = []
        held: list[Call] = []
        lock = threading.Lock()

        def run_now(call: Call) -> None:
            """Start the call while the router decodes the next one; one that may be asked about, and each call
            after it, waits for the router's confidence."""
            with lock:
                if held or (self._asking() and asked_first(self.pack, Calls([call]))):
                    held.append(call)
                else:
                    started.append(self._start(call, pending))

        if ahead is not None and (ahead.command, ahead.context) == (command, context) and ahead.whole():
            for call in ahead.calls():
                run_now(call)
            routed = dataclasses.replace(ahead.routed, latency_ms=0.0)
            log.info("routed while you spoke: %s", routed.calls)
        else:
            with self._routing:
                routed = self.router.route(command, context, run_now)
        turn.calls, turn.error, turn.failed, turn.path, turn.confidence = (
            [str(call) for call in routed.calls],
            routed.error,
            routed.error is not None,
            routed.path,
            routed.confidence,
        )
        log.info("path %s: %s (confidence %.4f)", routed.path, routed.calls, routed.confidence)
        turn.timings["route_ms"] = routed.latency_ms
        if not started and not held:  # a router that failed before its first call answers with the fallback
            for call in routed.calls:
                run_now(call)
        question = self._question(routed)
        if question and pending is not None and pending.went_on():
            turn.error = (
                f"not asked: you went on after the pause, so {routed.calls[0].name} waits for the whole request"
            )
        elif question:
            turn.answer, turn.confirming = question, True
            log.info("asked first (confidence below %g): %s", self.config.router.confirm_below, question)
        else:
            started.extend(self._start(call, pending) for call in held)
        outcomes = [future.result() for future in started]
        if outcomes:
            turn.answer = self._answer(routed.calls, outcomes)
            turn.error = turn.error or next((o.error for o in outcomes if o.error), None)
            turn.failed = turn.failed or any(o.failed for o in outcomes)
            turn.timings["skill_ms"] = max(o.ms for o in outcomes)
        if acts(routed.calls) and routed.error is None:
            self.memory.remember(command, routed.calls, turn.answer)
            remembered = self.memory.recent()
            if remembered is not None:  # None when follow-ups are off (follow_up_s = 0)
                self._preparing.submit(self._prepare, remembered)
        turn.timings["total_ms"] = elapsed_ms(start)
        return turn

    def refuse(self, text: str, characters: int | None = None) -> Turn:
        """A turn refused unrouted, its text over ``[router] max_utterance_chars``; ``characters`` None: ``text`` is
        only the start of a line too long to be read whole."""
        start, limit = time.perf_counter(), self.config.router.max_utterance_chars
        counted = f"more than {limit}" if characters is None else characters
        error = f"too long to route: {counted} characters, the most is {limit} ([router] max_utterance_chars)"
        return Turn(
            transcript=text, calls=self._fallback(), error=error, failed=True, timings={"total_ms": elapsed_ms(start)}
        )

    def _asking(self) -> bool:
        """Whether a call may be asked about: ``[router] confirm_below`` is on, and a reply can follow up on it."""
        return self.config.router.confirm_below > 0 and self.memory.window_s > 0

    def _question(self, routed: Routed) -> str:
        """The question asked instead of running ``routed``'s call, the router being unsure of it; "" to run it."""
        if not self._asking() or routed.error is not None or routed.confidence >= self.config.router.confirm_below:
            return ""
        return asked_first(self.pack, routed.calls)

    def _confirmed(self, turn: Turn, context: Exchange, yes: bool, pending: Pending | None, start: float) -> Turn:
        """A bare yes or no to the question the assistant asked instead of acting: yes runs the calls asked about
        (remembered as the request's), no runs nothing and ends the question. Neither is routed."""
        log.info("%s to: %s", "yes" if yes else "no", context.asked)
        turn.path = CONFIRMATION
        if yes:
            turn.calls = [str(call) for call in context.calls]
            outcomes = [future.result() for future in [self._start(call, pending) for call in context.calls]]
            turn.answer = self._answer(context.calls, outcomes)
            turn.error = next((o.error for o in outcomes if o.error), None)
            turn.failed = any(o.failed for o in outcomes)
            turn.timings["skill_ms"] = max(o.ms for o in outcomes)
            self.memory.remember(context.user, context.calls, turn.answer)
            remembered = self.memory.recent()
            if remembered is not None:
                self._preparing.submit(self._prepare, remembered)
        elif pending is not None and pending.went_on():
            turn.error = "not answered: you went on after the pause"
        else:
            turn.answer = DECLINED
            self.memory.forget()  # a no is no action: nothing is left to follow up on
        turn.timings["total_ms"] = elapsed_ms(start)
        return turn

    def _start(self, call: Call, pending: Pending | None) -> Future[Outcome]:
        """Run the call in the background, under this turn's skill context."""
        return self._running.submit(contextvars.copy_context().run, self._run, call, pending)

    def _prepare(self, context: Exchange) -> None:
        """Encode the remembered turn while the user hears the answer, so that a follow-up pays only for its words."""
        with self._routing:
            try:
                self.router.prepare(context)
            except Exception:  # the follow-up is then routed without it, as it would have been anyway
                log.info("could not prepare for a follow-up of: %s", context.user, exc_info=True)

    def _run(self, call: Call, pending: Pending | None) -> Outcome:
        """Run a call; one that acts, in a turn that ended early, only once the speaker has not gone on."""
        skill = self.pack.skills.get(call.name)
        if pending is not None and skill is not None and not skill.reads_only and pending.went_on():
            return Outcome("", 0.0, f"not run: you went on after the pause, so {call.name} waits for the whole request")
        self.on_stage(f"running {call.name}")
        return self.dispatcher.run(call)

    def _fallback(self) -> list[str]:
        return [str(call) for call in fallback_calls(self.pack)]

    def _answer(self, calls: Calls, outcomes: list[Outcome]) -> str:
        """The answers of the calls in order; a part the pack cannot do is named by its place."""
        if len(outcomes) == 1:
            return outcomes[0].answer
        parts = []
        # strict=False: the outcomes are of the calls run as the router announced them (on_call), which the Router
        # protocol does not bind to the calls it returns; the shipped routers keep them equal, a custom one may not.
        for index, (call, outcome) in enumerate(zip(calls, outcomes, strict=False)):
            if call.name in NOT_ACTING:
                parts.append(f"I can't do the {ORDINALS[index]} part of that yet.")
            elif outcome.answer:
                parts.append(outcome.answer)
        return " ".join(parts)
