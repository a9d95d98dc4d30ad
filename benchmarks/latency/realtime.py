"""Listening loops played recordings in real time: ``python -m benchmarks.latency --realtime``.

Each recording (the bundled samples, then those of :mod:`benchmarks.latency.recordings`) is played
into a fresh :class:`Frames` at the speed a microphone delivers it, and each loop listens to it in
the same process and run, with the same models:

- ``today``: Silero endpointing (``segment``, 0.7 s of silence), then one turn per segment;
- ``new`` / ``new:<turn_end>``: :func:`assistant.voice.listening.listen` (recognition while
  speaking, routing ahead, an early end of turn), with ``[voice] turn_end`` set to router,
  smart-turn, both or silence (``new`` alone: the configured default); skipped, saying so, where
  that module is not there yet;
- ``unguessed`` / ``unguessed:<turn_end>``: the same, its router decoding a token at a time without
  the guessed calls it checks first (:mod:`assistant.routing.drafts`).

Each loop hears the first recording once before the measured pass (first calls are slower).

Measured: last voiced frame delivered → first skill call dispatched after it (the silence window
included), premature cut-offs (a recording with a pause that gave more than one turn, or whose
first call was dispatched before the speech after the pause was heard), the WER of what was heard
and whether the calls were exactly the expected ones (also counted ignoring case: Whisper writes
"England" where the command's text has "england"), or the same action, as ``eval.py``'s resolved-call
accuracy judges it ("why is the sky blue" asks what "Why is the sky blue?" asks; "one hour fifteen
minutes" is "1 hour 15 minutes"). Skills are not run: the clock stops at
dispatch, and a skill that acts (a timer, an app, a story from the local model) would hold the
loop or the machine. Absolute times vary with the machine's load (the load average is reported);
compare loops within one run.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant import Assistant, Config, Turn, build_assistant
from assistant.config import RouterConfig
from assistant.routing.calls import Call, CallError
from assistant.routing.instant import InstantRouter
from assistant.routing.router import LocalRouter
from assistant.runtime.context import SkillContext, use_context
from assistant.runtime.dispatch import Dispatcher, Outcome
from assistant.runtime.example_files import utterance_key
from assistant.runtime.pack import SkillPack
from assistant.runtime.resolution import resolved_key
from assistant.timing import percentile
from assistant.voice.audio import (
    FRAME_S,
    SAMPLE_RATE,
    SpeechDetector,
    read_wav,
    segment,
)
from assistant.voice.capture import Frames, play_into
from assistant.voice.samples import load_samples
from assistant.voice.stt import load_transcriber, word_error_rate
from benchmarks.latency import recordings

OUT = Path(__file__).resolve().parent / "results_realtime.json"
TURN_ENDS = ("router", "smart-turn", "both", "silence")
LISTENING = ("new", "unguessed")  # the listening loop, with and without the router's checked guesses
TAIL_S = 1.5
TIME_LIMIT_S = 20.0
EARLY_S, SILENCE_S = 0.25, 0.7

Loop = Callable[[Frames], Iterator[Turn]]


@dataclass(frozen=True)
class Clip:
    """A recording and what is known of it; ``resume_s`` and ``pause_s`` are None without a pause inside."""

    name: str
    path: str
    text: str
    call: str
    speech_end_s: float
    resume_s: float | None = None
    pause_kind: str | None = None
    pause_s: float | None = None


@dataclass
class Stages:
    """The times of the assistant's stages, as ``on_stage`` reports them (from any thread)."""

    seen: list[tuple[float, str]] = field(default_factory=list)

    def __call__(self, stage: str) -> None:
        self.seen.append((time.perf_counter(), stage))

    def dispatched(self, skills: set[str] | None = None) -> list[float]:
        """When calls were dispatched (of ``skills`` only, if given)."""
        return [
            at
            for at, stage in list(self.seen)
            if stage.startswith("running ") and (skills is None or stage.removeprefix("running ") in skills)
        ]


