"""Public crowd-sourced NLU corpora as training records for the default pack (#33 item 1).

Reads Amazon MASSIVE en-US (its train partition; dev and test only to keep their utterances out),
xliuhw/NLU-Evaluation-Data and CLINC150 (its train and val partitions, in- and out-of-scope), labels
each row by the reviewed mapping (:mod:`finetune.corpus_mapping`), and writes the data set's records
(``{"skill", "user", "call", "split", "target", "source"}``, split ``train``) and MASSIVE's test
partition mapped the same way as an evaluation file (``{"user", "call", "target", "source"}`` per line).

A row is dropped, and counted by reason, when its text equals a MASSIVE dev or test utterance or an
evaluation set's (``--exclude``), when the mapping cannot label it, when it repeats a written example
(same call) or contradicts one (another call: a conflict, counted by intent pair and listed), and
when rows of one utterance (across the corpora, which share a lineage) are labelled differently (all
of them). With ``--most-per-intent N``, the classes that come from hundreds of intents (``ask``, can't-do
and talk) keep at most N rows of each intent, a seeded sample, so that no intent outweighs the rest;
the rows of the other skills, which are few and are what the pack does, are all kept; the mapping's
broad intents (any factual question) keep up to ``--most-per-broad-intent``. The test rows are kept
out of the evaluation file on the same terms, and when they equal a written example or a
``--dataset`` utterance (trained on). ``--validation-out`` sets a tenth of MASSIVE's train rows
aside, never trained on, to choose settings on (its test partition is for the report).

    python -m finetune.corpora --massive DIR --nlu-eval DIR --clinc DIR --out OUT.json \\
        --eval-out benchmarks/corpora/massive_test.jsonl
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import csv
import hashlib
import io
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from assistant.config import ConfigError, read_small_text
from assistant.errors import VoxrouteError
from assistant.files import write_atomically
from assistant.routing.calls import Calls
from assistant.runtime.example_files import Example, ExamplesError, read_example_files, utterance_key
from assistant.runtime.pack import REPO_ROOT, SkillPack, load_pack
from assistant.runtime.resolution import resolved_key
from finetune.corpus_mapping import DEFAULT_MAPPING, CorpusRow, Dropped, Labelled, Mapping, MappingError, load_mapping
from finetune.metrics import label
from finetune.records import read_records
from finetune.training_data import evaluation_keys

OK, BAD_INPUT = 0, 1
MAX_CORPUS_BYTES = 64 << 20  # one corpus file; MASSIVE en-US has 3.9 MB, CLINC's data_full.json 2.5 MB
CLINC_TRAINING = ("train", "val", "oos_train", "oos_val")  # test and oos_test stay aside, as published
CLINC_ASIDE = ("test", "oos_test")
ANNOTATED_SLOT = re.compile(r"\[\s*([A-Za-z_]\w*)\s*:\s*([^\[\]]*?)\s*\]")
VALIDATION_SHARE = 0.1  # of MASSIVE's train rows, with --validation-out
TRAINING_KEYS = ("skill", "split")  # what a training record has beside an evaluation record's fields
DEFAULT_EXCLUDE = sorted((REPO_ROOT / "benchmarks" / "router").glob("*.jsonl"))

SOURCES = {
    "massive": (
        "Amazon MASSIVE 1.1, en-US (train partition; dev and test kept out)",
        "https://github.com/alexa/massive (read from the mirror github.com/Davengahu007/MASSIVE_Data, "
        "amazon_massive_dataset/data/en-US.jsonl)",
        "CC BY 4.0. MASSIVE translates and includes text of SLURP (CC BY 4.0). Copyright Amazon.com Inc. or its "
        "affiliates. FitzGerald et al. 2022, arXiv:2204.08582; Bastianelli et al., EMNLP 2020.",
    ),
    "nlu_eval": (
        "NLU-Evaluation-Data (HWU64)",
        "https://github.com/xliuhw/NLU-Evaluation-Data",
        "CC BY 4.0. Liu, Eshghi, Swietojanski and Rieser, Benchmarking Natural Language Understanding "
        "Services for building Conversational Agents, IWSDS 2019, arXiv:1903.05566.",
    ),
    "clinc": (
        "CLINC150 (clinc/oos-eval, data_full.json: train and val, in- and out-of-scope; test kept out)",
        "https://github.com/clinc/oos-eval",
        "CC BY 3.0. Larson et al., An Evaluation Dataset for Intent Classification and Out-of-Scope "
        "Prediction, EMNLP-IJCNLP 2019.",
    ),
}


class CorpusError(VoxrouteError, ValueError):
    """A corpus file that cannot be read as its corpus; the message names the file (and line)."""


@dataclass
class Report:
    """What the conversion read, kept and dropped, for printing and the notes."""

    read: dict[str, dict[str, int]] = field(default_factory=dict)  # corpus -> partition -> rows
    kept: Counter[str] = field(default_factory=Counter)  # corpus -> records
    targets: Counter[str] = field(default_factory=Counter)  # skill, "cant_do" or "other" -> records
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> rows
    dropped_by_intent: Counter[str] = field(default_factory=Counter)  # "reason | corpus:intent" -> rows
    labelled: int = 0  # rows the mapping labelled (before repeats and conflicts are dropped)
    written: int = 0  # labelled rows whose utterance is a written example's
    conflicts: Counter[str] = field(default_factory=Counter)  # "corpus:intent -> label vs examples' label"
    conflicting: list[str] = field(default_factory=list)  # each conflict, listed
    disagreements: Counter[str] = field(default_factory=Counter)  # rows of one utterance labelled differently
    disagreeing: list[str] = field(default_factory=list)  # each such utterance, listed

    def drop(self, row: CorpusRow, reason: str) -> None:
        self.dropped[reason] += 1
        self.dropped_by_intent[f"{reason} | {row.source}"] += 1

    def as_dict(self) -> dict[str, object]:
        conflicts = sum(self.conflicts.values())
        return {
            "read": self.read,
            "kept": dict(sorted(self.kept.items())),
            "targets": dict(sorted(self.targets.items())),
            "dropped": dict(self.dropped.most_common()),
            "dropped_by_intent": dict(self.dropped_by_intent.most_common()),
            "labelled": self.labelled,
            "equal_to_written_examples": self.written,
            "conflicts": dict(self.conflicts.most_common()),
            "conflict_share_of_labelled": round(conflicts / self.labelled, 4) if self.labelled else 0.0,
            "conflict_share_of_written": round(conflicts / self.written, 4) if self.written else 0.0,
            "conflicting": self.conflicting,
            "labelled_differently_across_rows": dict(self.disagreements.most_common()),
            "labelled_differently": self.disagreeing,
        }


@dataclass(frozen=True)
class Kept:
    row: CorpusRow
    labelled: Labelled

    def record(self) -> dict[str, str]:
        return {
            "user": self.labelled.user,
            "call": str(self.labelled.calls),
            "target": self.labelled.target,
            "source": self.row.source,
        }


def parse_annotation(annotated: str) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """The words and ``(slot, words)`` pairs of ``"wake me at [time : five am]"``; None when it is malformed."""
    slots = tuple((match.group(1), " ".join(match.group(2).split())) for match in ANNOTATED_SLOT.finditer(annotated))
    text = ANNOTATED_SLOT.sub(lambda match: match.group(2), annotated)
    if "[" in text or "]" in text or any(not words for _, words in slots):
        return None
    return " ".join(text.split()), slots


def read_massive(path: Path) -> tuple[list[CorpusRow], int]:
    """MASSIVE's rows of every partition (``en-US.jsonl``, or a folder holding it or ``data/en-US.jsonl``),
    and how many had an annotation that cannot be read."""
    path = _find(path, ("en-US.jsonl", "data/en-US.jsonl"))
    rows, unreadable = [], 0
    for number, line in enumerate(_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as error:
            raise CorpusError(f"{path}:{number}: not valid JSON: {getattr(error, 'msg', error)}") from None
        fields = ("annot_utt", "intent", "partition")
        if not isinstance(item, dict) or not all(isinstance(item.get(name), str) for name in fields):
            raise CorpusError(f"{path}:{number}: expected an object with string fields {', '.join(fields)}")
        parsed = parse_annotation(item["annot_utt"])
        if parsed is None:
            unreadable += 1
            continue
        rows.append(CorpusRow("massive", "hwu", item["intent"], parsed[0], parsed[1], item["partition"]))
    return rows, unreadable


def read_nlu_eval(path: Path) -> tuple[list[CorpusRow], int]:
    """NLU-Evaluation-Data's rows: the annotated CSV, or a folder of CSV files (the published cross-validation
    folds), each row once by its answer id; rows marked ``IRR_`` are left out. And the unreadable annotations."""
    files = sorted(path.rglob("*.csv")) if path.is_dir() else [path]
    if not files:
        raise CorpusError(f"{path}: no CSV files")
    rows, seen, unreadable = [], set(), 0
    for file in files:
        reader = csv.DictReader(io.StringIO(_text(file)), delimiter=";")
        needed = ("scenario", "intent", "answer_annotation")
        if not all(name in (reader.fieldnames or ()) for name in needed):
            raise CorpusError(f"{file}:1: expected ';'-separated columns {', '.join(needed)}")
        for item in reader:
            answer = item.get("answerid") or ""
            if (answer and answer in seen) or (item.get("status") or "").startswith("IRR_"):
                continue
            seen.add(answer)
            parsed = parse_annotation(item["answer_annotation"] or "")
            if parsed is None or not parsed[0]:
                unreadable += 1
                continue
            intent = f"{item['scenario']}_{item['intent']}"
            rows.append(CorpusRow("nlu_eval", "hwu", intent, parsed[0], parsed[1]))
    return rows, unreadable


def read_clinc(path: Path) -> tuple[list[CorpusRow], int]:
    """CLINC150's training rows (``data_full.json``, or a folder holding it or ``data/data_full.json``), and how
    many rows its test partitions hold (left aside)."""
    path = _find(path, ("data_full.json", "data/data_full.json"))
    try:
        data = json.loads(_text(path))
    except (json.JSONDecodeError, RecursionError) as error:
        raise CorpusError(f"{path}: not valid JSON: {getattr(error, 'msg', error)}") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(name), list) for name in CLINC_TRAINING):
        raise CorpusError(f"{path}: expected an object with lists {', '.join(CLINC_TRAINING)}")
    rows = []
    for partition in CLINC_TRAINING:
        for index, item in enumerate(data[partition]):
            if not (isinstance(item, list) and len(item) == 2 and all(isinstance(part, str) for part in item)):
                raise CorpusError(f"{path}: {partition}[{index}]: expected [text, intent]")
            rows.append(CorpusRow("clinc", "clinc", item[1], " ".join(item[0].split()), (), partition))
    return rows, sum(len(data.get(name) or ()) for name in CLINC_ASIDE)


def _find(path: Path, names: Sequence[str]) -> Path:
    if path.is_dir():
        for name in names:
            if (path / name).is_file():
                return path / name
        raise CorpusError(f"{path}: holds none of {', '.join(names)}")
    return path


def _text(path: Path) -> str:
    try:
        return read_small_text(path, MAX_CORPUS_BYTES)
    except FileNotFoundError:
        raise CorpusError(f"{path}: cannot be read: no such file") from None
    except ConfigError as error:  # names the file
        raise CorpusError(str(error)) from None


def written_examples(pack: SkillPack) -> dict[str, Example]:
    """The pack's written examples (prompt examples and examples) by utterance key."""
    found: dict[str, Example] = {}
    for example_file in read_example_files(pack.example_files(), pack):
        for example in example_file.all_examples:
            found.setdefault(utterance_key(example.user), example)
    return found


