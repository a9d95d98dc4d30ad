"""Example files in, training data out: the one tool between hand-written examples and a data set.

Three modes (see README):

* ``-t`` reads every example file strictly and prints the data set as one JSON array of
  ``{"skill", "user", "call", "split"}`` records, split train/test per skill, deterministically;
* ``-c`` asks an LLM for new examples of one file, checks them, prints or ``--append``-s them;
* ``-p`` prints the messages ``-c`` would send, to see and tune the prompt without a server.

Exit codes: 0 ok, 1 bad input, 2 usage, 3 generation stopped early (what it made is kept).
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
from collections.abc import Callable, Iterable, Sequence

from rich.console import Console

from assistant.files import write_atomically
from assistant.examples import Example, ExampleFile, ExamplesError, deduplicate, read_example_file, read_example_files
from assistant.pack import DEFAULT_MODULE, SkillPack, load_pack
from finetune.generate import (
    DEFAULT_MODEL,
    Retry,
    append_examples,
    build_messages,
    format_examples,
    generate,
    known_utterances,
    make_client,
)

OK, BAD_INPUT, PARTIAL = 0, 1, 3  # argparse exits with 2 on usage errors
stderr = Console(stderr=True, soft_wrap=True, highlight=False)


def build_dataset(files: Iterable[ExampleFile], test_fraction: float, seed: int) -> tuple[list[dict[str, str]], list[str]]:
    """Records of the deduplicated examples, and the duplicates that were dropped.

    Prompt examples come first so that a duplicate keeps its prompt-example copy, which always
    goes to train. Raises ExamplesError when one utterance has two different calls.
    """
    files = list(files)
    pinned = [example for example_file in files for example in example_file.prompt_examples]
    rest = [example for example_file in files for example in example_file.examples]
    kept, duplicates = deduplicate(pinned + rest)
    fixed = set(pinned)
    by_skill: dict[str, list[Example]] = {}
    for example in kept:
        by_skill.setdefault(example.call.name, []).append(example)
    records = []
    for skill in sorted(by_skill):
        group = by_skill[skill]
        test = choose_test(group, fixed, test_fraction, random.Random(f"{seed}:{skill}"))
        records.extend(
            {"skill": skill, "user": e.user, "call": str(e.call), "split": "test" if e in test else "train"}
            for e in group
        )
    return records, duplicates


def choose_test(group: Sequence[Example], pinned: set[Example], fraction: float, rng: random.Random) -> set[Example]:
    """About ``fraction`` of one skill's examples, never a prompt example, and at least one of each
    split whenever the skill has two or more examples and one of them may be tested."""
    candidates = [example for example in group if example not in pinned]
    size = min(len(candidates), len(group) - 1, max(1, round(fraction * len(group))))
    return set(rng.sample(candidates, max(0, size)))


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
        records, duplicates = build_dataset(read_example_files(paths, pack), args.test_fraction, args.seed)
    except ExamplesError as error:
        report_problems(error)
        return BAD_INPUT
    text = json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    if args.out:
        try:
            write_atomically(args.out, text)
        except OSError as error:
            stderr.print(f"cannot write {args.out}: {error}", style="red", markup=False)
            return BAD_INPUT
    else:
        sys.stdout.write(text)
    test = sum(record["split"] == "test" for record in records)
    skills = len({record["skill"] for record in records})
    stderr.print(
        f"{len(paths)} files: {len(records)} examples of {skills} skills "
        f"({len(records) - test} train, {test} test); {len(duplicates)} duplicates dropped",
        markup=False,
    )
    return OK


def prompt_mode(args: argparse.Namespace, pack: SkillPack, example_file: ExampleFile) -> int:
    """The first request's messages: the same function and seed as ``-c`` uses."""
    messages = build_messages(example_file, pack, [], args.per_request, random.Random(args.seed))
    sys.stdout.write("".join(f"===== {m['role']} =====\n{m['content']}\n\n" for m in messages))
    return OK


def create_mode(args: argparse.Namespace, pack: SkillPack, example_file: ExampleFile) -> int:
    siblings = [path for path in ordered_paths(args.file.parent.glob("*_examples.txt")) if path.resolve() != args.file.resolve()]
    try:
        known = known_utterances([example_file, *read_example_files(siblings, pack)])
        client = make_client(args.base_url, args.timeout)
    except ExamplesError as error:
        report_problems(error)
        return BAD_INPUT
    except ValueError as error:
        stderr.print(str(error), style="red", markup=False)
        return BAD_INPUT
    model = args.model or os.environ.get("OPENAI_MODEL") or DEFAULT_MODEL
    retry = Retry(args.retries, args.backoff)
    result = generate(
        client, model, example_file, pack, known, args.n_generations, args.per_request, args.seed, retry,
        lambda line: stderr.print(line, style="yellow", markup=False),
    )
    sys.stdout.write(format_examples(result.examples))
    if args.append and result.examples:
        try:
            append_examples(args.file, result.examples, pack)
        except (OSError, ExamplesError) as error:
            stderr.print(f"cannot append to {args.file} (the examples are printed above): {error}", style="red", markup=False)
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
    parser.add_argument("--skills", default=DEFAULT_MODULE, help="module of the skill pack (default: %(default)s)")
    parser.add_argument("--examples", type=Path, help="examples folder of the pack (default: the pack's own)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and of -c's prompt sampling (default: 0)")
    data = parser.add_argument_group("-t")
    data.add_argument("--files", type=Path, nargs="+", help="example files (default: all of the examples folder)")
    data.add_argument("--test-fraction", type=_fraction, default=0.15, help="share of each skill to test on (default: 0.15)")
    data.add_argument("--out", type=Path, help="write the JSON to this file (atomically) instead of stdout")
    create = parser.add_argument_group("-c and -p")
    create.add_argument("--file", type=Path, help="the example file of the skill to generate for")
    create.add_argument("--n_generations", "--n-generations", dest="n_generations", type=_positive(int), default=1,
                        help="number of requests (default: 1)")
    create.add_argument("--per-request", type=_positive(int), default=10, help="examples asked for per request (default: 10)")
    create.add_argument("--model", help=f"model name (default: $OPENAI_MODEL or {DEFAULT_MODEL})")
    create.add_argument("--base-url", help="OpenAI-compatible server (default: $OPENAI_BASE_URL or OpenAI)")
    create.add_argument("--append", action="store_true", help="also add the new examples to --file")
    create.add_argument("--timeout", type=_positive(float), default=60.0, help="seconds per request (default: 60)")
    create.add_argument("--retries", type=_nonnegative_int, default=4, help="retries of a failing request (default: 4)")
    create.add_argument("--backoff", type=_positive(float), default=1.0,
                        help="first retry delay in seconds, doubling each retry (default: 1)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.training_data and args.file:
        parser.error("-t reads --files, not --file")
    if not args.training_data and (args.files or args.out):
        parser.error("--files and --out belong to -t")
    if not args.training_data and not args.file:
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
    try:
        example_file = read_example_file(args.file, pack)
    except ExamplesError as error:
        report_problems(error)
        return BAD_INPUT
    return create_mode(args, pack, example_file) if args.create else prompt_mode(args, pack, example_file)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


if __name__ == "__main__":
    sys.exit(main())
