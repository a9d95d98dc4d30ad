"""Router metrics from predictions: pure functions, so they can be checked on hand-built cases.

An utterance may hold several calls: it is right when all its calls are right, in order; the
per-call accuracy counts calls right at their place. Small sets get 95 % Wilson intervals.
:func:`confirm_curve` is the trade-off of asking before acting (``[router] confirm_below``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assistant.routing.calls import Calls
from assistant.runtime.pack import FALLBACK_SKILL, REFUSAL_SKILL, acts
from assistant.timing import percentile


@dataclass(frozen=True)
class Prediction:
    user: str
    expected: Calls
    predicted: Calls  # read only when parsed
    parsed: bool
    latency_ms: float
    raw: str = ""
    resolved_same: tuple[bool, ...] | None = None  # per expected call: resolves to the same action at its place
    confidence: float = 1.0  # how sure the router was (Routed.confidence)
    confirmable: bool = False  # the predicted calls are asked about when the router is unsure (pipeline.asked_first)

    @property
    def calls_right(self) -> int:
        """Expected calls predicted at their place (resolved to the same action)."""
        if not self.parsed:
            return 0
        if self.resolved_same is None:
            # strict=False: more or fewer calls than expected may be predicted; those past the shorter list are wrong
            return sum(p == e for p, e in zip(self.predicted, self.expected, strict=False))
        return sum(self.resolved_same)

    @property
    def correct(self) -> bool:
        return self.parsed and self.predicted == self.expected

    @property
    def resolved_correct(self) -> bool:
        """Exactly right, or as many calls, each of the same skill with every argument resolving to the same value."""
        return self.correct or (
            self.parsed
            and len(self.predicted) == len(self.expected)
            and self.resolved_same is not None
            and all(self.resolved_same)
        )


def label(calls: Calls) -> str:
    """What a per-skill row is keyed by: the skill of a single call, else the number of calls."""
    return calls[0].name if len(calls) == 1 else f"({len(calls)} calls)"


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The 95 % Wilson score interval of a proportion; None for an empty set."""
    if not n:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_difference(
    first: Mapping[str, bool], second: Mapping[str, bool], z: float = 1.96
) -> tuple[float, float, float, int]:
    """How much more often ``first`` is right than ``second`` on the same items (recordings, commands) by name,
    with the 95 % Wald interval of a paired difference: (difference, low, high, items compared)."""
    names = sorted(first.keys() & second.keys())
    if not names:
        raise ValueError("no item scored in both")
    only_first = sum(1 for name in names if first[name] and not second[name])
    only_second = sum(1 for name in names if second[name] and not first[name])
    n = len(names)
    difference = (only_first - only_second) / n
    half = z * math.sqrt(max(0.0, only_first + only_second - (only_first - only_second) ** 2 / n)) / n
    return difference, difference - half, difference + half, n


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def overlap(predicted: Counter, expected: Counter) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of two multisets, e.g. of argument pairs."""
    hits = sum((predicted & expected).values())
    return hits, sum(predicted.values()) - hits, sum(expected.values()) - hits


def _pairs(calls: Calls) -> Counter:
    return Counter((call.name, key, repr(value)) for call in calls for key, value in call.args)


def _only_fallback(calls: Calls) -> bool:
    return [call.name for call in calls] == [FALLBACK_SKILL]


def _only_refusal(calls: Calls) -> bool:
    return [call.name for call in calls] == [REFUSAL_SKILL]


def _acted(p: Prediction) -> bool:
    return p.parsed and acts(p.predicted)


def _same_skills(p: Prediction) -> bool:
    return p.parsed and [c.name for c in p.predicted] == [c.name for c in p.expected]


def score(predictions: list[Prediction]) -> dict[str, Any]:
    """Every metric eval.py reports, under the keys of its ``--json-out`` file.

    An unparseable prediction counts as wrong everywhere and, as at runtime, acts like ``other()``.
    False activation: an action (a call other than ``other()`` and ``cant_do()``) where ``other()`` was
    right, so an honest refusal of overheard talk is no activation (it is counted apart, as
    ``refused_overheard_rate``); missed command: no action where one was right. Both are None when no
    expected call is ``other()`` (a pack without it). ``acted_on_cant_do_rate``: an action where
    ``cant_do()`` was right; None without such expectations. ``served_accuracy``: resolved right among the
    utterances that expect an action (what the pack can serve).
    """
    n = len(predictions)
    true_pos = false_pos = false_neg = 0
    per_skill: dict[str, dict[str, int]] = defaultdict(lambda: {"n": 0, "skill_correct": 0, "exact": 0, "resolved": 0})
    confusion: dict[str, Counter] = defaultdict(Counter)
    for p in predictions:
        hits, misses, missing = overlap(_pairs(p.predicted) if p.parsed else Counter(), _pairs(p.expected))
        true_pos, false_pos, false_neg = true_pos + hits, false_pos + misses, false_neg + missing
        row = per_skill[label(p.expected)]
        row["n"] += 1
        row["skill_correct"] += _same_skills(p)
        row["exact"] += p.correct
        row["resolved"] += p.resolved_correct
        confusion[label(p.expected)][label(p.predicted) if p.parsed and p.predicted else "(unparsed)"] += 1
    precision = _ratio(true_pos, true_pos + false_pos)
    recall = _ratio(true_pos, true_pos + false_neg)
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else (0.0 if n else None)
    negatives = [p for p in predictions if _only_fallback(p.expected)]
    refusals = [p for p in predictions if _only_refusal(p.expected)]
    positives = [p for p in predictions if acts(p.expected)]
    has_no_op = bool(negatives)
    latencies = [p.latency_ms for p in predictions]
    exact, resolved = sum(p.correct for p in predictions), sum(p.resolved_correct for p in predictions)
    calls_expected = sum(max(len(p.expected), len(p.predicted) if p.parsed else 0) for p in predictions)
    return {
        "n": n,
        "parse_rate": _ratio(sum(p.parsed for p in predictions), n),
        "skill_accuracy": _ratio(sum(_same_skills(p) for p in predictions), n),
        "exact_call_accuracy": _ratio(exact, n),
        "exact_call_accuracy_ci95": wilson(exact, n),
        "resolved_call_accuracy": _ratio(resolved, n),
        "resolved_call_accuracy_ci95": wilson(resolved, n),
        "per_call_accuracy": _ratio(sum(p.calls_right for p in predictions), calls_expected),
        "argument_precision": precision,
        "argument_recall": recall,
        "argument_f1": f1,
        "false_activation_rate": _ratio(sum(_acted(p) for p in negatives), len(negatives)) if has_no_op else None,
        "refused_overheard_rate": _ratio(
            sum(p.parsed and _only_refusal(p.predicted) for p in negatives), len(negatives)
        )
        if has_no_op
        else None,
        "missed_command_rate": _ratio(sum(not _acted(p) for p in positives), len(positives)) if has_no_op else None,
        "acted_on_cant_do_rate": _ratio(sum(_acted(p) for p in refusals), len(refusals)),
        "acted_on_cant_do_rate_ci95": wilson(sum(_acted(p) for p in refusals), len(refusals)),
        "served_accuracy": _ratio(sum(p.resolved_correct for p in positives), len(positives)),
        "served_accuracy_ci95": wilson(sum(p.resolved_correct for p in positives), len(positives)),
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
                "confidence": p.confidence,
                "confirmable": p.confirmable,
            }
            for p in predictions
        ],
    }


CURVE_STEP = 0.05  # thresholds from 0 to 0.95 in these steps, and the deciles of the confidences asked about
CURVE_DECILES = 9


def curve_thresholds(predictions: list[Prediction]) -> list[float]:
    """The thresholds a curve is drawn at: 0 to 0.95 in steps of :data:`CURVE_STEP`, and the deciles of the
    confidences of the actions that may be asked about (a well-trained router's are mostly above 0.95)."""
    fixed = {round(step * CURVE_STEP, 2) for step in range(round(1 / CURVE_STEP))}
    askable = sorted(p.confidence for p in predictions if _acted(p) and p.confirmable)
    deciles = (
        {askable[len(askable) * k // (CURVE_DECILES + 1)] for k in range(1, CURVE_DECILES + 1)} if askable else set()
    )
    return sorted(fixed | deciles)


def confirm_curve(predictions: list[Prediction], thresholds: list[float] | None = None) -> list[dict[str, Any]]:
    """What asking before acting would do at each threshold (asked: an action the pipeline may ask about, routed
    with confidence below the threshold). An action is any call but ``other()`` and ``cant_do()``; it is right when
    it resolves to the expected action. Per threshold: the share of actions asked about, the wrong actions still
    taken over all predictions, and the share of right actions asked about (the cost: a needless question)."""
    actions = [p for p in predictions if _acted(p)]
    right = [p for p in actions if p.resolved_correct]
    rows = []
    for threshold in thresholds if thresholds is not None else curve_thresholds(predictions):
        asked = [p for p in actions if p.confirmable and p.confidence < threshold]
        wrong_left = sum(not p.resolved_correct for p in actions) - sum(not p.resolved_correct for p in asked)
        right_asked = sum(p.resolved_correct for p in asked)
        rows.append(
            {
                "threshold": threshold,
                "asked": len(asked),
                "asked_rate": _ratio(len(asked), len(actions)),
                "wrong_actions_left": wrong_left,
                "wrong_actions_left_rate": _ratio(wrong_left, len(predictions)),
                "right_actions_asked": right_asked,
                "right_actions_asked_rate": _ratio(right_asked, len(right)),
            }
        )
    return rows
