"""Example files in, training data out: the one tool between hand-written examples and a data set.

Three modes (see README):

* ``-t`` reads every example file strictly and prints the data set as one JSON array of
  ``{"skill", "user", "call", "split"}`` records, split train/validation/test per skill,
  deterministically, with the ``#### Templates:`` sections expanded;
* ``-c`` asks an LLM for new examples of one file, checks them, prints or ``--append``-s them;
* ``-p`` prints the messages ``-c`` would send, to see and tune the prompt without a server.

Exit codes: 0 ok, 1 bad input (or output that cannot be written), 2 usage, 3 generation stopped early (what it
made is kept).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import json
import os
import random
from collections.abc import Callable, Collection, Iterable, Sequence, Set
from dataclasses import dataclass, field

from rich.console import Console

from assistant.files import write_atomically
from assistant.routing.calls import UNFINISHED, Calls
from assistant.runtime.example_files import (
    Example,
    ExampleFile,
    ExamplesError,
    deduplicate,
    read_example_file,
    read_example_files,
    sync_prompt_line,
    utterance_key,
)
from assistant.runtime.pack import DEFAULT_MODULE, SkillPack, load_pack
from assistant.runtime.templates import TemplateError, expand
from assistant.web import NoAPIKey, openai_client
from finetune.arguments import fraction, nonnegative_int, positive
from finetune.compose import KINDS, Sizes, compose, cuts, exchange_key, previous_turns
from finetune.generate import (
    DEFAULT_MODEL,
    append_examples,
    build_messages,
    format_examples,
    generate,
    known_utterances,
)
from finetune.metrics import label
from finetune.records import context_record, read_records

OK, BAD_INPUT, PARTIAL = 0, 1, 3  # argparse exits with 2 on usage errors
stderr = Console(stderr=True, soft_wrap=True, highlight=False)


SPLITS = ("train", "validation", "test")
VALIDATION_SHARE = 0.1  # composed validation examples, from validation examples only, per composed training one


@dataclass
class DatasetReport:
    """What ``-t`` did besides writing records: what it dropped, what templates made, what was composed."""

    duplicates: list[str] = field(default_factory=list)
    generated: dict[str, int] = field(default_factory=dict)
    excluded: int = 0
    composed: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, tuple[str, ...]] = field(default_factory=dict)  # per split, the kinds its examples cannot make


def build_dataset(
    files: Iterable[ExampleFile],
    pack: SkillPack,
    validation_fraction: float,
    test_fraction: float,
    seed: int,
    template_cap: int = 400,
    template_samples: int = 60,
    exclude: Collection[str] = (),
    sizes: Sizes = Sizes(),
    relabel: Callable[[Example], Example] | None = None,
) -> tuple[list[dict], DatasetReport]:
    """Records of the deduplicated examples, split train/validation/test per skill, and a report.

    Prompt examples come first, then the written examples, then template expansions, so that a
    duplicate keeps the earliest copy. Validation and test hold only written examples (never a
    prompt example or a template expansion, which are near-copies of each other). Compound and
    follow-up examples (:mod:`finetune.compose`) are made from training examples for training, and
    a tenth as many from validation examples for validation (unfinished ones for training only: the
    held-out splits score complete requests); the test split stays as written. An example that
    :func:`~finetune.compose.follows_on` another skill keeps a turn of that skill before it, in
    every split. Utterances whose key, alone or with their previous turn, is in ``exclude`` (the
    evaluation sets) are dropped. ``relabel`` may give each example (written or made from a template)
    another call before any of this (``voxroute learn``: what a new skill now serves is its). Raises
    ExamplesError when one utterance has two different calls.
    """
    files = list(files)
    report = DatasetReport()
    pinned = [example for example_file in files for example in example_file.prompt_examples]
    written = [example for example_file in files for example in example_file.examples]
    generated = []
    for example_file in files:
        made = expand_templates(example_file, pack, seed, template_cap, template_samples)
        report.generated[example_file.path.name] = len(made)
        generated.extend(made)
    if relabel is not None:
        pinned, written, generated = ([relabel(e) for e in group] for group in (pinned, written, generated))
    kept, report.duplicates = deduplicate(pinned + written + generated)
    before = len(kept)
    kept = [example for example in kept if utterance_key(example.user) not in exclude]
    report.excluded = before - len(kept)
    candidates = set(written)
    previous = previous_turns(kept, pack, seed)  # "make it ten" is kept after a timer, in every split
    by_skill: dict[str, list[Example]] = {}
    for example in kept:
        by_skill.setdefault(label(example.calls), []).append(example)
    records: list[dict] = []
    training: list[Example] = []
    validation: list[Example] = []
    for skill in sorted(by_skill):
        group = by_skill[skill]
        split = choose_splits(group, candidates, validation_fraction, test_fraction, random.Random(f"{seed}:{skill}"))
        records.extend(
            {
                "skill": skill,
                "user": e.user,
                "call": str(e.calls),
                "split": split.get(e, "train"),
                **({"context": context_record(previous[e])} if e in previous else {}),
            }
            for e in group
        )
        training.extend(e for e in group if e not in split)
        validation.extend(e for e in group if split.get(e) == "validation")
    taken = {exchange_key(e.user, previous[e].user if e in previous else None) for e in kept} | set(exclude)
    for split_name, examples, share in (("train", training, 1.0), ("validation", validation, VALIDATION_SHARE)):
        composition = compose(examples, pack, sizes.scaled(share, unfinished=split_name == "train"), seed)
        composed = [c for c in composition.made if c.key not in taken and utterance_key(c.user) not in exclude]
        if composition.skipped:
            report.skipped[split_name] = composition.skipped
        taken |= {c.key for c in composed}
        for kind in KINDS:
            report.composed[kind] = report.composed.get(kind, 0) + sum(c.kind == kind for c in composed)
        records.extend(
            {
                "skill": label(c.calls),
                "user": c.user,
                "call": str(c.calls),
                "split": split_name,
                "kind": c.kind,
                **({"context": context_record(c.context)} if c.context else {}),
            }
            for c in composed
        )
    return records, report


def expand_templates(example_file: ExampleFile, pack: SkillPack, seed: int, cap: int, samples: int) -> list[Example]:
    """A file's template expansions: up to ``samples`` per template, ``cap`` per file, seeded, without repeats."""
    rng = random.Random(f"{seed}:{example_file.path.name}")
    made: dict[str, Example] = {}
    try:
        for template in example_file.templates:
            for user, call in expand(template, example_file.lists, pack, rng, samples):
                made.setdefault(
                    utterance_key(user), Example(user, Calls([call]), example_file.path.name, template.line)
                )
    except TemplateError as error:
        raise ExamplesError([str(error)]) from None
    examples = list(made.values())
    return examples if len(examples) <= cap else rng.sample(examples, cap)


