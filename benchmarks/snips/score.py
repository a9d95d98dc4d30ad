"""Score eval.py's predictions with the metrics published for SNIPS.

Intent accuracy; slot F1 over (slot, value) pairs, micro-averaged (true/false positives and
misses summed over utterances, each utterance's pairs compared as multisets); exact-frame
accuracy (the intent and every slot right). A prediction that is not a call gets the intent
wrong and misses every expected slot; a positional argument names no slot, so it matches none.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assistant.files import write_atomically
from assistant.routing.calls import CallError, parse_call
from finetune.metrics import overlap

# Goo et al. 2018 test split, text input, as in the JointBERT README: intent, slot F1, exact frame (%).
PUBLISHED = {"JointBERT (BERT)": (99.14, 96.90, 93.00), "JointBERT (BERT+CRF)": (98.57, 97.24, 93.57)}


@dataclass(frozen=True)
class Frame:
    intent: str
    slots: Counter[tuple[str, str]]


@dataclass(frozen=True)
class Scores:
    n: int
    unparseable: int
    intent_correct: int
    exact_frames: int
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def intent_accuracy(self) -> float:
        return self.intent_correct / self.n

    @property
    def exact_frame_accuracy(self) -> float:
        return self.exact_frames / self.n

    @property
    def slot_precision(self) -> float:
        return _ratio(self.true_positives, self.true_positives + self.false_positives)

    @property
    def slot_recall(self) -> float:
        return _ratio(self.true_positives, self.true_positives + self.false_negatives)

    @property
    def slot_f1(self) -> float:
        return _ratio(2 * self.true_positives, 2 * self.true_positives + self.false_positives + self.false_negatives)

    def as_dict(self) -> dict[str, float | int]:
        metrics = ("intent_accuracy", "slot_precision", "slot_recall", "slot_f1", "exact_frame_accuracy")
        return {**{name: getattr(self, name) for name in metrics}, **asdict(self)}


def _ratio(part: int, whole: int) -> float:
    """part / whole, with 0/0 read as perfect (nothing to find and nothing wrongly found)."""
    return part / whole if whole else 1.0


def read_frame(text: str) -> Frame | None:
    """The intent and (slot, value) pairs of a call; None-valued arguments are absent; None if not a call."""
    try:
        raw = parse_call(text)
    except CallError:
        return None
    slots = Counter((name, str(value)) for name, value in raw.keywords if value is not None)
    slots.update(("", str(value)) for value in raw.positional if value is not None)
    return Frame(raw.name, slots)


def score(pairs: Iterable[tuple[str, str]]) -> Scores:
    """Score (expected call, predicted text) pairs; raise ValueError if an expected call does not parse."""
    n = unparseable = intents = exact = tp = fp = fn = 0
    for expected_text, predicted_text in pairs:
        expected = read_frame(expected_text)
        if expected is None:
            raise ValueError(f"expected call #{n + 1} does not parse: {expected_text!r}")
        predicted = read_frame(predicted_text)
        n += 1
        unparseable += predicted is None
        predicted = predicted or Frame("", Counter())
        intents += predicted.intent == expected.intent
        exact += predicted.intent == expected.intent and predicted.slots == expected.slots
        hits, misses, missing = overlap(predicted.slots, expected.slots)
        tp, fp, fn = tp + hits, fp + misses, fn + missing
    if n == 0:
        raise ValueError("no predictions to score")
    return Scores(n, unparseable, intents, exact, tp, fp, fn)


def breakdown(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, dict[str, float | int]]]:
    """Where the errors are: exact frames per intent, and per slot name its hits, false values and misses."""
    intents: dict[str, Counter[str]] = defaultdict(Counter)
    slots: dict[str, Counter[str]] = defaultdict(Counter)
    for expected_text, predicted_text in pairs:
        expected = read_frame(expected_text)
        if expected is None:
            raise ValueError(f"expected call does not parse: {expected_text!r}")
        predicted = read_frame(predicted_text) or Frame("", Counter())
        intents[expected.intent].update(
            n=1, exact=predicted.intent == expected.intent and predicted.slots == expected.slots
        )
        for name in {slot for slot, _ in expected.slots + predicted.slots}:
            hits, wrong, missed = overlap(
                Counter({k: v for k, v in predicted.slots.items() if k[0] == name}),
                Counter({k: v for k, v in expected.slots.items() if k[0] == name}),
            )
            slots[name].update(true_positives=hits, false_positives=wrong, false_negatives=missed)
    return {
        "per_intent": {
            intent: {"n": row["n"], "exact_frame_accuracy": row["exact"] / row["n"]}
            for intent, row in sorted(intents.items())
        },
        "per_slot": {
            name: {
                **row,
                "f1": _ratio(
                    2 * row["true_positives"],
                    2 * row["true_positives"] + row["false_positives"] + row["false_negatives"],
                ),
            }
            for name, row in sorted(
                slots.items(), key=lambda item: -item[1]["false_positives"] - item[1]["false_negatives"]
            )
        },
    }


def breakdown_tables(details: dict[str, dict[str, dict[str, float | int]]], worst: int = 10) -> tuple[Table, Table]:
    """Exact frame per intent, and the slots with the most errors."""
    intents = Table(title="exact frame per intent")
    for column in ("intent", "n", "exact frame"):
        intents.add_column(column, justify="left" if column == "intent" else "right")
    for intent, row in details["per_intent"].items():
        intents.add_row(intent, str(row["n"]), f"{100 * row['exact_frame_accuracy']:.1f}")
    slots = Table(title=f"the {worst} slots with the most errors")
    for column in ("slot", "right", "wrong or extra", "missed", "F1"):
        slots.add_column(column, justify="left" if column == "slot" else "right")
    for name, row in list(details["per_slot"].items())[:worst]:
        slots.add_row(
            name,
            str(row["true_positives"]),
            str(row["false_positives"]),
            str(row["false_negatives"]),
            f"{100 * row['f1']:.1f}",
        )
    return intents, slots


def table(scores: Scores, name: str) -> Table:
    """This run next to the published JointBERT results, in percent."""
    result = Table(title=f"SNIPS, {scores.n} utterances ({scores.unparseable} not a call)")
    for column in ("model", "intent acc", "slot F1", "exact frame"):
        result.add_column(column, justify="left" if column == "model" else "right")
    ours = (scores.intent_accuracy, scores.slot_f1, scores.exact_frame_accuracy)
    result.add_row(name, *(f"{100 * value:.2f}" for value in ours), style="bold")
    for model, published in PUBLISHED.items():
        result.add_row(model, *(f"{value:.2f}" for value in published))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("predictions", type=Path, help="eval.py's --json-out file")
    parser.add_argument("--json-out", type=Path, help="write the scores here as JSON (fractions, not percent)")
    args = parser.parse_args(argv)
    predictions = json.loads(args.predictions.read_text(encoding="utf-8"))["predictions"]
    pairs = [(row["expected"], row["predicted"]) for row in predictions]
    scores, details = score(pairs), breakdown(pairs)
    console = Console()
    console.print(table(scores, args.predictions.stem), *breakdown_tables(details))
    if args.json_out is not None:
        write_atomically(args.json_out, json.dumps({**scores.as_dict(), **details}, indent=1) + "\n")


if __name__ == "__main__":
    main()
