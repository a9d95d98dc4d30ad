"""Reader for per-skill example files (otto's format), strict by design.

A file looks like::

    #### Prompt:
    weather(location="[location]", day="[day]") ask for the weather

    #### Prompt Examples:

    ### User: what's the weather in Berlin tomorrow
    ### Assistant: weather(location="Berlin", day="tomorrow")

    #### Examples:

    ### User: weather in paris
    ### Assistant: weather(location="paris")

An optional last section, ``#### Templates:``, holds slot lists and template pairs in hassil's
syntax (see :mod:`assistant.runtime.templates`); ``training_data.py -t`` expands them.

Every line is either blank, a section header, the one prompt line, a slot list, or half of a
User/Assistant pair. Anything else is an error naming file and line: nothing is skipped silently.
A file is bounded before it is read (a regular file of at most MAX_EXAMPLE_FILE_BYTES), and each
line after (MAX_EXAMPLE_LINE_CHARS, no control character but a tab).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.config import ConfigError, read_small_text
from assistant.errors import VoxrouteError
from assistant.files import write_atomically
from assistant.routing.calls import CallError, Calls
from assistant.runtime.pack import SkillPack
from assistant.runtime.templates import (
    MAX_FILE_FORMS,
    SlotValue,
    Template,
    TemplateError,
    count_forms,
    parse_list_line,
    sentence_forms,
)

PROMPT, PROMPT_EXAMPLES, EXAMPLES, TEMPLATES = (
    "#### Prompt:",
    "#### Prompt Examples:",
    "#### Examples:",
    "#### Templates:",
)
USER, ASSISTANT = "### User:", "### Assistant:"
_SECTIONS = (PROMPT, PROMPT_EXAMPLES, EXAMPLES, TEMPLATES)
MAX_EXAMPLE_FILE_BYTES = 4 << 20  # 4 MiB; the largest shipped example file (SNIPS BookRestaurant) has 345 kB
MAX_EXAMPLE_LINE_CHARS = 10_000  # the longest shipped line, a slot list of news topics, has 1,876
MAX_PROBLEMS = 20  # problems listed per file: a binary file is not listed line by line
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # all but tab; NUL, escapes, hidden line breaks
_CONTRACTION = re.compile(r"(\w) (s|t|d|m|ll|re|ve)\b")  # "what s", "don t": a word cut at its apostrophe


class ExamplesError(VoxrouteError, ValueError):
    """One or more problems in example files, each as ``file:line: message``."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Example:
    user: str
    calls: Calls  # usually one; several for a compound request ("a timer and the weather")
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class ExampleFile:
    path: Path
    skill: str
    prompt: str
    prompt_examples: tuple[Example, ...]
    examples: tuple[Example, ...]
    templates: tuple[Template, ...] = ()
    lists: dict[str, list[SlotValue]] = field(default_factory=dict, compare=False, hash=False)

    @property
    def all_examples(self) -> tuple[Example, ...]:
        return self.prompt_examples + self.examples


def read_example_file(path: str | Path, pack: SkillPack) -> ExampleFile:
    """Read and validate one file; raise ExamplesError listing every problem found."""
    path = Path(path)
    lines = read_example_text(path).split("\n")  # not splitlines(): a form feed or U+2028 is no line end to an editor
    problems: list[str] = []
    section: str | None = None
    prompt: str | None = None
    prompt_number = 0
    seen_sections: list[str] = []
    found: dict[str, list[Example]] = {PROMPT_EXAMPLES: [], EXAMPLES: []}
    templates: list[Template] = []
    lists: dict[str, list[SlotValue]] = {}
    pending: tuple[str, int] | None = None
    forms = 0  # sentences of the templates so far, bounded before any is made

    def problem(number: int, message: str) -> None:
        problems.append(f"{path}:{number}: {message}")

    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if (unreadable := _not_plain_text(raw)) is not None:
            problem(number, unreadable)
            if not line.startswith((USER, ASSISTANT)):  # half of a pair is read on, so that its other half is no error
                continue
        if not line:
            continue
        if line in _SECTIONS:
            if line in seen_sections:
                problem(number, f"section {line!r} appears twice")
            elif seen_sections and _SECTIONS.index(line) < _SECTIONS.index(seen_sections[-1]):
                problem(number, f"section {line!r} is out of order (expected {' / '.join(_SECTIONS)})")
            if pending:
                problem(pending[1], "'### User:' line has no '### Assistant:' line after it")
                pending = None
            seen_sections.append(line)
            section = line
            continue
        if section == PROMPT:
            if prompt is not None:
                problem(number, "the Prompt section holds exactly one line; this is a second one")
            else:
                prompt, prompt_number = line, number
            continue
        if section == TEMPLATES and (defined := parse_list_line(line)) is not None:
            name, values = defined
            if name in lists:
                problem(number, f"list {{{name}}} is defined twice")
            elif not values:
                problem(number, f"list {{{name}}} has no values")
            lists[name] = values
            continue
        if line.startswith(USER):
            if section is None:
                problem(number, "example before any section header")
            if pending:
                problem(pending[1], "'### User:' line has no '### Assistant:' line after it")
            user = line[len(USER) :].strip()
            if not user:
                problem(number, "empty utterance")
                pending = None
            else:
                pending = (user, number)
            continue
        if line.startswith(ASSISTANT):
            if pending is None:
                problem(number, "'### Assistant:' line without a '### User:' line before it")
                continue
            if section == TEMPLATES:
                template = Template(pending[0], line[len(ASSISTANT) :].strip(), str(path), pending[1])
                try:
                    forms += count_forms(template)
                    if forms > MAX_FILE_FORMS:
                        problem(
                            pending[1],
                            f"the templates up to this one say {forms:,} sentences; "
                            f"the most for a file is {MAX_FILE_FORMS:,}",
                        )
                    else:
                        sentence_forms(template)
                except TemplateError as error:
                    problems.append(str(error))
                templates.append(template)
                pending = None
                continue
            try:
                calls = pack.parse_calls(line[len(ASSISTANT) :], pending[0])  # a said value must be words said
            except CallError as error:
                problem(number, str(error))
            else:
                if section in found:
                    found[section].append(Example(pending[0], calls, str(path), pending[1]))
            pending = None
            continue
        problem(number, f"cannot place this line (expected a section header, '{USER}' or '{ASSISTANT}'): {line[:60]!r}")
    if pending:
        problem(pending[1], "'### User:' line has no '### Assistant:' line after it")
    if prompt is None:
        problems.append(f"{path}: no '{PROMPT}' section with its prompt line")
    skill = _prompt_skill(prompt or "", pack)
    if prompt is not None and skill is None:
        problems.append(
            f"{path}: the prompt line must start with a skill of the pack, e.g. other() ...: {prompt[:60]!r}"
        )
    elif prompt is not None and skill is not None and prompt != pack.skills[skill].prompt_line():
        problems.append(
            f"{path}:{prompt_number}: the prompt line is derived from the skill's signature and docstring, "
            f"expected: {pack.skills[skill].prompt_line()} (training_data.py --sync-prompts rewrites it)"
        )
    if len(problems) > MAX_PROBLEMS:
        problems[MAX_PROBLEMS:] = [f"{path}: and {len(problems) - MAX_PROBLEMS:,} more problems"]
    if problems:
        raise ExamplesError(problems)
    return ExampleFile(
        path, skill or "", prompt or "", tuple(found[PROMPT_EXAMPLES]), tuple(found[EXAMPLES]), tuple(templates), lists
    )