def choose_splits(
    group: Sequence[Example],
    candidates: set[Example],
    validation_fraction: float,
    test_fraction: float,
    rng: random.Random,
) -> dict[Example, str]:
    """Validation and test members among one skill's written examples, about the given fractions of them.

    Each held-out split gets at least one example whenever the skill has three or more written ones.
    """
    pool = [example for example in group if example in candidates]
    chosen = rng.sample(pool, len(pool))
    sizes = [
        max(1, round(fraction * len(pool))) if len(pool) >= 3 else 0
        for fraction in (validation_fraction, test_fraction)
    ]
    validation, test = chosen[: sizes[0]], chosen[sizes[0] : sizes[0] + sizes[1]]
    return {**dict.fromkeys(validation, "validation"), **dict.fromkeys(test, "test")}


def ordered_paths(paths: Iterable[Path]) -> list[Path]:
    """Each file once, sorted, so that the order on the command line cannot change the output."""
    unique: dict[str, Path] = {}
    for path in paths:
        unique.setdefault(str(Path(path).resolve()), Path(path))
    return [unique[key] for key in sorted(unique)]


def dataset_mode(args: argparse.Namespace, pack: SkillPack) -> int:
    paths = ordered_paths(args.files or pack.example_files())
    if not paths:
        stderr.print("no example files: give --files or --examples DIR", style="red", markup=False)
        return BAD_INPUT
    try:
        excluded = evaluation_keys(args.exclude or [], pack)
        records, report = build_dataset(
            read_example_files(paths, pack),
            pack,
            args.validation_fraction,
            args.test_fraction,
            args.seed,
            args.template_cap,
            args.template_samples,
            excluded,
            Sizes.total(args.compose),
        )
        taken = {utterance_key(r["user"]) for r in records} | excluded
        added, left_out = ready_made(ordered_paths(args.records), pack, taken)
        written = [r["user"] for r in records if "kind" not in r]  # where a written request may end, as compose
        cut = ready_made_cuts(added, written, pack, taken, Sizes.total(args.compose).unfinished, args.seed)
    except ExamplesError as error:
        report_problems(error)
        return BAD_INPUT
    except ValueError as error:
        stderr.print(str(error), style="red", markup=False)
        return BAD_INPUT
    records += added + cut
    text = json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    if args.out:
        try:
            write_atomically(args.out, text)
        except OSError as error:
            stderr.print(f"cannot write {args.out}: {error}", style="red", markup=False)
            return BAD_INPUT
    else:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except OSError as error:  # a full disk, a closed pipe
            stderr.print(f"cannot write the data set to stdout: {error.strerror or error}", style="red", markup=False)
            return BAD_INPUT
    counts = {split: sum(record["split"] == split for record in records) for split in SPLITS}
    skills = len({record["skill"] for record in records if "kind" not in record})
    made = ", ".join(f"{name} {count}" for name, count in report.generated.items() if count)
    composed = ", ".join(f"{count} {kind}" for kind, count in report.composed.items())
    skipped = "; ".join(f"{', '.join(kinds)} ({split})" for split, kinds in report.skipped.items())
    stderr.print(
        f"{len(paths)} files: {len(records)} examples of {skills} skills "
        f"({', '.join(f'{count} {split}' for split, count in counts.items())}); "
        f"{len(report.duplicates)} duplicates dropped; {sum(report.generated.values())} made from templates"
        f"{f' ({made})' if made else ''}; {report.excluded} dropped as in an evaluation set; composed: {composed}"
        f"{f'; cannot compose from these examples: {skipped}' if skipped else ''}"
        f"{f'; {len(added)} ready-made records added ({left_out} left out as already in)' if args.records else ''}"
        f"{f', and {len(cut)} of them cut before their last value (unfinished)' if args.records else ''}",
        markup=False,
    )
    return OK


