"""Convert the goo2018 SNIPS split (words, BIO slot tags, intent) into dataset records and example files.

train becomes train.json (split "train") and, with ``--examples DIR``, one otto-format file per
intent; dev becomes dev.json (split "validation": for choosing steps and settings) and test test.json
(split "test": for the final evaluation only). Both are kept whole, as published.

Training never sees a held-out utterance: a train utterance equal to a dev or test one (by
``utterance_key``) is dropped, and so is a repeat within train (the first is kept, also when the
repeat is labelled differently). A slot value is the words of its span joined by spaces; a slot
name tagged twice in one utterance keeps its first span, since a call holds each argument once.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from assistant import SkillPack, load_pack
from assistant.files import write_atomically
from assistant.routing.calls import Call, RawCall
from assistant.routing.spans import is_span
from assistant.runtime.example_files import (
    ASSISTANT,
    EXAMPLES,
    PROMPT,
    PROMPT_EXAMPLES,
    USER,
    utterance_key,
)
from assistant.runtime.pack import REPO_ROOT

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "snips" / "goo2018"
SKILLS_MODULE = "benchmarks.snips.skills"
HELD_OUT = ("dev", "test")
PROMPT_EXAMPLE_COUNT = 6


@dataclass(frozen=True)
class Utterance:
    """One line of a goo2018 split: the words, the intent, and its slots in order of appearance."""

    user: str
    intent: str
    slots: tuple[tuple[str, str], ...]
    repeated: int = 0  # spans dropped because their slot name was tagged earlier in the utterance

    def call(self, pack: SkillPack) -> Call:
        """The canonical call, validated against the pack's skill for this intent."""
        if self.intent not in pack.skills:
            raise ValueError(f"intent {self.intent!r} has no skill in the pack")
        return pack.skills[self.intent].bind(RawCall(self.intent, (), self.slots))


@dataclass(frozen=True)
class TrainingSet:
    """The train utterances kept for training, and how many were dropped and why."""

    utterances: list[Utterance]
    held_out: int  # equal to a dev or test utterance
    repeats: int  # equal to an earlier train utterance
    conflicts: int  # of those repeats, how many were labelled differently
    uncopyable: int = 0  # a slot value the grammar cannot copy from the words (it holds a double quote)


def read_split(folder: Path) -> list[Utterance]:
    """Read seq.in, seq.out and label of one split; raise ValueError on any malformed line."""
    words, tags, labels = (
        (folder / name).read_text(encoding="utf-8").splitlines() for name in ("seq.in", "seq.out", "label")
    )
    if not len(words) == len(tags) == len(labels):
        raise ValueError(f"{folder}: seq.in, seq.out and label have different line counts")
    lines = enumerate(zip(words, tags, labels, strict=True), start=1)  # counts checked equal above
    return [_utterance(w.split(), t.split(), label.strip(), f"{folder}:{n}") for n, (w, t, label) in lines]


def _utterance(words: list[str], tags: list[str], intent: str, where: str) -> Utterance:
    if len(words) != len(tags):
        raise ValueError(f"{where}: {len(words)} words but {len(tags)} tags")
    spans: list[tuple[str, list[str]]] = []
    previous = "O"
    for word, tag in zip(words, tags, strict=True):  # lengths checked equal above
        if tag.startswith("B-"):
            spans.append((tag[2:], [word]))
        elif tag.startswith("I-") and previous in (f"B-{tag[2:]}", tag):
            spans[-1][1].append(word)
        elif tag != "O":
            raise ValueError(f"{where}: tag {tag!r} does not continue a span")
        previous = tag
    slots: dict[str, str] = {}
    for name, span in spans:
        slots.setdefault(name, " ".join(span))
    return Utterance(" ".join(words), intent, tuple(slots.items()), len(spans) - len(slots))


def training_set(train: list[Utterance], held_out: list[Utterance]) -> TrainingSet:
    """Drop train utterances that appear in a held-out split, repeats within train, and those the
    router could never answer (a slot value it cannot copy; held-out ones are kept and scored)."""
    held = {utterance_key(u.user) for u in held_out}
    first: dict[str, Utterance] = {}
    dropped_held = repeats = conflicts = uncopyable = 0
    for utterance in train:
        key = utterance_key(utterance.user)
        if key in held:
            dropped_held += 1
        elif not all(is_span(value, utterance.user) for _, value in utterance.slots):
            uncopyable += 1
        elif key in first:
            repeats += 1
            conflicts += (first[key].intent, first[key].slots) != (utterance.intent, utterance.slots)
        else:
            first[key] = utterance
    return TrainingSet(list(first.values()), dropped_held, repeats, conflicts, uncopyable)