def settle(
    candidates: Iterable[Kept],
    pack: SkillPack,
    written: dict[str, Example],
    report: Report,
    trained: frozenset[str] = frozenset(),
) -> list[Kept]:
    """One row per utterance: rows equal to a written example are dropped (a conflict when the calls differ),
    and so are rows of an utterance the corpora label in more than one way; rows of ``trained`` utterances
    are dropped too."""
    by_key: dict[str, list[Kept]] = {}
    for kept in candidates:
        by_key.setdefault(utterance_key(kept.labelled.user), []).append(kept)
    settled = []
    for key, group in by_key.items():
        example = written.get(key)
        if example is not None:
            report.written += len(group)
            for kept in group:
                if _action(pack, kept.labelled.calls) == _action(pack, example.calls):
                    report.drop(kept.row, "a written example already")
                else:
                    pair = f"{kept.row.source} -> {_label(kept.labelled)} vs examples' {label(example.calls)}"
                    report.conflicts[pair] += 1
                    report.conflicting.append(
                        f"{kept.row.source}: {kept.labelled.user!r} -> {kept.labelled.calls} "
                        f"({kept.labelled.target}); {example.where}: {example.calls}"
                    )
                    report.drop(kept.row, "conflicts with a written example")
            continue
        if key in trained:
            for kept in group:
                report.drop(kept.row, "trained on (in the data set)")
            continue
        labels = {(_action(pack, kept.labelled.calls), kept.labelled.target) for kept in group}
        if len(labels) > 1:
            sources = " vs ".join(sorted({f"{kept.row.source} -> {_label(kept.labelled)}" for kept in group}))
            report.disagreements[sources] += len(group)
            report.disagreeing.append(
                f"{group[0].labelled.user!r}: "
                + "; ".join(
                    sorted({f"{kept.row.source} -> {kept.labelled.calls} ({kept.labelled.target})" for kept in group})
                )
            )
            for kept in group:
                report.drop(kept.row, "labelled differently by other rows")
            continue
        settled.append(group[0])
        for kept in group[1:]:
            report.drop(kept.row, "a repeat")
    return settled