def _not_plain_text(line: str) -> str | None:
    """Why a line is no plain text of a bounded length (a NUL, an escape, a pasted blob), if it is not."""
    if len(line) > MAX_EXAMPLE_LINE_CHARS:
        return f"a line of {len(line):,} characters; the most is {MAX_EXAMPLE_LINE_CHARS:,}"
    if control := _CONTROL.search(line):
        return (
            f"control character U+{ord(control.group()):04X} in column {control.start() + 1} "
            "(an example file is plain text)"
        )
    return None


def read_example_text(path: Path) -> str:
    """The text of a regular file of at most MAX_EXAMPLE_FILE_BYTES, every line end made a line feed."""
    try:
        text = read_small_text(path, MAX_EXAMPLE_FILE_BYTES).removeprefix("\ufeff")
    except FileNotFoundError:
        raise ExamplesError([f"{path}: cannot be read: no such file"]) from None
    except ConfigError as error:  # names the file
        raise ExamplesError([str(error)]) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_example_files(paths: Iterable[str | Path], pack: SkillPack) -> list[ExampleFile]:
    """Read several files, reporting the problems of all of them together."""
    files, problems = [], []
    for path in paths:
        try:
            files.append(read_example_file(path, pack))
        except ExamplesError as error:
            problems.extend(error.problems)
    if problems:
        raise ExamplesError(problems)
    return files


def utterance_key(text: str) -> str:
    """Two utterances with the same key are the same example: case, punctuation, spacing and apostrophes aside
    ("Whats", "what's", typographic apostrophes, and "what s" as one corpus writes it are one utterance, so none
    is trained on while another is held out)."""
    words = " ".join(re.sub(r"\W+", " ", re.sub("['\u2019]", "", text.casefold())).split())
    return _CONTRACTION.sub(r"\1\2", words)


def deduplicate(examples: Iterable[Example]) -> tuple[list[Example], list[str]]:
    """Keep the first of each utterance; report repeats. Raise ExamplesError on conflicting labels."""
    first: dict[str, Example] = {}
    kept, duplicates, conflicts = [], [], []
    for example in examples:
        key = utterance_key(example.user)
        earlier = first.get(key)
        if earlier is None:
            first[key] = example
            kept.append(example)
        elif earlier.calls == example.calls:
            duplicates.append(f"{example.where}: duplicate of {earlier.where}: {example.user!r}")
        else:
            conflicts.append(
                f"{example.where}: {example.user!r} is labelled {example.calls}, "
                f"but {earlier.where} labels it {earlier.calls}"
            )
    if conflicts:
        raise ExamplesError(conflicts)
    return kept, duplicates


def _prompt_skill(prompt: str, pack: SkillPack) -> str | None:
    match = re.match(r"\s*(\w+)\(", prompt)
    return match.group(1) if match and match.group(1) in pack.skills else None


def sync_prompt_line(path: Path, pack: SkillPack) -> bool:
    """Rewrite the file's prompt line as its skill's signature derives it; whether it changed.

    Only that line changes, atomically; a file whose prompt line names no skill of the pack is left alone.
    Raises ExamplesError when the file cannot be read within its bounds.
    """
    lines = read_example_text(path).splitlines(keepends=True)
    headers = [index for index, line in enumerate(lines) if line.strip() == PROMPT]
    if not headers:
        return False
    index = next((i for i in range(headers[0] + 1, len(lines)) if lines[i].strip()), None)
    if index is None:
        return False
    skill = _prompt_skill(lines[index], pack)
    if skill is None or lines[index].strip() == pack.skills[skill].prompt_line():
        return False
    lines[index] = pack.skills[skill].prompt_line() + "\n"
    write_atomically(path, "".join(lines))
    return True
