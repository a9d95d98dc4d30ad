"""Several commands in one breath, follow-ups and timers: ``python -m benchmarks.dialogue``.

Scores a router on the independent sets in benchmarks/router (written without looking at the
examples): single commands alone and with an unrelated previous turn in the prompt, compound
utterances, follow-up exchanges and timer commands; with ``--baseline``, a second router (the
one before this change) on the single-command sets in the same run. Accuracy comes with 95 %
Wilson intervals (the sets are small); single-command routing latency with and without a
previous turn is compared in interleaved pairs of one utterance. It also asks the router, as the
listening loop does at a pause, whether each single command is finished, whole and cut before its
last spoken value ("what's the weather in"). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant import SkillPack, load_pack
from assistant.dialogue import Exchange, remembered
from assistant.files import write_atomically
from assistant.routing.router import SHIPPED_ADAPTER, load_local_router
from assistant.runtime.resolution import question
from benchmarks import INDEPENDENT_SETS
from finetune.compose import cut_before_last_spoken
from finetune.eval import evaluate
from finetune.metrics import wilson
from finetune.records import Record, read_records

SETS = Path(__file__).resolve().parent.parent / "router"
OUT = Path(__file__).resolve().parent / "results.json"
KEYS = (
    "n",
    "exact_call_accuracy",
    "exact_call_accuracy_ci95",
    "resolved_call_accuracy",
    "resolved_call_accuracy_ci95",
    "per_call_accuracy",
    "latency_ms_p50",
    "latency_ms_p95",
)


def with_unrelated_turn(records: list[Record], pack: SkillPack, seed: int = 0) -> list[Record]:
    """Each single command after another command of the set with a different skill, routed right (and
    asked about, where its arguments do not resolve)."""
    rng = random.Random(seed)
    commands = [r for r in records if r.calls[0].name != "other"]
    paired = []
    for record in records:
        before = rng.choice([r for r in commands if r.calls[0].name != record.calls[0].name])
        context = Exchange(remembered(before.user), before.calls, question(pack, before.calls))
        paired.append(Record(record.user, record.calls, record.split, context))
    return paired


def previous_turn_cost(router: Any, records: list[Record]) -> dict[str, Any]:
    """Routing time with the previous turn over without it, as the median of per-utterance ratios.

    Each utterance is routed alone and after its turn back to back, in alternating order, so the
    shared machine's load drifts alike for both; those that decode differently are left out (their
    output length, not the prompt, would set the ratio). After the turn it is routed twice: first
    unprepared, then prepared as the assistant does while the user speaks (the turn's prompt head
    encoded beforehand, :meth:`~assistant.routing.router.LocalRouter.prepare`, not timed).
    """
    prepared, unprepared = [], []
    for n, record in enumerate(records):

        def after_turn(record: Record = record) -> tuple[Any, Any]:  # this iteration's record, bound
            cold = router.route(record.user, record.context)
            router.prepare(record.context)
            return cold, router.route(record.user, record.context)

        if n % 2:
            alone, (cold, warm) = router.route(record.user), after_turn()
        else:
            (cold, warm), alone = after_turn(), router.route(record.user)
        if cold.text == warm.text == alone.text:
            unprepared.append(cold.latency_ms / alone.latency_ms)
            prepared.append(warm.latency_ms / alone.latency_ms)
    return {
        "ratio_p50": statistics.median(prepared) if prepared else None,
        "ratio_p50_unprepared": statistics.median(unprepared) if unprepared else None,
        "pairs": len(prepared),
        "of": len(records),
    }


def finished_judgements(router: Any, records: list[Record], pack: SkillPack) -> dict[str, Any]:
    """How often the router calls a whole command finished, and one cut before its last value unfinished."""
    commands = [r for r in records if len(r.calls) == 1 and r.calls[0] != pack.fallback]
    whole = [not router.route(r.user, allow_unfinished=True).calls.unfinished for r in commands]
    cuts = [cut for r in commands if (cut := cut_before_last_spoken(r.user.strip(), r.calls[0], pack)) is not None]
    unfinished = [router.route(cut, allow_unfinished=True).calls.unfinished for cut in cuts]
    return {
        "whole_called_finished": sum(whole) / len(whole),
        "whole_n": len(whole),
        "whole_ci95": wilson(sum(whole), len(whole)),
        "cut_called_unfinished": sum(unfinished) / len(unfinished) if unfinished else None,
        "cut_n": len(cuts),
        "cut_ci95": wilson(sum(unfinished), len(unfinished)),
        "cut_called_finished": [cut for cut, said in zip(cuts, unfinished, strict=True) if not said],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=SHIPPED_ADAPTER, help="the router (default: the shipped one)")
    parser.add_argument("--baseline", type=Path, help="a router to compare on the single-command sets")
    parser.add_argument("--limit", type=int, help="only the first N records of each set (a quick look)")
    parser.add_argument("--json-out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    pack = load_pack()
    sets = {name: read_records(SETS / f"{file}.jsonl", pack) for name, file in INDEPENDENT_SETS.items()}
    sets["single, after an unrelated turn"] = with_unrelated_turn(sets["single"], pack)  # turns from the whole set
    sets = {name: records[: args.limit] for name, records in sets.items()}
    order = ["single", "single, after an unrelated turn", "compound", "follow-up", "timers"]
    routers = {"this router": args.model, **({"before": args.baseline} if args.baseline else {})}
    results: dict[str, dict[str, Any]] = {}
    for label, folder in routers.items():
        router = load_local_router(pack, folder)
        router.route("what time is it")  # warm-up: conversion and caches are not a turn's cost
        for name in order if label == "this router" else order[:1]:
            metrics = evaluate(router, sets[name], pack, f"{label}: {name}")
            results[f"{label} | {name}"] = {key: metrics[key] for key in KEYS}
            results[f"{label} | {name}"]["predictions"] = [p for p in metrics["predictions"] if not p["correct"]]
        if label == "this router":
            judged = finished_judgements(router, sets["single"], pack)
            cost = previous_turn_cost(router, sets["single, after an unrelated turn"])
    report = {
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg(), "python": platform.python_version()},
        "model": str(args.model),
        "baseline": str(args.baseline) if args.baseline else None,
        "latency_with_previous_turn": cost,
        "finished": judged,
        "results": results,
    }
    table = Table(title=f"{args.model} on the independent sets (95 % intervals)")
    for column in (
        "router",
        "set",
        "n",
        "all calls right (exact)",
        "all calls right (resolved)",
        "per call",
        "route p50",
    ):
        table.add_column(column, justify="left" if column in ("router", "set") else "right")
    for key, row in results.items():
        label, name = key.split(" | ")
        table.add_row(
            label,
            name,
            str(row["n"]),
            _with_interval(row, "exact_call_accuracy"),
            _with_interval(row, "resolved_call_accuracy"),
            f"{100 * row['per_call_accuracy']:.1f}%",
            f"{row['latency_ms_p50']:.0f} ms",
        )
    console = Console()
    console.print(table)
    console.print(
        f"finished? whole commands called finished: {_share(judged, 'whole_called_finished', 'whole')}; "
        f"cut before their last value called unfinished: {_share(judged, 'cut_called_unfinished', 'cut')}"
    )
    console.print(
        f"single-command routing with a previous turn in the prompt: {_ratio(cost, 'ratio_p50')} the time "
        f"without one, prepared as the assistant does ({_ratio(cost, 'ratio_p50_unprepared')} unprepared); "
        f"median of {cost['pairs']} interleaved pairs that decode alike, of {cost['of']}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    write_atomically(args.json_out, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0


def _ratio(cost: dict[str, Any], key: str) -> str:
    return "?" if cost[key] is None else f"{cost[key]:.2f}×"  # "?": no pair decoded alike


def _share(judged: dict[str, Any], key: str, kind: str) -> str:
    low, high = judged[f"{kind}_ci95"]
    return f"{100 * judged[key]:.1f}% ({100 * low:.1f}–{100 * high:.1f}) of {judged[f'{kind}_n']}"


def _with_interval(row: dict[str, Any], key: str) -> str:
    low, high = row[f"{key}_ci95"]
    return f"{100 * row[key]:.1f}% ({100 * low:.1f}–{100 * high:.1f})"


if __name__ == "__main__":
    raise SystemExit(main())
