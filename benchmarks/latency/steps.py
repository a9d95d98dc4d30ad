"""Where routing's decode steps go: ``python -m benchmarks.latency --steps``.

Routes the independent sets' utterances with the shipped router and, per call, counts the tokens decoded
and the tokens the grammar forced (no choice left: ``weather(location="`` after ``weather``, the closing
``")``), and the lengths of the forced runs. Only runs long enough pay for a jump on CTranslate2 (a jump
re-processes everything after the cached static prompt): the table shows how many tokens sit in runs of each
length. It also splits the time to the first finished call into what comes before decoding (tokenizing,
the per-request span grammar), the first token (the prompt's new words plus one step) and the rest.

In the same run each utterance is also routed with the drafter's guesses checked first
(:mod:`assistant.routing.drafts`), in alternating order, the time to the first call taken the same way
(when the router hands it on): both p50s, their ratio, and whether the calls came out the same.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llguidance
from rich.console import Console
from rich.table import Table

from assistant import load_pack
from assistant.routing.calls import finished_calls
from assistant.routing.decoding import Decoded, Engine, Guess, Progress
from assistant.routing.drafts import CallDrafter
from assistant.routing.router import LocalRouter, load_local_router
from assistant.timing import percentile

OUT = Path(__file__).resolve().parent / "results_steps.json"
SETS = ("fresh_utterances", "timers", "compound")  # typed one-turn sets: a follow-up's head is another prompt
JUMP_PAYS_FROM = 3  # a jump costs about two decoded tokens on CTranslate2 (the measurement)


@dataclass
class Trace:
    """One decode as it happened: when decoding started, when each step's ids arrived, and the ids."""

    started: float = 0.0
    steps: list[tuple[float, int]] | None = None
    ids: list[int] | None = None
    drafted: int = 0


