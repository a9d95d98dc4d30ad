"""Two skills the router has never seen, learned in minutes: ``python -m benchmarks.learn``.

The pack is the default one plus ``convert_units`` and ``alarm`` (benchmarks/learn/skills.py), authored
as a user authors skills; ``heldout.jsonl`` holds their phrasings and near misses, written by someone who
did not see the example files. In one run it reports: the held-out accuracy right away (the instant path
over the new example files, the router not yet taught), the wall-clock time of ``voxroute learn`` on the
two files (data set, training, merging and conversion, Python's start included), the held-out accuracy
after it, and every independent set of benchmarks/router with the router before (the default pack) and
after (the learned pack), each through the instant path as at runtime. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant import SkillPack, load_pack
from assistant.files import write_atomically
from assistant.routing.instant import InstantMatcher, InstantRouter
from assistant.routing.router import SHIPPED_ADAPTER, Router, load_local_router
from assistant.runtime.example_files import read_example_files
from finetune import learn
from finetune.eval import evaluate
from finetune.metrics import wilson
from finetune.records import Record, read_records

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MODULE = "benchmarks.learn.skills"
EXAMPLES = HERE / "examples"
NEW_FILES = (EXAMPLES / "convert_units_examples.txt", EXAMPLES / "alarm_examples.txt")
HELDOUT = HERE / "heldout.jsonl"
SETS = REPO / "benchmarks" / "router"
EXCLUDED = (*sorted(SETS.glob("*.jsonl")), *sorted((REPO / "benchmarks" / "corpora").glob("*.jsonl")), HELDOUT)
OUT = HERE / "results.json"
NEW_SKILLS = frozenset({"convert_units", "alarm"})
console = Console()


def instant_only(pack: SkillPack, records: list[Record]) -> dict[str, Any]:
    """The held-out accuracy before any training: what the pack's own sentences answer; the rest is unanswered."""
    matcher = InstantMatcher.for_pack(pack)
    right = sum(matcher.match(record.user) == record.calls for record in records if record.context is None)
    interval = wilson(right, len(records))
    return {"n": len(records), "right": right, "accuracy": right / len(records), "ci95": interval}


def timed_learn(adapter: Path, output: Path, steps: int | None) -> float:
    """Seconds ``voxroute learn`` took on the new files, start-up included."""
    command = [sys.executable, "-m", "assistant.cli", "learn", "--skills", MODULE, "--examples", str(EXAMPLES)]
    command += [*map(str, NEW_FILES), "--adapter", str(adapter), "--out", str(output)]
    command += [*(["--steps", str(steps)] if steps else []), "--exclude", *map(str, EXCLUDED)]  # --exclude takes all
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO)
    return time.perf_counter() - start


def relabelled(records: list[Record], pack: SkillPack) -> tuple[list[Record], int]:
    """The set as the learned pack reads it: a sentence the new files' own sentences answer whole ("set an alarm
    for seven", once a can't-do) gets that call, as ``voxroute learn`` relabels its replay; and how many did."""
    files = read_example_files(pack.example_files(), pack)
    new = [example_file for example_file in files if example_file.path.name in {path.name for path in NEW_FILES}]
    matcher = InstantMatcher(pack, new, vocabulary=files)
    changed, out = 0, []
    for record in records:
        calls = matcher.match(record.user) if record.context is None else None
        if calls is not None and calls != record.calls:
            record, changed = dataclasses.replace(record, calls=calls), changed + 1
        out.append(record)
    return out, changed


def routed(router: Router, pack: SkillPack, records: list[Record], label: str) -> dict[str, Any]:
    metrics = evaluate(InstantRouter(router, InstantMatcher.for_pack(pack)), records, pack, label)
    return {key: metrics[key] for key in ("n", "resolved_call_accuracy", "resolved_call_accuracy_ci95")} | {
        "false_activation_rate": metrics["false_activation_rate"],
        "predictions": metrics["predictions"],
    }


def new_skills_only(result: dict[str, Any], records: list[Record]) -> dict[str, Any]:
    """The held-out rows of the two new skills alone (the near misses apart)."""
    rows = [
        (record, row)
        for record, row in zip(records, result["predictions"], strict=True)
        if record.calls[0].name in NEW_SKILLS
    ]
    right = sum(row["resolved_correct"] for _, row in rows)
    return {"n": len(rows), "right": right, "accuracy": right / len(rows), "ci95": wilson(right, len(rows))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--adapter", type=Path, default=SHIPPED_ADAPTER, help="the router before (default: shipped)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "learn", help="where learn writes its adapter")
    parser.add_argument("--steps", type=int, help="learn's --steps (default: its own)")
    parser.add_argument("--learned", type=Path, help="an adapter already learned: time nothing, score it")
    parser.add_argument("--limit", type=int, help="only the first N records of each set (a quick look)")
    parser.add_argument("--json-out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    before_pack, after_pack = load_pack(), load_pack(MODULE, EXAMPLES)
    heldout = read_records(HELDOUT, after_pack)[: args.limit]
    sets = {path.stem: read_records(path, before_pack)[: args.limit] for path in sorted(SETS.glob("*.jsonl"))}
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg(), "python": platform.python_version()},
        "instant_before_learning": instant_only(after_pack, [r for r in heldout if r.calls[0].name in NEW_SKILLS]),
    }
    learned = args.learned
    if learned is None:
        results["learn_s"] = timed_learn(args.adapter, args.out, args.steps)
        results["learn_steps"] = args.steps or learn.STEPS
        learned = args.out
    after = load_local_router(after_pack, learned)
    held = routed(after, after_pack, heldout, "held-out, learned")
    results["heldout_after"] = held | {"new_skills": new_skills_only(held, heldout)}
    before = load_local_router(before_pack, args.adapter)
    results["sets"] = {}
    for name, records in sets.items():
        now, changed = relabelled(records, after_pack)
        results["sets"][name] = {
            "before": routed(before, before_pack, records, f"{name}, before"),
            "after": routed(after, after_pack, now, f"{name}, learned"),
            "relabelled_for_the_new_skills": changed,
        }
    results["machine"]["load_average_after"] = os.getloadavg()
    write_atomically(args.json_out, json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    console.print(table(results))
    return 0


def _pct(value: float | None, interval: Any = None) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f} %" + (f" ({100 * interval[0]:.1f}-{100 * interval[1]:.1f})" if interval else "")


def table(results: dict[str, Any]) -> Table:
    shown = Table(title="two new skills learned")
    shown.add_column("what")
    shown.add_column("before", justify="right")
    shown.add_column("after learning", justify="right")
    instant, after = results["instant_before_learning"], results["heldout_after"]["new_skills"]
    shown.add_row(
        "new skills' held-out phrasings (instant path / learned)",
        _pct(instant["accuracy"], instant["ci95"]),
        _pct(after["accuracy"], after["ci95"]),
    )
    if "learn_s" in results:
        shown.add_row("minutes to learn (voxroute learn, wall clock)", "", f"{results['learn_s'] / 60:.1f}")
    for name, pair in results["sets"].items():
        shown.add_row(
            f"{name} (resolved, n={pair['after']['n']})",
            _pct(pair["before"]["resolved_call_accuracy"], pair["before"]["resolved_call_accuracy_ci95"]),
            _pct(pair["after"]["resolved_call_accuracy"], pair["after"]["resolved_call_accuracy_ci95"]),
        )
    return shown


if __name__ == "__main__":
    sys.exit(main())
