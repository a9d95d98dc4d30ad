"""Which judge should end a turn early: ``python -m benchmarks.latency --turn-end``.

The listening loop ends a turn at a short pause when its judge calls what was said so far
finished: the router (the request is complete for a skill), Pipecat's Smart Turn v3 (the voice
sounds finished) or both. This scores the three judges on the same audio, offline, with the same
models as the loop:

- **whole**: every recording cut at its last voiced frame. Called finished is good: the turn
  ends after ``early_s`` instead of the silence window.
- **cut, unfinished**: the recordings with a pause, cut at the pause that comes before the last
  value ("set a timer for ..."). Called finished is a premature end of turn.
- **cut, looks finished**: cut before the phrase that carries the value ("what's the weather ...
  in Rome"). The first part is a request by itself, so either judgement is defensible; called
  finished means a read-only answer to the first part while the rest is still to come.

espeak-ng's flat prosody understates an audio model like Smart Turn: these numbers are its floor.
Timings are per judgement, recognition included for the router.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant import Config, build_assistant
from assistant.config import RouterConfig
from assistant.voice.audio import SAMPLE_RATE, read_wav
from assistant.voice.listening import judged_complete, routed_finished, sounds_finished
from assistant.voice.smart_turn import SmartTurn
from benchmarks.latency.realtime import load_clips
from finetune.metrics import wilson

OUT = Path(__file__).with_name("results_turn_end.json")
JUDGES = ("router", "smart-turn", "both")
CASES = ("whole", "cut, unfinished", "cut, looks finished")


def run(adapter: Path, limit: int | None = None) -> dict[str, Any]:
    """Judge every piece of audio with each judge; counts of "finished" per case and judge."""
    load_before = os.getloadavg()
    assistant = build_assistant(Config(router=RouterConfig(adapter=str(adapter))))
    assistant.load()
    smart_turn = SmartTurn()
    pieces = []
    for clip in load_clips(limit):
        audio = read_wav(clip.path)
        pieces.append(("whole", clip.name, audio[: round(clip.speech_end_s * SAMPLE_RATE)]))
        if clip.resume_s is not None and clip.pause_s is not None:
            cut_s = clip.resume_s - clip.pause_s
            pieces.append((f"cut, {clip.pause_kind}", clip.name, audio[: round(cut_s * SAMPLE_RATE)]))
    rows: list[dict[str, Any]] = []  # JSON rows: names, a transcript and each judge's verdict
    router_ms, smart_ms = [], []
    for case, name, audio in pieces:
        start = time.perf_counter()
        transcript = assistant.recognise(audio)
        ahead = assistant.route_ahead(transcript) if transcript else None
        routed = routed_finished(ahead)
        router_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        audible = sounds_finished(smart_turn.complete, audio)
        smart_ms.append((time.perf_counter() - start) * 1000)
        rows.append(
            {
                "case": case,
                "recording": name,
                "transcript": transcript,
                "calls": str(ahead.routed.calls) if ahead else None,
                **{judge: judged_complete(judge, routed, audible, transcript) for judge in JUDGES},
            }
        )
    summary = {
        case: {judge: _share([r[judge] for r in rows if r["case"] == case]) for judge in JUDGES} for case in CASES
    }
    return {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "summary": summary,
        "judgement_ms_p50": {
            "router (recognition included)": statistics.median(router_ms),
            "smart-turn": statistics.median(smart_ms),
        },
        "rows": rows,
    }


def _share(values: list[bool]) -> dict[str, Any]:
    n, hits = len(values), sum(values)
    return {"n": n, "finished": hits, "share": hits / n if n else None, "ci95": wilson(hits, n)}


def show(result: dict[str, Any]) -> None:
    table = Table(title="called finished, by judge (whole: higher is faster; cut, unfinished: higher is premature)")
    table.add_column("audio")
    for judge in JUDGES:
        table.add_column(judge, justify="right")
    for case, by_judge in result["summary"].items():
        table.add_row(
            f"{case} (n={by_judge['router']['n']})",
            *(f"{100 * v['share']:.1f} %" if v["share"] is not None else "-" for v in by_judge.values()),
        )
    Console().print(table)
    timing = ", ".join(f"{name} {value:.0f} ms" for name, value in result["judgement_ms_p50"].items())
    Console().print(
        f"p50 per judgement: {timing}; load {result['machine']['load_average_before'][0]:.1f} before, "
        f"{result['machine']['load_average_after'][0]:.1f} after"
    )