class TracedEngine:
    """The router's engine, recording each decode's step times and ids for :func:`forced_runs`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.trace = Trace()

    def prepare(self, prefix_ids: list[int]) -> None:
        self.engine.prepare(prefix_ids)

    def decode(
        self,
        prompt_ids: list[int],
        fixed_len: int,
        matcher: llguidance.LLMatcher,
        max_new_tokens: int,
        deadline: float = float("inf"),
        progress: Progress = lambda generated: None,
        guess: Guess = lambda generated: [],
    ) -> Decoded:
        steps: list[tuple[float, int]] = []
        self.trace = Trace(time.perf_counter(), steps)

        def traced(generated: list[int]) -> None:
            steps.append((time.perf_counter(), len(generated)))
            self.trace.ids = list(generated)
            progress(generated)

        decoded = self.engine.decode(prompt_ids, fixed_len, matcher, max_new_tokens, deadline, traced, guess)
        self.trace.drafted = decoded.drafted
        return decoded


def forced_runs(matcher: llguidance.LLMatcher, ids: list[int]) -> list[int]:
    """The lengths of the runs of ``ids`` that the grammar forced, replaying them through a fresh ``matcher``."""
    runs: list[int] = []
    index = 0
    while index < len(ids) and not matcher.is_stopped():
        forced = matcher.compute_ff_tokens()
        if forced and ids[index : index + len(forced)] == forced:
            runs.append(len(forced))
            matcher.consume_tokens(forced)
            index += len(forced)
            continue
        matcher.consume_token(ids[index])
        index += 1
    return runs


def to_first_call(router: LocalRouter, utterance: str, drafter: CallDrafter | None) -> tuple[float, str, int]:
    """Route with or without ``drafter``: ms to the first call handed on, the calls, the tokens kept from guesses."""
    router.drafter = drafter
    handed: list[float] = []
    start = time.perf_counter()
    routed = router.route(utterance, on_call=lambda call: handed.append(time.perf_counter()))
    router.drafter = None
    assert isinstance(router.engine, TracedEngine)
    return (
        ((handed[0] if handed else time.perf_counter()) - start) * 1000,
        str(routed.calls),
        router.engine.trace.drafted,
    )


def measure(router: LocalRouter, utterance: str, drafter: CallDrafter, drafted_first: bool) -> dict[str, Any]:
    """One utterance routed: tokens decoded and forced, the time to its first call, split, and both ways timed
    (without and with the drafter's guesses, in the order given)."""
    engine = router.engine
    assert isinstance(engine, TracedEngine)
    timed = {}
    for with_drafts in (drafted_first, not drafted_first):
        timed[with_drafts] = to_first_call(router, utterance, drafter if with_drafts else None)
    start = time.perf_counter()
    routed = router.route(utterance)
    trace = engine.trace
    ids = [token for token in trace.ids or [] if token != router.calls.eos_id]
    runs = forced_runs(router.calls.fresh(" ".join(utterance.split())), ids)
    steps = trace.steps or []
    first_call = next(
        (
            moment
            for moment, count in steps
            if finished_calls(router.tokenizer.decode(ids[:count]).removeprefix(router.template.lead))
        ),
        steps[-1][0] if steps else time.perf_counter(),
    )
    return {
        "utterance": utterance,
        "calls": str(routed.calls),
        "decoded": len(ids),
        "forced_runs": runs,
        "before_decoding_ms": (trace.started - start) * 1000,
        "first_token_ms": (steps[0][0] - trace.started) * 1000 if steps else None,
        "first_call_ms": (first_call - start) * 1000,
        "total_ms": routed.latency_ms,
        "to_first_call_ms": timed[False][0],
        "drafted_to_first_call_ms": timed[True][0],
        "drafted_calls": timed[True][1],
        "same_calls": timed[True][1] == timed[False][1] == str(routed.calls),
        "drafted_tokens": timed[True][2],
    }


def utterances(folder: Path) -> list[str]:
    return [
        json.loads(line)["user"]
        for name in SETS
        for line in (folder / f"{name}.jsonl").read_text().splitlines()
        if line.strip()
    ]


def run(adapter: Path, folder: Path, limit: int | None = None) -> dict[str, Any]:
    pack = load_pack()
    router = load_local_router(pack, adapter, drafts=False)
    router.engine = TracedEngine(router.engine)
    drafter = CallDrafter.for_pack(pack)
    said = utterances(folder)[:limit]
    router.route(said[0])  # warm-up
    rows = [measure(router, utterance, drafter, index % 2 == 1) for index, utterance in enumerate(said)]
    decoded = sum(row["decoded"] for row in rows)
    runs = Counter(length for row in rows for length in row["forced_runs"])
    forced = sum(length * count for length, count in runs.items())
    paying = sum(length * count for length, count in runs.items() if length >= JUMP_PAYS_FROM)
    jumps = sum(count for length, count in runs.items() if length >= JUMP_PAYS_FROM)

    def spread(key: str) -> dict[str, float | None]:
        values = [row[key] for row in rows if row[key] is not None]
        return {"p50": statistics.median(values), "p95": percentile(values, 0.95), "mean": statistics.fmean(values)}

    return {
        "sets": list(SETS),
        "utterances": len(rows),
        "load_average": os.getloadavg(),
        "tokens_decoded": decoded,
        "tokens_forced": forced,
        "forced_share": forced / decoded if decoded else 0.0,
        "forced_run_lengths": {str(length): runs[length] for length in sorted(runs)},
        "tokens_in_runs_that_pay": paying,
        "jumps_that_pay": jumps,
        "tokens_per_call": decoded / len(rows),
        "before_decoding_ms": spread("before_decoding_ms"),
        "first_token_ms": spread("first_token_ms"),
        "first_call_ms": spread("first_call_ms"),
        "total_ms": spread("total_ms"),
        "to_first_call_ms": spread("to_first_call_ms"),
        "drafted_to_first_call_ms": spread("drafted_to_first_call_ms"),
        "drafted_ratio_p50": statistics.median(row["drafted_to_first_call_ms"] for row in rows)
        / statistics.median(row["to_first_call_ms"] for row in rows),
        "same_calls": sum(row["same_calls"] for row in rows),
        "drafted_tokens_share": sum(row["drafted_tokens"] for row in rows) / decoded if decoded else 0.0,
        "rows": rows,
    }


def show(result: dict[str, Any]) -> None:
    console = Console()
    table = Table(title=f"Decode steps over {result['utterances']} utterances ({', '.join(result['sets'])})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("tokens decoded per utterance", f"{result['tokens_per_call']:.1f}")
    table.add_row("forced by the grammar", f"{result['tokens_forced']} of {result['tokens_decoded']}")
    table.add_row("forced share", f"{result['forced_share']:.1%}")
    table.add_row(
        f"in forced runs of {JUMP_PAYS_FROM}+ tokens",
        f"{result['tokens_in_runs_that_pay']} tokens in {result['jumps_that_pay']} runs",
    )
    table.add_row(
        "forced run lengths (length: runs)", ", ".join(f"{k}: {v}" for k, v in result["forced_run_lengths"].items())
    )
    for key, label in (
        ("before_decoding_ms", "before decoding (tokens, grammar)"),
        ("first_token_ms", "first token (prompt + one step)"),
        ("first_call_ms", "route start -> first call"),
        ("total_ms", "route start -> all calls"),
    ):
        table.add_row(f"{label}, p50 / p95 ms", f"{result[key]['p50']:.0f} / {result[key]['p95']:.0f}")
    table.add_row(
        "to the first call handed on, p50 / p95 ms: as decoded",
        f"{result['to_first_call_ms']['p50']:.0f} / {result['to_first_call_ms']['p95']:.0f}",
    )
    table.add_row(
        "   with guesses checked first",
        f"{result['drafted_to_first_call_ms']['p50']:.0f} / {result['drafted_to_first_call_ms']['p95']:.0f}",
    )
    table.add_row("   ratio of the p50s", f"{result['drafted_ratio_p50']:.2f}")
    table.add_row("   the same calls", f"{result['same_calls']} of {result['utterances']}")
    table.add_row("   tokens taken from guesses", f"{result['drafted_tokens_share']:.1%}")
    console.print(table)
    console.print(f"load average {', '.join(f'{value:.1f}' for value in result['load_average'])}")