def _action(pack: SkillPack, calls: Calls) -> tuple[object, ...]:
    """What the calls do: two labels that differ only where their arguments resolve alike ("Define X" and
    "define X") are one."""
    return tuple(resolved_key(pack, call) for call in calls)


def _label(labelled: Labelled) -> str:
    return label(labelled.calls) if labelled.target == "skill" else labelled.target


def label_rows(
    rows: Iterable[CorpusRow], mapping: Mapping, pack: SkillPack, excluded: Iterable[str], report: Report
) -> list[Kept]:
    """The rows the mapping labels, without those whose text (as given or as heard) is ``excluded``."""
    excluded = set(excluded)
    kept = []
    for row in rows:
        if {utterance_key(row.text), utterance_key(mapping.user(row.text))} & excluded:
            report.drop(row, "excluded: a held-out utterance")
            continue
        outcome = mapping.label(row, pack)
        if isinstance(outcome, Dropped):
            report.drop(row, outcome.reason)
        else:
            report.labelled += 1
            kept.append(Kept(row, outcome))
    return kept


@dataclass(frozen=True)
class Conversion:
    records: list[dict[str, str]]
    evaluation: list[dict[str, str]]
    report: Report
    evaluation_report: Report


def convert(
    massive: Sequence[CorpusRow],
    others: Sequence[CorpusRow],
    mapping: Mapping,
    pack: SkillPack,
    written: dict[str, Example],
    excluded: Iterable[str] = (),
    trained: Iterable[str] = (),
) -> Conversion:
    """Training records from MASSIVE's train rows and the other corpora's rows, and MASSIVE's test rows mapped
    the same way: see the module docstring for what is dropped."""
    held_out = {utterance_key(row.text) for row in massive if row.partition != "train"}
    held_out |= {utterance_key(mapping.user(row.text)) for row in massive if row.partition != "train"}
    report, evaluation_report = Report(), Report()
    training_rows = [row for row in massive if row.partition == "train"] + list(others)
    kept = settle(label_rows(training_rows, mapping, pack, held_out | set(excluded), report), pack, written, report)
    records = []
    for item in kept:
        report.kept[item.row.corpus] += 1
        report.targets[_label(item.labelled)] += 1
        record = item.record()
        records.append({"skill": label(item.labelled.calls), **record, "split": "train"})
    tests = [row for row in massive if row.partition == "test"]
    tested = settle(
        label_rows(tests, mapping, pack, excluded, evaluation_report),
        pack,
        written,
        evaluation_report,
        frozenset(trained),
    )
    for item in tested:
        evaluation_report.kept[item.row.corpus] += 1
        evaluation_report.targets[_label(item.labelled)] += 1
    return Conversion(records, [item.record() for item in tested], report, evaluation_report)