def ready_made(paths: Iterable[Path], pack: SkillPack, taken: set[str]) -> tuple[list[dict], int]:
    """Training records of ``paths`` (each validated against the pack), ``kind`` named after their file, and how
    many were left out: follow-ups (their turn before is the example files' business) and utterances in ``taken``
    (the data set's and the evaluation sets'), which grows as records are added."""
    added, left_out = [], 0
    for path in paths:
        for record in read_records(path, pack):
            key = utterance_key(record.user)
            if record.context is not None or key in taken:
                left_out += 1
                continue
            taken.add(key)
            added.append(
                {
                    "skill": label(record.calls),
                    "user": record.user,
                    "call": str(record.calls),
                    "split": "train",
                    "kind": path.stem,
                }
            )
    return added, left_out


def ready_made_cuts(
    added: list[dict], written: list[str], pack: SkillPack, taken: Set[str], most: int, seed: int
) -> list[dict]:
    """Up to ``most`` of the ready-made commands cut before their last spoken value, as the composer cuts the
    written ones: without them the corpora's thousands of whole requests teach the router that every
    request is finished. A seeded sample; a cut equal to anything in ``taken`` is left out."""
    commands = [(r["user"], calls[0]) for r in added if len(calls := pack.parse_calls(r["call"])) == 1]
    fresh: dict[str, str] = {}
    for head in cuts(commands, pack, written):
        if utterance_key(head) not in taken:
            fresh.setdefault(utterance_key(head), head)
    chosen = random.Random(f"cuts:{seed}").sample(sorted(fresh.values()), min(most, len(fresh)))
    kind = {"skill": label(UNFINISHED), "call": str(UNFINISHED), "split": "train", "kind": "unfinished"}
    return [{"user": head} | kind for head in chosen]


