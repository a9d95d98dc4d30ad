"""Asking an LLM for new examples of one skill, and keeping only those that pass our own checks.

The LLM is a source of candidates, never of truth: each pair it returns is parsed with the pack,
bound to the skill's signature and compared with what exists; anything else is dropped with a
reason. Any OpenAI-compatible chat-completions server works. The answer is forced through one
tool so that it arrives as JSON, not prose to scrape.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
from openai.types.chat import (
    ChatCompletionMessageParam,
    ChatCompletionNamedToolChoiceParam,
    ChatCompletionToolParam,
)

from assistant.errors import VoxrouteError
from assistant.files import write_atomically
from assistant.routing.calls import Call, CallError, format_literal
from assistant.runtime.example_files import (
    ASSISTANT,
    EXAMPLES,
    USER,
    ExampleFile,
    read_example_file,
    read_example_text,
    utterance_key,
)
from assistant.runtime.pack import SkillPack
from assistant.runtime.skill import Skill

TOOL_NAME = "add_examples"
TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Add new training examples: what a person said, and the one skill call it means.",
        "parameters": {
            "type": "object",
            "properties": {
                "examples": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "user": {"type": "string", "description": "the speech transcript"},
                            "assistant": {"type": "string", "description": "the skill call, e.g. other()"},
                        },
                        "required": ["user", "assistant"],
                        "additionalProperties": False,
                    },
                }
            },
            "required": ["examples"],
            "additionalProperties": False,
        },
    },
}
TOOL_CHOICE: ChatCompletionNamedToolChoiceParam = {"type": "function", "function": {"name": TOOL_NAME}}
AVOID_SAMPLE = 40
DEFAULT_MODEL = "gpt-4o-mini"
_TYPE_WORDS = {str: "text", int: "a whole number", float: "a number", bool: "True or False"}

SYSTEM = """You write training data for voxroute, a voice assistant. A small model reads what a \
person said (a speech-recognizer transcript) and answers with exactly one skill call.
Each example is a pair: "user" is the transcript, "assistant" is the call.
Rules for the call: Python syntax, keyword arguments, double-quoted strings, literal values only; \
give only the arguments the person actually said and leave optional ones out otherwise.
Rules for the transcript: it is speech, as a recognizer writes it: no markdown or emoji, often \
lowercase, sometimes with fillers, hesitations or missing punctuation; mix short and long, direct \
and indirect, casual and polite phrasings.
Every example must be new: not a copy or a light rewording of the examples you are shown.
Answer only by calling the add_examples tool."""


class GenerationFailed(VoxrouteError, RuntimeError):
    """A request failed for good (after its retries); what was generated before it is kept."""


class Rejected(ValueError):
    """A generated pair that cannot become an example; the message is the reason."""


@dataclass(frozen=True)
class NewExample:
    user: str
    call: Call


@dataclass
class Generation:
    """What a run produced. ``failure`` says why it stopped before its last request, if it did."""

    examples: list[NewExample] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    failure: str | None = None


def signature_rules(skill: Skill) -> str:
    """The skill's arguments in words: type, choices, required or default."""
    if not skill.parameters:
        return f"{skill.name}() takes no arguments."
    lines = []
    for param in skill.parameters:
        kind = _TYPE_WORDS[param.type]
        if param.choices is not None:
            kind = "one of " + ", ".join(format_literal(choice) for choice in param.choices)
        if param.required:
            need = "required" + ("; may be None" if param.optional else "")
        elif param.default is None:
            need = "optional: leave it out unless the person says it"
        else:
            need = (
                f"optional, default {format_literal(param.default)}: "
                "leave it out unless the person asks for another value"
            )
        lines.append(f"- {param.name}: {kind}; {need}")
    return "\n".join(lines)


def build_messages(
    example_file: ExampleFile, pack: SkillPack, generated: Sequence[str], count: int, rng: random.Random
) -> list[ChatCompletionMessageParam]:
    """The chat messages of one request: the skill, its argument rules, its prompt examples, and a
    sample of the file's other examples and of those ``generated`` so far, not to be repeated (a
    different sample each request, drawn from ``rng``)."""
    skill = pack.skills[example_file.skill]
    shown = "\n\n".join(f"{USER} {e.user}\n{ASSISTANT} {e.calls}" for e in example_file.prompt_examples)
    parts = [
        f"Write {count} new examples for this skill:\n{example_file.prompt}",
        f"Its arguments:\n{signature_rules(skill)}",
    ]
    if shown:
        parts.append(f"Examples of the style and of correct calls:\n\n{shown}")
    avoid = [example.user for example in example_file.examples] + list(generated)
    sample = rng.sample(avoid, min(AVOID_SAMPLE, len(avoid)))
    if sample:
        parts.append(
            "Already in the data (do not repeat these or near-copies):\n" + "\n".join(f"- {u}" for u in sample)
        )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def request(client: openai.OpenAI, model: str, messages: list[ChatCompletionMessageParam]) -> Any:
    """One chat completion forced through the tool. The client (:func:`assistant.web.openai_client`)
    has retried timeouts, connection errors, 429 and 5xx, waiting as Retry-After says; what still fails is final."""
    try:
        return client.chat.completions.create(model=model, messages=messages, tools=[TOOL], tool_choice=TOOL_CHOICE)
    except openai.APITimeoutError:
        reason = "timed out"
    except openai.APIConnectionError as error:
        reason = f"connection failed ({error})"
    except openai.APIStatusError as error:
        raise GenerationFailed(f"HTTP {error.status_code}: {error.message}") from None
    except openai.OpenAIError as error:
        raise GenerationFailed(f"{type(error).__name__}: {error}") from None
    raise GenerationFailed(f"{reason}, still after {client.max_retries} retries")