BALANCED = frozenset({"ask", "cant_do", "other"})  # labels drawn from many intents: capped per intent


def balanced(
    records: Sequence[dict[str, str]],
    most_per_intent: int,
    broad: frozenset[str] = frozenset(),
    most_per_broad_intent: int | None = None,
    seed: int = 0,
) -> list[dict[str, str]]:
    """``records`` with at most ``most_per_intent`` of each source intent among the BALANCED labels, then at
    most ``most_per_broad_intent`` (default: the same) of each ``broad`` source (the mapping's broad
    intents); seeded samples, in the records' order; every other record kept."""
    records = _capped(
        records, lambda record: record["skill"] in BALANCED and record["source"] not in broad, most_per_intent, seed
    )
    most = most_per_intent if most_per_broad_intent is None else most_per_broad_intent
    return _capped(records, lambda record: record["source"] in broad, most, seed)


def _capped(
    records: Sequence[dict[str, str]], counted: Callable[[dict[str, str]], bool], most: int, seed: int
) -> list[dict[str, str]]:
    """``records`` with at most ``most`` of each source intent among the ``counted`` ones (a seeded sample)."""
    by_intent: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        if counted(record):
            by_intent.setdefault(record["source"], []).append(index)
    rng = random.Random(seed)
    dropped: set[int] = set()
    for indices in by_intent.values():
        if len(indices) > most:
            dropped |= set(indices) - set(rng.sample(indices, most))
    return [record for index, record in enumerate(records) if index not in dropped]