def sync_mode(args: argparse.Namespace, pack: SkillPack) -> int:
    """Each file's prompt line rewritten from its skill's signature; a file that cannot be read is named, not fatal."""
    code = OK
    for path in ordered_paths(args.files or pack.example_files()):
        try:
            if sync_prompt_line(path, pack):
                stderr.print(f"{path}: prompt line rewritten from the signature", markup=False)
        except ExamplesError as error:
            report_problems(error)
            code = BAD_INPUT
    return code


def evaluation_keys(paths: Iterable[Path], pack: SkillPack) -> set[str]:
    """The keys of evaluation files' utterances, alone and with their previous turn: never trained on."""
    records = [record for path in paths for record in read_records(path, pack)]
    return {utterance_key(record.user) for record in records} | {
        exchange_key(record.user, record.context.user) for record in records if record.context
    }


def prompt_mode(args: argparse.Namespace, pack: SkillPack, example_file: ExampleFile) -> int:
    """The first request's messages: the same function and seed as ``-c`` uses."""
    messages = build_messages(example_file, pack, [], args.per_request, random.Random(args.seed))
    sys.stdout.write("".join(f"===== {m['role']} =====\n{m['content']}\n\n" for m in messages))
    return OK


def create_mode(args: argparse.Namespace, pack: SkillPack, example_file: ExampleFile) -> int:
    siblings = [
        path for path in ordered_paths(args.file.parent.glob("*_examples.txt")) if path.resolve() != args.file.resolve()
    ]
    try:
        known = known_utterances([example_file, *read_example_files(siblings, pack)])
        client = openai_client(args.base_url, "OPENAI_API_KEY", args.timeout, args.retries)
    except ExamplesError as error:
        report_problems(error)
        return BAD_INPUT
    except NoAPIKey as error:
        stderr.print(str(error), style="red", markup=False)
        return BAD_INPUT
    model = args.model or os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL
    result = generate(
        client,
        model,
        example_file,
        pack,
        known,
        args.n_generations,
        args.per_request,
        args.seed,
        lambda line: stderr.print(line, style="yellow", markup=False),
    )
    sys.stdout.write(format_examples(result.examples))
    if args.append and result.examples:
        try:
            append_examples(args.file, result.examples, pack)
        except (OSError, ExamplesError) as error:
            stderr.print(
                f"cannot append to {args.file} (the examples are printed above): {error}", style="red", markup=False
            )
            return BAD_INPUT
    where = f"appended to {args.file}" if args.append else "printed"
    stderr.print(f"{len(result.examples)} new examples {where}; {len(result.rejected)} dropped", markup=False)
    if result.failure:
        stderr.print(f"generation stopped early: {result.failure}", style="red", markup=False)
        return PARTIAL
    return OK


