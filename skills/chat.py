"""Open-ended answers from a chat model: stories and general questions.

With ``[llm] base_url`` set, an OpenAI-compatible endpoint answers (the official ``openai``
client); otherwise the embedded SmolLM2-135M-Instruct runs locally, loaded once per process.
"""

from __future__ import annotations

import re
import threading
from typing import Annotated, Any

import openai

from assistant.config import LLMConfig, config_path
from assistant.context import current_context
from assistant.endpoint import openai_client
from assistant.models import ModelNotFound, load_causal_lm
from assistant.skill import Span, skill

STORYTELLER = "You are a warm storyteller. Tell one very short story in a few plain sentences, for reading aloud."
ANSWERER = "You are a helpful voice assistant. Answer in one or two short, plain sentences, for reading aloud."

_local: tuple[Any, Any] | None = None
_local_lock = threading.Lock()


@skill(reads_only=True)
def story(description: Annotated[str, Span()] | None = None) -> str:
    """Tell a short story, optionally about something."""
    subject = " ".join((description or "").split())
    request = f"Tell me a short story about {subject}." if subject else "Tell me a short story."
    return chat(STORYTELLER, request)


@skill(reads_only=True)
def ask(question: str) -> str:
    """Answer a general question that no other skill covers."""
    return chat(ANSWERER, question)


def chat(system: str, user: str) -> str:
    """The chat model's reply to one user message, or a sentence saying why there is none."""
    settings = current_context().config.llm
    if settings.base_url:
        return _remote(settings, system, user)
    try:
        return _generate_locally(settings, system, user)
    except ModelNotFound as error:
        return f"I have no language model to answer with: {error}."


def _remote(settings: LLMConfig, system: str, user: str) -> str:
    if not settings.model:
        return f"The language model endpoint has no model name: set model under [llm] in {config_path()}."
    client = openai_client(settings.base_url, settings.api_key_env, settings.timeout_s, settings.max_retries)
    try:
        completion = client.chat.completions.create(
            model=settings.model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            max_tokens=settings.max_new_tokens,
        )
    except openai.APIStatusError as error:
        return f"The language model at {settings.base_url} answered with an error (HTTP {error.status_code})."
    except openai.APIConnectionError:
        return f"I can't reach the language model at {settings.base_url} right now."
    except openai.APIError as error:
        return f"The language model at {settings.base_url} failed: {error.message}"
    choices = getattr(completion, "choices", None)
    if not isinstance(choices, list):  # an HTML page or other JSON, with status 200
        return f"The language model at {settings.base_url} gave an answer I can't read."
    text = (getattr(getattr(choices[0], "message", None), "content", None) or "").strip() if choices else ""
    return whole_sentences(text) or "The language model gave an empty answer."


def _generate_locally(settings: LLMConfig, system: str, user: str) -> str:
    model, tokenizer = _local_model()
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    # Stop in time to answer within the skill's limit, rather than be abandoned by the dispatcher.
    seconds = 0.8 * min(settings.timeout_s, current_context().config.router.skill_timeout_s)
    output = model.generate(**inputs, max_new_tokens=settings.max_new_tokens, max_time=seconds, do_sample=False)
    text = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True).strip()
    return whole_sentences(text) or "The language model gave an empty answer."


def whole_sentences(text: str) -> str:
    """The answer up to its last finished sentence: a length or time limit cuts mid-sentence."""
    text = text.strip()
    if not text or text[-1] in ".!?\"')":
        return text
    ends = [match.end() for match in re.finditer(r"[.!?][\"')]?(?=\s)", text)]
    return text[: ends[-1]] if ends else text + "…"


def _local_model() -> tuple[Any, Any]:
    """The embedded model and tokenizer, loaded on first use and kept for the process."""
    global _local
    with _local_lock:
        if _local is None:
            _local = load_causal_lm()
        return _local