def sample_per_intent(utterances: list[Utterance], limit: int, seed: int) -> list[Utterance]:
    """At most ``limit`` utterances of each intent, drawn with a seeded RNG, in their original order."""
    rng = random.Random(seed)
    by_intent: dict[str, list[int]] = {}
    for index, utterance in enumerate(utterances):
        by_intent.setdefault(utterance.intent, []).append(index)
    keep = {
        i for intent in sorted(by_intent) for i in rng.sample(by_intent[intent], min(limit, len(by_intent[intent])))
    }
    return [u for i, u in enumerate(utterances) if i in keep]


def records(utterances: list[Utterance], pack: SkillPack, split: str) -> list[dict[str, str]]:
    """Dataset records: skill, user, canonical call, split."""
    return [{"skill": u.intent, "user": u.user, "call": str(u.call(pack)), "split": split} for u in utterances]


def prompt_examples(utterances: list[Utterance], count: int = PROMPT_EXAMPLE_COUNT) -> list[Utterance]:
    """Pick ``count`` utterances greedily: each adds the most slot names not yet shown (then most slots,
    fewest words)."""
    chosen: list[Utterance] = []
    shown: set[str] = set()
    for _ in range(min(count, len(utterances))):
        best = max(
            (u for u in utterances if u not in chosen),
            key=lambda u: (len({name for name, _ in u.slots} - shown), len(u.slots), -len(u.user.split())),
        )
        chosen.append(best)
        shown.update(name for name, _ in best.slots)
    return chosen


def example_file(intent: str, utterances: list[Utterance], pack: SkillPack) -> str:
    """The otto-format file of one intent: prompt line, chosen prompt examples, then all the others."""
    shown = prompt_examples(utterances)

    def pairs(items: list[Utterance]) -> list[str]:
        return [f"{USER} {u.user}\n{ASSISTANT} {u.call(pack)}\n" for u in items]

    rest = [u for u in utterances if u not in shown]
    parts = [
        PROMPT,
        pack.skills[intent].prompt_line(),
        "",
        PROMPT_EXAMPLES,
        "",
        *pairs(shown),
        EXAMPLES,
        "",
        *pairs(rest),
    ]
    return "\n".join(parts)


def convert(data: Path, out: Path, examples: Path | None = None, limit: int | None = None, seed: int = 0) -> dict:
    """Write train.json, dev.json, test.json (and the example files); return what was done, for the report."""
    pack = load_pack(SKILLS_MODULE)
    splits = {name: read_split(data / name) for name in ("train", *HELD_OUT)}
    kept = training_set(splits["train"], [u for name in HELD_OUT for u in splits[name]])
    train = kept.utterances if limit is None else sample_per_intent(kept.utterances, limit, seed)
    written = {
        "train": records(train, pack, "train"),
        "dev": records(splits["dev"], pack, "validation"),
        "test": records(splits["test"], pack, "test"),
    }
    for name, rows in written.items():
        write_atomically(out / f"{name}.json", json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    if examples is not None:
        for intent in pack.skills:
            mine = [u for u in train if u.intent == intent]
            write_atomically(examples / f"{intent}_examples.txt", example_file(intent, mine, pack))
    return {
        "read": {name: len(rows) for name, rows in splits.items()},
        "repeated_slot_utterances": {name: sum(u.repeated > 0 for u in rows) for name, rows in splits.items()},
        "train_dropped": {
            "held_out": kept.held_out,
            "repeats": kept.repeats,
            "of_which_conflicts": kept.conflicts,
            "uncopyable": kept.uncopyable,
        },
        "written": {name: len(rows) for name, rows in written.items()},
        "train_per_intent": dict(sorted(Counter(u.intent for u in train).items())),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for train.json, dev.json, test.json")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the goo2018 folder (default: %(default)s)")
    parser.add_argument("--examples", type=Path, help="also write <Intent>_examples.txt files from train here")
    parser.add_argument(
        "--limit-per-intent", type=int, metavar="N", help="keep a seeded sample of N train utterances per intent"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.limit_per_intent is not None and args.limit_per_intent < 1:
        parser.error("--limit-per-intent must be at least 1")
    print(json.dumps(convert(args.data, args.out, args.examples, args.limit_per_intent, args.seed), indent=1))


if __name__ == "__main__":
    main()
