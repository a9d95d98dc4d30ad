"""A prompt template read off the base model's own chat template (the template named ``tokenizer``).

An instruct model was tuned on its own chat format, and its tokenizer carries that format as a
Jinja template; rendering it once with the placeholders as the messages gives the same kind of
text as a file in ``prompts/``, so training, evaluation and serving need nothing else.

A template that refuses or drops a system message (Mistral-7B-Instruct's) gets the system text at
the head of the user message instead, rather than an error: it is still fixed text before the
utterance, so the prompt head stays cacheable, and it is how such models are usually prompted.
"""

from __future__ import annotations

from typing import Any

from jinja2.exceptions import TemplateError

PLACEHOLDERS = ("{system}", "{user}", "{call}")  # what a prompt template holds once each, in this order
_WITH_SYSTEM = [
    {"role": "system", "content": "{system}"},
    {"role": "user", "content": "{user}"},
    {"role": "assistant", "content": "{call}"},
]
_SYSTEM_IN_USER = [{"role": "user", "content": "{system}\n\n{user}"}, {"role": "assistant", "content": "{call}"}]


def chat_template_text(tokenizer: Any) -> str | None:
    """The template text (``{system}``, ``{user}``, ``{call}``) the tokenizer's chat template
    implies, or None when it has none.

    The leading BOS is dropped when the tokenizer adds one itself (it would be there twice), and
    whatever follows the assistant's end-of-turn (the EOS, or the turn's last marker) is left out,
    as in the file templates.
    """
    if not getattr(tokenizer, "chat_template", None):
        return None
    rendered = (_render(tokenizer, messages) for messages in (_WITH_SYSTEM, _SYSTEM_IN_USER))
    text = next((text for text in rendered if _placed(text)), None)
    if text is None:
        raise ValueError(
            f"the chat template of {tokenizer.name_or_path} does not keep the system, user and assistant "
            "messages once each and in order, not even with the system text in the user message: "
            "name a file template instead"
        )
    bos, eos = tokenizer.bos_token, tokenizer.eos_token
    if bos and text.startswith(bos) and tokenizer("a").input_ids[:1] == [tokenizer.bos_token_id]:
        text = text[len(bos) :]
    head, tail = text.split("{call}")
    if eos and eos in tail:
        tail = tail[: tail.index(eos) + len(eos)]
    return f"{head}{{call}}{tail.rstrip()}"


def _render(tokenizer: Any, messages: list[dict[str, str]]) -> str | None:
    """The conversation as text, or None where the template refuses it (``raise_exception``)."""
    try:
        text: str = tokenizer.apply_chat_template(messages, tokenize=False)  # tokenize=False: the text
        return text
    except TemplateError:
        return None


def _placed(text: str | None) -> bool:
    """Whether each placeholder came out once, in order (a template may drop or repeat a message)."""
    if text is None or any(text.count(p) != 1 for p in PLACEHOLDERS):
        return False
    positions = [text.index(p) for p in PLACEHOLDERS]
    return positions == sorted(positions)
