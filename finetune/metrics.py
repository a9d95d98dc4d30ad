"""Router metrics from predictions: pure functions, so they can be checked on hand-built cases."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from assistant.calls import Call
from assistant.pack import FALLBACK_SKILL
from assistant.timing import percentile


@dataclass(frozen=True)
class Prediction:
    user: str
    expected: Call
    predicted: Call | None  # read only when parsed
    parsed: bool
    latency_ms: float
    raw: str = ""
    resolved_same: bool | None = None  # the calls resolve to the same action (None: not known, counts as exact)

    @property
    def correct(self) -> bool:
        return self.parsed and self.predicted == self.expected

    @property
    def resolved_correct(self) -> bool:
        """Exactly right, or the same skill with every argument resolving to the same value."""
        return self.correct or (self.parsed and bool(self.resolved_same))


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def overlap(predicted: Counter, expected: Counter) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of two multisets, e.g. of argument pairs."""
    hits = sum((predicted & expected).values())
    return hits, sum(predicted.values()) - hits, sum(expected.values()) - hits


def _pairs(call: Call) -> Counter:
    return Counter((call.name, key, repr(value)) for key, value in call.args)


def score(predictions: list[Prediction]) -> dict[str, Any]:
    """Every metric eval.py reports, under the keys of its ``--json-out`` file.

    An unparseable prediction counts as wrong everywhere and, as at runtime, acts like ``other()``.
    False activation: a call where ``other()`` was right; missed command: nothing done where a
    call was right. Both are None when no expected call is ``other()`` (a pack without it).
    """
    n = len(predictions)
    true_pos = false_pos = false_neg = 0
    per_skill: dict[str, dict[str, int]] = defaultdict(lambda: {"n": 0, "skill_correct": 0, "exact": 0, "resolved": 0})
    confusion: dict[str, Counter] = defaultdict(Counter)
    for p in predictions:
        hits, misses, missing = overlap(_pairs(p.predicted) if p.parsed else Counter(), _pairs(p.expected))
        true_pos, false_pos, false_neg = true_pos + hits, false_pos + misses, false_neg + missing
        row = per_skill[p.expected.name]
        row["n"] += 1
        row["skill_correct"] += p.parsed and p.predicted.name == p.expected.name
        row["exact"] += p.correct
        row["resolved"] += p.resolved_correct
        confusion[p.expected.name][p.predicted.name if p.parsed else "(unparsed)"] += 1
    precision = _ratio(true_pos, true_pos + false_pos)
    recall = _ratio(true_pos, true_pos + false_neg)
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else (0.0 if n else None)
    negatives = [p for p in predictions if p.expected.name == FALLBACK_SKILL]
    positives = [p for p in predictions if p.expected.name != FALLBACK_SKILL]
    has_no_op = bool(negatives)
    latencies = [p.latency_ms for p in predictions]
    return {
        "n": n,
        "parse_rate": _ratio(sum(p.parsed for p in predictions), n),
        "skill_accuracy": _ratio(sum(p.parsed and p.predicted.name == p.expected.name for p in predictions), n),
        "exact_call_accuracy": _ratio(sum(p.correct for p in predictions), n),
        "resolved_call_accuracy": _ratio(sum(p.resolved_correct for p in predictions), n),
        "argument_precision": precision,
        "argument_recall": recall,
        "argument_f1": f1,
        "false_activation_rate": _ratio(sum(p.parsed and p.predicted.name != FALLBACK_SKILL for p in negatives),
                                        len(negatives)) if has_no_op else None,
        "missed_command_rate": _ratio(sum(not p.parsed or p.predicted.name == FALLBACK_SKILL for p in positives),
                                      len(positives)) if has_no_op else None,
        "latency_ms_p50": percentile(latencies, 0.5),
        "latency_ms_p95": percentile(latencies, 0.95),
        "per_skill": {
            name: {
                "n": row["n"],
                "skill_accuracy": row["skill_correct"] / row["n"],
                "exact_call_accuracy": row["exact"] / row["n"],
                "resolved_call_accuracy": row["resolved"] / row["n"],
            }
            for name, row in sorted(per_skill.items())
        },
        "confusion": {name: dict(counts) for name, counts in sorted(confusion.items())},
        "predictions": [
            {
                "user": p.user,
                "expected": str(p.expected),
                "predicted": str(p.predicted) if p.parsed else p.raw,
                "correct": p.correct,
                "resolved_correct": p.resolved_correct,
                "latency_ms": round(p.latency_ms, 2),
            }
            for p in predictions
        ],
    }