def report_problems(error: ExamplesError) -> None:
    for problem in error.problems:
        stderr.print(problem, style="red", markup=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="training_data",
        description="Build the training data set from example files, or generate new examples with an LLM.",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("-t", "--training-data", action="store_true", help="print the data set (JSON) built from --files")
    mode.add_argument("-c", "--create", action="store_true", help="generate new examples for --file with an LLM")
    mode.add_argument("-p", "--prompt", action="store_true", help="print the messages -c would send for --file")
    mode.add_argument(
        "--sync-prompts",
        action="store_true",
        help="rewrite the prompt line of --files (default: all) as each skill's signature derives it",
    )
    parser.add_argument("--skills", default=DEFAULT_MODULE, help="module of the skill pack (default: %(default)s)")
    parser.add_argument("--examples", type=Path, help="examples folder of the pack (default: the pack's own)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the split and of -c's prompt sampling (default: 0)"
    )
    data = parser.add_argument_group("-t")
    data.add_argument("--files", type=Path, nargs="+", help="example files (default: all of the examples folder)")
    data.add_argument(
        "--validation-fraction",
        type=fraction,
        default=0.1,
        help="share of each skill's written examples to choose steps and settings on (default: 0.1)",
    )
    data.add_argument(
        "--test-fraction",
        type=fraction,
        default=0.1,
        help="share of each skill's written examples for the final report (default: 0.1)",
    )
    data.add_argument(
        "--template-samples", type=positive(int), default=60, help="sentences drawn from each template (default: 60)"
    )
    data.add_argument(
        "--template-cap", type=positive(int), default=400, help="most template sentences kept per file (default: 400)"
    )
    data.add_argument(
        "--compose",
        type=nonnegative_int,
        default=sum(vars(Sizes()).values()),
        help="most compound, follow-up, repeat, unrelated-context, no-context and unfinished examples made "
        "from the training examples, in all; 0: none (default: %(default)s)",
    )
    data.add_argument(
        "--exclude",
        type=Path,
        nargs="+",
        help="evaluation files (JSON/JSONL of {user, call}) whose utterances are never trained on",
    )
    data.add_argument(
        "--records",
        type=Path,
        nargs="+",
        default=[],
        help="ready-made training records (JSON/JSONL of {user, call}: mapped public corpora, what the "
        "recogniser heard), added to the train split; an utterance already in the data set or an evaluation "
        "set is left out",
    )
    data.add_argument("--out", type=Path, help="write the JSON to this file (atomically) instead of stdout")
    create = parser.add_argument_group("-c and -p")
    create.add_argument("--file", type=Path, help="the example file of the skill to generate for")
    create.add_argument(
        "--n_generations",
        "--n-generations",
        dest="n_generations",
        type=positive(int),
        default=1,
        help="number of requests (default: 1)",
    )
    create.add_argument(
        "--per-request", type=positive(int), default=10, help="examples asked for per request (default: 10)"
    )
    create.add_argument("--model", help=f"model name (default: $OPENAI_MODEL or {DEFAULT_MODEL})")
    create.add_argument("--base-url", help="OpenAI-compatible server (default: $OPENAI_BASE_URL or OpenAI)")
    create.add_argument("--append", action="store_true", help="also add the new examples to --file")
    create.add_argument("--timeout", type=positive(float), default=60.0, help="seconds per request (default: 60)")
    create.add_argument(
        "--retries",
        type=nonnegative_int,
        default=4,
        help="retries of a failing request (timeouts, 429, 5xx), "
        "waiting as Retry-After says, else backing off exponentially (default: 4)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    reads_files = args.training_data or args.sync_prompts
    if reads_files and args.file:
        parser.error("-t and --sync-prompts read --files, not --file")
    if not reads_files and args.files:
        parser.error("--files belongs to -t and --sync-prompts")
    if not args.training_data and args.out:
        parser.error("--out belongs to -t")
    if not reads_files and not args.file:
        parser.error("-c and -p need --file")
    if args.append and not args.create:
        parser.error("--append belongs to -c")
    try:
        pack = load_pack(args.skills, args.examples)
    except (ImportError, ValueError, TypeError) as error:
        stderr.print(f"cannot load the skill pack {args.skills!r}: {error}", style="red", markup=False)
        return BAD_INPUT
    if args.training_data:
        return dataset_mode(args, pack)
    if args.sync_prompts:
        return sync_mode(args, pack)
    try:
        example_file = read_example_file(args.file, pack)
    except ExamplesError as error:
        report_problems(error)
        return BAD_INPUT
    return create_mode(args, pack, example_file) if args.create else prompt_mode(args, pack, example_file)


if __name__ == "__main__":
    sys.exit(main())
