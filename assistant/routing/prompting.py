"""The one prompt-rendering function that training, evaluation and the runtime all call.

A template is a text file in ``prompts/`` with three placeholders: ``{system}``, ``{user}`` and
``{call}``, or the same text read off the model's own chat template (``tokenizer``, see
:mod:`assistant.routing.chat_template`). Everything before ``{call}`` is the prompt; what follows it ends
the model's turn. Because the system text and the template head come before the utterance, the part
up to ``{user}`` is fixed and can be KV-cached.

Spaces right before ``{call}`` (``[/INST] {call}``) belong to the completion, not the prompt: most
tokenizers fold a space into the next word (" weather" is one token), so a prompt ending in a
space would be tokenised differently alone than followed by the call, and training (which masks by
the prompt's length) would not see the tokens the model must produce when serving.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.bundled import bundled
from assistant.dialogue import Exchange
from assistant.routing.calls import Call, Calls
from assistant.routing.chat_template import PLACEHOLDERS, chat_template_text

PROMPTS_DIR = bundled("prompts")
DEFAULT_TEMPLATE = "chatml"
TOKENIZER_TEMPLATE = "tokenizer"


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    text: str

    def __post_init__(self) -> None:
        positions = [self.text.find(p) for p in PLACEHOLDERS]
        if any(self.text.count(p) != 1 for p in PLACEHOLDERS) or positions != sorted(positions):
            raise ValueError(
                f"prompt template {self.name!r} needs {{system}}, {{user}} and {{call}} once each, in that order"
            )

    @property
    def lead(self) -> str:
        """The spaces between the prompt and the call, which the completion carries (see the module docstring)."""
        head = self.text.split("{call}", 1)[0]
        return head[len(head.rstrip(" ")) :]

    @property
    def suffix(self) -> str:
        """What ends the model's turn after the call (for ChatML ``<|im_end|>``), without trailing space.

        Trailing whitespace is left out so a completion ends exactly on the end-of-turn token;
        where a template has none (``plain``), the trainer appends the tokenizer's EOS token.
        """
        return self.text.split("{call}", 1)[1].rstrip()


def load_template(name_or_path: str | Path = DEFAULT_TEMPLATE, tokenizer: Any = None) -> PromptTemplate:
    """A template by name (``chatml``, ``mistral``, ``llama2``, ``plain``, or ``tokenizer``: the
    chat template of ``tokenizer``'s model) or by file path."""
    if str(name_or_path) == TOKENIZER_TEMPLATE:
        return _from_tokenizer(tokenizer)
    path = Path(name_or_path)
    if not path.is_file():
        path = PROMPTS_DIR / f"{name_or_path}.txt"
    if not path.is_file():
        raise ValueError(
            f"no prompt template {str(name_or_path)!r} "
            f"(known: {_file_templates()}, {TOKENIZER_TEMPLATE}, or a file path)"
        )
    return PromptTemplate(path.stem, path.read_text(encoding="utf-8"))


def _from_tokenizer(tokenizer: Any) -> PromptTemplate:
    if tokenizer is None:
        raise ValueError(
            f"the {TOKENIZER_TEMPLATE!r} prompt template is read from the model's tokenizer, and none is "
            f"loaded here: name a file template ({_file_templates()})"
        )
    text = chat_template_text(tokenizer)
    if text is None:
        raise ValueError(
            f"{tokenizer.name_or_path} has no chat template: name a file template ({_file_templates()}) "
            f"instead of {TOKENIZER_TEMPLATE!r}"
        )
    return PromptTemplate(TOKENIZER_TEMPLATE, text)


def _file_templates() -> str:
    return ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.txt") if p.stem != "system"))


def system_text(skill_lines: list[str] | None = None) -> str:
    """The instruction, followed by one line per skill when the prompt lists them."""
    instruction = (PROMPTS_DIR / "system.txt").read_text(encoding="utf-8").strip()
    if not skill_lines:
        return instruction
    return instruction + "\nSkills:\n" + "\n".join(skill_lines)


def render_user(user: str, context: Exchange | None = None) -> str:
    """The user's part of the prompt; a follow-up's also shows the previous turn, its calls and the
    question the assistant asked, so that "twenty minutes" is read as an answer only after one."""
    user = " ".join(user.split())
    if context is None:
        return user
    asked = f"\nAsked: {context.asked}" if context.asked else ""
    return f"Before: {context.user} -> {context.calls}{asked}\nNow: {user}"


def render_prompt(
    template: PromptTemplate, user: str, skill_lines: list[str] | None = None, context: Exchange | None = None
) -> str:
    """The model's input for one utterance (after ``context``): everything up to where the calls begin."""
    head = template.text.split("{call}", 1)[0].rstrip(" ")
    return head.replace("{system}", system_text(skill_lines), 1).replace("{user}", render_user(user, context), 1)


def render_completion(template: PromptTemplate, calls: Call | Calls | str) -> str:
    """The training target: the template's lead, the canonical calls and the end-of-turn marker."""
    return f"{template.lead}{calls}{template.suffix}"