def candidates(completion: Any) -> tuple[list[tuple[str, str]], list[str]]:
    """The (user, assistant) values in a completion's tool calls, and why anything else was skipped."""
    pairs: list[tuple[str, str]] = []
    problems: list[str] = []
    choices = getattr(completion, "choices", None)
    if not choices:
        return pairs, [f"the answer is not a chat completion with choices: {str(completion)[:80]!r}"]
    message = choices[0].message
    if not message.tool_calls:
        return pairs, [f"the answer calls no tool (text: {(message.content or '')[:80]!r})"]
    for tool_call in message.tool_calls:
        function = getattr(tool_call, "function", None)
        if function is None or function.name != TOOL_NAME:
            problems.append(f"ignored a call of another tool: {getattr(function, 'name', tool_call)!r}")
            continue
        try:
            arguments = json.loads(function.arguments)
        except (json.JSONDecodeError, TypeError) as error:
            problems.append(f"tool arguments are not valid JSON ({error}): {str(function.arguments)[:80]!r}")
            continue
        items = arguments.get("examples") if isinstance(arguments, dict) else None
        if not isinstance(items, list):
            problems.append(f"tool arguments have no 'examples' list: {str(function.arguments)[:80]!r}")
            continue
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("user"), str) and isinstance(item.get("assistant"), str):
                pairs.append((item["user"], item["assistant"]))
            else:
                problems.append(f"not a {{user, assistant}} pair of strings: {str(item)[:80]!r}")
    return pairs, problems


def check(user: str, assistant: str, skill: str, pack: SkillPack, known: dict[str, str]) -> NewExample:
    """A generated pair as an example of ``skill``'s file, or Rejected saying why not."""
    user = " ".join(user.split())
    if not utterance_key(user):
        raise Rejected(f"empty utterance {user!r}")
    marker = next((m for m in (USER, ASSISTANT, "####") if m in user), None)
    if marker is not None:  # it would read back as a second example or a section
        raise Rejected(f"the utterance contains the file marker {marker!r}")
    try:
        call = pack.parse(assistant)
    except CallError as error:
        raise Rejected(str(error)) from None
    earlier = known.get(utterance_key(user))
    if earlier is not None:
        raise Rejected(f"duplicate of {earlier}")
    if call.name != skill:
        raise Rejected(f"a call of {call.name}, not of {skill} (this file's skill)")
    return NewExample(user, call)


def generate(
    client: openai.OpenAI,
    model: str,
    example_file: ExampleFile,
    pack: SkillPack,
    known: dict[str, str],
    requests: int,
    per_request: int,
    seed: int,
    report: Callable[[str], None],
) -> Generation:
    """Run ``requests`` requests; keep what passes :func:`check`. ``known`` maps utterance keys to
    where they already are and grows with each accepted example, so none is generated twice."""
    rng = random.Random(seed)
    result = Generation()
    for number in range(1, requests + 1):
        messages = build_messages(example_file, pack, [e.user for e in result.examples], per_request, rng)
        try:
            completion = request(client, model, messages)
        except GenerationFailed as error:
            result.failure = f"request {number} of {requests} failed: {error}"
            break
        pairs, problems = candidates(completion)
        dropped = [f"request {number}: {problem}" for problem in problems]
        for user, assistant in pairs:
            try:
                example = check(user, assistant, example_file.skill, pack, known)
            except Rejected as error:
                dropped.append(f"request {number}: dropped {user!r} -> {assistant!r}: {error}")
                continue
            known[utterance_key(example.user)] = f"generated example {len(result.examples) + 1}"
            result.examples.append(example)
        for line in dropped:
            report(line)
        result.rejected.extend(dropped)
    return result


def known_utterances(files: Iterable[ExampleFile]) -> dict[str, str]:
    """Utterance key to the file:line that has it, over all given files."""
    known: dict[str, str] = {}
    for example_file in files:
        for example in example_file.all_examples:
            known.setdefault(utterance_key(example.user), example.where)
    return known


def format_examples(examples: Iterable[NewExample]) -> str:
    """Examples in the file format, one blank line between pairs."""
    return "".join(f"{USER} {e.user}\n{ASSISTANT} {e.call}\n\n" for e in examples)


def append_examples(path: Path, examples: Sequence[NewExample], pack: SkillPack) -> None:
    """Add examples at the end of the file's Examples section (creating it if missing), atomically;
    the new text must pass the strict reader before it replaces the file."""
    text = read_example_text(path)  # bounded again: it may have changed since -c read it
    if not any(line.strip() == EXAMPLES for line in text.splitlines()):
        text = text.rstrip("\n") + f"\n\n{EXAMPLES}\n"
    write_atomically(
        path,
        text.rstrip("\n") + "\n\n" + format_examples(examples).rstrip("\n") + "\n",
        check=lambda temp: read_example_file(temp, pack),
    )
