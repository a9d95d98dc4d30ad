"""Two runs of the barista benchmark compared on the same recordings: per condition, how much more often
the first is right, with the 95 % interval of the paired difference, and each run's median recognition time.

    python -m benchmarks.barista.compare runs/barista-bench/barista-audio-plain.jsonl \\
        runs/barista-bench/barista-30s-plain.jsonl --out benchmarks/barista/results_paired.json

``--out`` keeps every comparison made, one entry per pair of runs (a pair compared again replaces its entry).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from assistant.files import write_atomically
from assistant.timing import percentile
from benchmarks.barista.__main__ import RowLog
from finetune.metrics import paired_difference


def by_condition(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """A run's rows as condition -> recording -> row."""
    rows: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for (name, condition), row in RowLog.read(path).items():
        rows[condition][name] = row
    return rows


def compare(first: Path, second: Path) -> dict[str, Any]:
    a, b = by_condition(first), by_condition(second)
    conditions: dict[str, Any] = {}
    for condition in a:
        if condition in b:
            difference, low, high, n = paired_difference(
                {name: bool(row["accepted"]) for name, row in a[condition].items()},
                {name: bool(row["accepted"]) for name, row in b[condition].items()},
            )
            conditions[condition] = {
                "difference": difference,
                "difference_ci95": [low, high],
                "n": n,
                "stt_ms_p50": [stt_ms_p50(a[condition]), stt_ms_p50(b[condition])],
            }
    return {"first": first.stem, "second": second.stem, "conditions": conditions}


def stt_ms_p50(rows: dict[str, dict[str, Any]]) -> float | None:
    return percentile([row["stt_ms"] for row in rows.values() if row.get("stt_ms") is not None], 0.5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.barista.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("first", type=Path, help="a run's rows (runs/barista-bench/*.jsonl)")
    parser.add_argument("second", type=Path, help="the other run's rows")
    parser.add_argument("--out", type=Path, default=None, help="write the comparison as JSON")
    args = parser.parse_args(argv)
    result = compare(args.first, args.second)
    result["command"] = " ".join(["python -m benchmarks.barista.compare", *(sys.argv[1:] if argv is None else argv)])
    for condition, paired in result["conditions"].items():
        low, high = paired["difference_ci95"]
        print(
            f"{condition}: {result['first']} - {result['second']} = {100 * paired['difference']:+.1f} points "
            f"({100 * low:+.1f} to {100 * high:+.1f}) on {paired['n']} recordings"
        )
    if args.out is not None:
        made = json.loads(args.out.read_text()) if args.out.exists() else {"comparisons": {}}
        made["comparisons"][f"{result['first']} - {result['second']}"] = result
        write_atomically(args.out, json.dumps(made, indent=2) + "\n")


if __name__ == "__main__":
    main()
