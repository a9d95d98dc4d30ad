"""A skill pack: the skills of one Python module or package, plus the folder of their examples.

The default pack is the ``skills`` package with ``examples/``; users and benchmarks bring their
own with ``--skills MODULE --examples DIR`` on every tool.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from assistant.bundled import bundled
from assistant.routing.calls import (
    UNFINISHED,
    UNFINISHED_MARK,
    Call,
    Calls,
    RawCall,
    UnknownSkill,
    clean,
    parse_call,
    parse_calls,
)
from assistant.runtime.skill import SKILL_ATTRIBUTE, Skill

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionFunctionToolParam

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODULE = "skills"
DEFAULT_EXAMPLES = bundled("examples")


FALLBACK_SKILL = "other"  # the skill for speech not meant for the assistant, where a pack has it
REFUSAL_SKILL = "cant_do"  # the skill for a request to the assistant that no skill can do, where a pack has it
NOT_ACTING = frozenset({FALLBACK_SKILL, REFUSAL_SKILL})  # calls that do nothing: silence, or an honest refusal


def acts(calls: Iterable[Call]) -> bool:
    """Whether any of the calls does something: a skill of the pack other than the fallback and the refusal."""
    return any(call.name not in NOT_ACTING for call in calls)


@dataclass(frozen=True)
class SkillPack:
    """Skills by name, in a stable order, and where their example files live."""

    skills: dict[str, Skill]
    examples_dir: Path | None = None

    @classmethod
    def from_skills(cls, skills: Iterable[Skill], examples_dir: Path | None = None) -> SkillPack:
        by_name: dict[str, Skill] = {}
        for skill in sorted(skills, key=lambda s: s.name):
            if skill.name in by_name and by_name[skill.name].function is not skill.function:
                raise ValueError(f"two skills are named {skill.name!r}")
            by_name[skill.name] = skill
        return cls(by_name, examples_dir)

    @property
    def fallback(self) -> Call | None:
        """What the router answers for speech the pack does not handle: ``other()`` where the pack has
        that skill; a pack without one (SNIPS) has no fallback call, and such speech gets no call."""
        return Call(FALLBACK_SKILL) if FALLBACK_SKILL in self.skills else None

    def parse(self, text: str, said: str | None = None) -> Call:
        """Parse model text into a validated call of one of this pack's skills (CallError if not).

        With ``said`` (the utterance), span arguments must also be words copied from it.
        """
        return self.bind(parse_call(text), said)

    def parse_calls(self, text: str, said: str | None = None) -> Calls:
        """Parse one to three calls separated by ``"; "`` (see :meth:`parse`), or the unfinished mark."""
        if clean(text) == UNFINISHED_MARK:
            return UNFINISHED
        return Calls(self.bind(raw, said) for raw in parse_calls(text))

    def bind(self, raw: RawCall, said: str | None = None) -> Call:
        skill = self.skills.get(raw.name)
        if skill is None:
            known = ", ".join(self.skills) or "none"
            raise UnknownSkill(f"unknown skill {raw.name!r} (known: {known})")
        call = skill.bind(raw)
        if said is not None:
            skill.check_spans(call, said)
        return call

    def prompt_lines(self) -> list[str]:
        return [skill.prompt_line() for skill in self.skills.values()]

    def tools(self) -> list[ChatCompletionFunctionToolParam]:
        """OpenAI ``tools`` for every skill of the pack."""
        # Each entry as Skill.json_schema makes it ({"type": "function", "function": ...}), typed as openai's.
        return [{"type": "function", "function": skill.json_schema()["function"]} for skill in self.skills.values()]

    def signatures(self) -> dict[str, str]:
        """Name to prompt line: what a trained router's manifest records and compares."""
        return {name: skill.prompt_line() for name, skill in self.skills.items()}

    def example_files(self) -> list[Path]:
        if self.examples_dir is None:
            return []
        return sorted(self.examples_dir.glob("*_examples.txt"))


def load_pack(module: str = DEFAULT_MODULE, examples: str | Path | None = None) -> SkillPack:
    """Import a module (or every module of a package) and collect the functions marked ``@skill``."""
    root = importlib.import_module(module)
    modules: list[ModuleType] = [root]
    if hasattr(root, "__path__"):
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{module}."):
            modules.append(importlib.import_module(info.name))
    skills = [
        getattr(value, SKILL_ATTRIBUTE)
        for mod in modules
        for value in vars(mod).values()
        if callable(value) and hasattr(value, SKILL_ATTRIBUTE)
    ]
    if not skills:
        raise ValueError(f"module {module!r} defines no @skill functions")
    if examples is None and module == DEFAULT_MODULE:
        examples = DEFAULT_EXAMPLES
    return SkillPack.from_skills(skills, Path(examples) if examples is not None else None)