class DryDispatcher(Dispatcher):
    """Answers every call at once without running its skill."""

    def run(self, call: Call) -> Outcome:
        return Outcome("", 0.0)


def load_clips(limit: int | None) -> list[Clip]:
    """The bundled samples and the generated recordings (made now when missing); ``limit`` spreads evenly over both."""
    clips = []
    for sample in load_samples():
        audio = read_wav(sample["file"])
        loud = recordings.voiced(audio).nonzero()[0]
        clips.append(
            Clip(
                Path(sample["file"]).stem,
                sample["file"],
                sample["text"],
                sample["call"],
                (loud[-1] + 1) * recordings.HOP / SAMPLE_RATE,
            )
        )
    for record in recordings.generate():
        clips.append(
            Clip(
                Path(record.path).stem,
                record.path,
                record.text,
                record.call,
                record.speech_end_s,
                record.resume_s,
                record.pause_kind,
                record.pause_s,
            )
        )
    if limit is not None and limit < len(clips):
        clips = [clips[index * len(clips) // limit] for index in range(limit)]
    return clips


def parse_loops(spec: str) -> list[str]:
    """``today,new:router,...`` checked: one-line errors name the bad entry."""
    loops = [name.strip() for name in spec.split(",") if name.strip()]
    for name in loops:
        kind, _, turn_end = name.partition(":")
        if (kind == "today" and not turn_end) or (kind in LISTENING and (not turn_end or turn_end in TURN_ENDS)):
            continue
        raise ValueError(f"unknown loop {name!r}: use today, new, unguessed or new:<{'|'.join(TURN_ENDS)}>")
    if not loops:
        raise ValueError("--loops names no loop")
    return loops


def make_loop(name: str, assistant: Assistant) -> Loop | str:
    """The loop called ``name``, or why it cannot run on this branch."""
    if name == "today":
        detector = SpeechDetector()
        whole_window = load_transcriber(context="30s")  # today's recognition: Whisper's 30 s window, after the silence

        def today(frames: Frames) -> Iterator[Turn]:
            for audio in segment(frames, detector, silence_s=SILENCE_S):
                transcript = whole_window.transcribe(audio).strip()
                yield assistant.handle_text(transcript) if transcript else Turn(error="heard nothing")

        return today
    try:
        from assistant.voice.listening import listen
    except ModuleNotFoundError as error:
        if error.name != "assistant.voice.listening":
            raise
        return "assistant/voice/listening.py is not on this branch yet"
    kind, _, turn_end = name.partition(":")
    settings: dict[str, Any] = {"early_s": EARLY_S, "silence_s": SILENCE_S} | (
        {"turn_end": turn_end} if turn_end else {}
    )
    try:
        voice = dataclasses.replace(assistant.config.voice, **settings)
    except TypeError as error:
        return f"VoiceConfig lacks the new loop's settings ({error})"
    if kind == "new":
        return lambda frames: listen(frames, assistant, voice)
    router = assistant.router
    if isinstance(router, InstantRouter):
        router = router.router  # the pack's own sentences are answered without decoding either way
    if not isinstance(router, LocalRouter):
        return "only a local router checks guesses"
    drafter = router.drafter

    def unguessed(frames: Frames) -> Iterator[Turn]:
        router.drafter = None
        try:
            yield from listen(frames, assistant, voice)
        finally:
            router.drafter = drafter

    return unguessed


def heard(turns: list[Turn]) -> list[Turn]:
    """The turns with words in them (a burst of noise that Whisper heard as nothing is no turn), but not
    those that ended at a pause after which the speaker went on (the next turn holds the whole request)."""
    return [turn for turn in turns if turn.transcript.strip() and not turn.superseded]


def same_action(pack: SkillPack, heard: list[str], expected: str) -> bool:
    """One turn whose calls resolve to the actions of the expected calls, in order."""
    if len(heard) != 1:
        return False
    try:
        got, wanted = pack.parse_calls(heard[0]), pack.parse_calls(expected)
    except CallError:
        return False
    with use_context(SkillContext(Config())):  # resolvers read the configuration (the app allow-list)
        return len(got) == len(wanted) and all(
            resolved_key(pack, a) == resolved_key(pack, b) for a, b in zip(got, wanted, strict=True)
        )


def listen_once(
    clip: Clip, loop: Loop, stages: Stages, limit_s: float, acting: set[str], pack: SkillPack
) -> dict[str, Any]:
    """Play ``clip`` into a loop and time it; a loop still busy ``limit_s`` after the playback is given up."""
    audio = read_wav(clip.path)
    turns: list[Turn]
    frames, turns, failure = Frames(), [], []

    def work() -> None:
        try:
            turns.extend(loop(frames))
        except Exception as error:  # a loop that breaks is a result to report, not the end of the run
            failure.append(f"{type(error).__name__}: {error}")

    stages.seen.clear()
    start = play_into(frames, audio, tail_s=TAIL_S)
    worker = threading.Thread(target=work, name="loop", daemon=True)
    worker.start()
    worker.join(audio.size / SAMPLE_RATE + TAIL_S + limit_s)
    last_word = start + math.ceil(clip.speech_end_s / FRAME_S) * FRAME_S
    dispatched = stages.dispatched()
    after = [at for at in dispatched if at >= last_word]
    said = heard(turns)
    premature = answered_part = None
    if clip.resume_s is not None:
        resumed = start + (math.floor(clip.resume_s / FRAME_S) + 1) * FRAME_S
        acted = stages.dispatched(acting)
        premature = len(said) > 1 or bool(acted and acted[0] < resumed)  # split, or acted on the first part
        answered_part = any(turn.superseded for turn in turns)  # a skill that only reads answered the first part
    return {
        "recording": clip.name,
        "text": clip.text,
        "pause_kind": clip.pause_kind,
        "latency_ms": (after[0] - last_word) * 1000 if after else None,
        "first_dispatch_ms": (dispatched[0] - last_word) * 1000 if dispatched else None,  # < 0: before the last word
        "premature": premature,
        "answered_part": answered_part,
        "transcript": " ".join(turn.transcript for turn in said),
        "calls": ["; ".join(turn.calls) for turn in said],
        "correct": len(said) == 1 and "; ".join(said[0].calls) == clip.call,
        "correct_ignoring_case": len(said) == 1 and "; ".join(said[0].calls).casefold() == clip.call.casefold(),
        "same_action": same_action(pack, ["; ".join(turn.calls) for turn in said], clip.call),
        "timed_out": worker.is_alive(),
        "error": failure[0] if failure else None,
    }


def misheard(row: dict[str, Any]) -> bool:
    """Whether the recogniser heard other words than the command's (case, punctuation and apostrophes aside)."""
    return utterance_key(row["transcript"]) != utterance_key(row["text"])


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [row["latency_ms"] for row in rows if row["latency_ms"] is not None]
    pauses = [row for row in rows if row["premature"] is not None]
    return {
        "n": len(rows),
        "measured": len(latencies),
        "p50_ms": statistics.median(latencies) if latencies else None,
        "p95_ms": percentile(latencies, 0.95),
        "max_ms": max(latencies, default=None),
        "with_pause": len(pauses),
        "premature": sum(row["premature"] for row in pauses),
        "premature_by_kind": {
            kind: sum(row["premature"] for row in pauses if row["pause_kind"] == kind)
            for kind in ("unfinished", "looks finished")
        },
        "answered_part": sum(bool(row["answered_part"]) for row in pauses),
        "wer": word_error_rate([row["text"] for row in rows], [row["transcript"] for row in rows]),
        "correct": sum(row["correct"] for row in rows),
        "correct_ignoring_case": sum(row["correct_ignoring_case"] for row in rows),
        "same_action": sum(row["same_action"] for row in rows),
        "misses_misheard": sum(not row["same_action"] and misheard(row) for row in rows),
        "timed_out": sum(row["timed_out"] for row in rows),
        "errors": sum(row["error"] is not None for row in rows),
    }


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def run(
    loop_names: list[str],
    limit: int | None,
    adapter: Path,
    limit_s: float = TIME_LIMIT_S,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every clip through every loop that can run; loops that cannot are reported as skipped."""
    load_before = os.getloadavg()
    clips = load_clips(limit)
    stages = Stages()
    config = Config(router=RouterConfig(adapter=str(adapter)))
    assistant = build_assistant(config, on_stage=stages)
    assistant.dispatcher = DryDispatcher(assistant.pack)
    assistant.load()
    acting = {name for name, skill in assistant.pack.skills.items() if not skill.reads_only}
    loops, skipped = {}, {}
    for name in loop_names:
        made = make_loop(name, assistant)
        if (
            not isinstance(made, str)
            and listen_once(clips[0], made, stages, limit_s, acting, assistant.pack)["timed_out"]
        ):
            made = f"still busy {limit_s:g} s after its warm-up recording ended"  # warm-up, not counted
        if isinstance(made, str):
            skipped[name] = made
            say(f"skipping {name}: {made}")
        else:
            loops[name] = made
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in loops}
    stalled: set[str] = set()
    for number, clip in enumerate(clips, 1):
        progress = []
        for name, loop in loops.items():
            if name in stalled:
                continue
            assistant.memory.forget()  # separate commands, not one conversation
            row = listen_once(clip, loop, stages, limit_s, acting, assistant.pack)
            rows[name].append(row)
            progress.append(f"{name} {ms(row['latency_ms'])} ms")
            if row["timed_out"]:
                stalled.add(name)  # its thread may still use the models (and report stages): later times are suspect
                say(f"{name} still busy {limit_s:g} s after {clip.name} ended: left out from here on")
        say(f"{number}/{len(clips)} {clip.name}: {', '.join(progress)}")
    summary = {name: summarize(loop_rows) for name, loop_rows in rows.items() if loop_rows}
    base = summary.get("today", {}).get("p50_ms")
    for result in summary.values():
        result["p50_ratio_to_today"] = result["p50_ms"] / base if base and result["p50_ms"] is not None else None
    return {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "recordings": len(clips),
        "tail_s": TAIL_S,
        "time_limit_s": limit_s,
        "skipped": skipped,
        "summary": summary,
        "rows": rows,
    }


def show(result: dict[str, Any]) -> None:
    machine = result["machine"]
    table = Table(
        title=f"last word → first skill called (ms), {result['recordings']} recordings played in real "
        f"time ({machine['cpus']} CPUs, load {machine['load_average_before'][0]:.1f} → "
        f"{machine['load_average_after'][0]:.1f})"
    )
    table.add_column("loop", no_wrap=True)
    for column in ("n", "p50", "p95", "max", "÷ today", "cut off", "WER", "right", "same action", "misheard"):
        table.add_column(column, justify="right", no_wrap=True)

    for name, row in result["summary"].items():
        ratio = row["p50_ratio_to_today"]
        table.add_row(
            name,
            f"{row['measured']}/{row['n']}",
            ms(row["p50_ms"]),
            ms(row["p95_ms"]),
            ms(row["max_ms"]),
            "-" if ratio is None else f"{ratio:.2f}",
            f"{row['premature']}/{row['with_pause']}",
            f"{100 * row['wer']:.1f}%",
            f"{row['correct']}/{row['n']}",
            f"{row['same_action']}/{row['n']}",
            f"{row['misses_misheard']}/{row['n'] - row['same_action']}",
        )
    console = Console()
    console.print(table)
    for name, row in result["summary"].items():
        if row["timed_out"] or row["errors"]:
            console.print(
                f"{name}: {row['timed_out']} recordings over the time limit, {row['errors']} errors (see the JSON)"
            )
    for name, reason in result["skipped"].items():
        console.print(f"skipped {name}: {reason}")