def set_aside(
    records: Sequence[dict[str, str]], sources: frozenset[str], share: float
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """``records`` split into those trained on and a ``share`` of those from ``sources`` (one corpus's intents),
    set aside to choose settings on (by a hash of the utterance, so the same rows at every run), as evaluation
    records."""
    kept, aside = [], []
    for record in records:
        digest = hashlib.sha256(utterance_key(record["user"]).encode()).digest()
        if record["source"] in sources and int.from_bytes(digest[:4], "big") < share * 2**32:
            aside.append({key: value for key, value in record.items() if key not in TRAINING_KEYS})
        else:
            kept.append(record)
    return kept, aside


def notes(conversion: Conversion, aside: int) -> str:
    """The notes written next to the records: sources, licences, attribution, and what was done."""
    report = conversion.report.as_dict()
    lines = [
        "# Records converted from public NLU corpora",
        "",
        "Written by `python -m finetune.corpora` (voxroute) with the reviewed mapping "
        "`finetune/corpora_mapping.toml`. Each record's `source` names its corpus and intent.",
        "",
        "## Sources, licences and attribution",
        "",
    ]
    for name, (title, where, licence) in SOURCES.items():
        lines += [f"- **{title}** ({name}): {where}. Licence: {licence}"]
    lines += [
        "",
        "Changes made: utterances were relabelled as calls of voxroute's default skills; another assistant's "
        'name ("olly", "alexa") at either end of an utterance was left out; rows were dropped as counted '
        "below. The licences allow this with attribution (CC BY 4.0: https://creativecommons.org/licenses/by/4.0/, "
        "CC BY 3.0: https://creativecommons.org/licenses/by/3.0/).",
        "",
        "Requests no skill can do (alarms, music, lights, lists by name, email, calendar, ...) carry "
        '`"target": "cant_do"` and the call `cant_do()` (the pack\'s refusal); talk that asks nothing of the '
        'assistant has `"target": "other"` and the call `other()`.',
        "",
        f"CLINC150's test partitions ({aside} rows) were not read.",
        "",
        "## Counts",
        "",
        "```json",
        json.dumps(report, indent=1, ensure_ascii=False),
        "```",
        "",
    ]
    return "\n".join(lines)


def summary(report: Report) -> str:
    """Counts per corpus, per target, dropped per reason and conflicts per intent pair, for the terminal."""
    values = report.as_dict()
    lines = [f"read: {json.dumps(report.read)}"] if report.read else []
    lines.append(f"kept per corpus: {json.dumps(values['kept'])}")
    lines.append(f"kept per target: {json.dumps(values['targets'])}")
    lines.append("dropped:")
    lines += [f"  {count:6d}  {reason}" for reason, count in report.dropped.most_common()]
    lines.append(
        f"conflicts with written examples: {sum(report.conflicts.values())} of {report.written} rows equal to one "
        f"({values['conflict_share_of_written']:.1%}); {values['conflict_share_of_labelled']:.2%} of labelled rows"
    )
    lines += [f"  {count:6d}  {pair}" for pair, count in report.conflicts.most_common()]
    if report.disagreements:
        lines.append("labelled differently across rows (all dropped):")
        lines += [f"  {count:6d}  {pair}" for pair, count in report.disagreements.most_common(20)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="corpora", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--massive", type=Path, required=True, help="MASSIVE's en-US.jsonl, or a folder holding it")
    parser.add_argument("--nlu-eval", type=Path, required=True, help="NLU-Evaluation-Data: a CSV file or folder")
    parser.add_argument("--clinc", type=Path, required=True, help="CLINC150's data_full.json, or a folder holding it")
    parser.add_argument("--mapping", type=Path, default=DEFAULT_MAPPING, help="the mapping (default: %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="the training records (JSON array) to write")
    parser.add_argument("--eval-out", type=Path, help="MASSIVE's test partition, mapped, as a JSONL file")
    parser.add_argument(
        "--exclude",
        type=Path,
        nargs="*",
        default=DEFAULT_EXCLUDE,
        help="evaluation files whose utterances are never trained on (default: benchmarks/router/*.jsonl)",
    )
    parser.add_argument(
        "--dataset", type=Path, help="a data set (training_data.json) whose utterances --eval-out leaves out"
    )
    parser.add_argument(
        "--validation-out",
        type=Path,
        help="set a tenth of MASSIVE's train rows aside, never trained on, as a JSONL file to choose settings on",
    )
    parser.add_argument("--report", type=Path, help="also write the counts as JSON here")
    parser.add_argument(
        "--most-per-intent",
        type=int,
        help="keep at most this many ask, can't-do and talk records of each intent (default: all)",
    )
    parser.add_argument(
        "--most-per-broad-intent",
        type=int,
        help="with --most-per-intent: keep at most this many of each of the mapping's broad intents (default: as many)",
    )
    args = parser.parse_args(argv)
    for name, value in (
        ("--most-per-intent", args.most_per_intent),
        ("--most-per-broad-intent", args.most_per_broad_intent),
    ):
        if value is not None and value < 1:
            parser.error(f"{name} must be 1 or more, got {value}")
    if args.most_per_broad_intent is not None and args.most_per_intent is None:
        parser.error("--most-per-broad-intent caps apart from --most-per-intent: give both")
    try:
        pack = load_pack()
        mapping = load_mapping(args.mapping, pack)
        massive, massive_unreadable = read_massive(args.massive)
        nlu, nlu_unreadable = read_nlu_eval(args.nlu_eval)
        clinc, aside = read_clinc(args.clinc)
        excluded = evaluation_keys(args.exclude, pack)
        trained = {utterance_key(record.user) for record in read_records(args.dataset, pack)} if args.dataset else set()
        conversion = convert(massive, nlu + clinc, mapping, pack, written_examples(pack), excluded, trained)
    except (CorpusError, MappingError, ExamplesError, ValueError) as error:
        print(str(error), file=sys.stderr)
        return BAD_INPUT
    report = conversion.report
    report.read = {
        "massive": dict(Counter(row.partition for row in massive)) | {"unreadable": massive_unreadable},
        "nlu_eval": {"all": len(nlu), "unreadable": nlu_unreadable},
        "clinc": dict(Counter(row.partition for row in clinc)) | {"test partitions, not read": aside},
    }
    records = conversion.records
    validation: list[dict[str, str]] = []
    if args.validation_out:
        records, validation = set_aside(records, frozenset(row.source for row in massive), VALIDATION_SHARE)
        print(f"--validation-out: {len(validation)} of MASSIVE's train rows set aside")
    if args.most_per_intent is not None:
        broad = frozenset(row.source for row in (*massive, *nlu, *clinc) if (row.scheme, row.intent) in mapping.broad)
        records = balanced(records, args.most_per_intent, broad, args.most_per_broad_intent)
        print(f"--most-per-intent {args.most_per_intent}: {len(records)} of {len(conversion.records)} records kept")
    try:
        write_atomically(args.out, json.dumps(records, ensure_ascii=False, indent=1) + "\n")
        write_atomically(args.out.with_name(f"{args.out.stem}.NOTICE.md"), notes(conversion, aside))
        for path, rows in ((args.eval_out, conversion.evaluation), (args.validation_out, validation)):
            if path:
                write_atomically(path, "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in rows))
        if args.report:
            both = {"training": report.as_dict(), "evaluation": conversion.evaluation_report.as_dict()}
            write_atomically(args.report, json.dumps(both, indent=1, ensure_ascii=False) + "\n")
    except OSError as error:
        print(f"cannot write the output: {error}", file=sys.stderr)
        return BAD_INPUT
    print(summary(report))
    print(f"evaluation file (MASSIVE test): {len(conversion.evaluation)} rows")
    print(summary(conversion.evaluation_report))
    return OK


if __name__ == "__main__":
    sys.exit(main())
