"""Open-ended answers from a chat model: stories and general questions.

With ``[llm] base_url`` set, an OpenAI-compatible endpoint answers (its chat.completions API, asked
through :func:`assistant.runtime.net.request`, so that the answer is bounded in time and size); otherwise the
embedded SmolLM2-135M-Instruct runs locally, loaded once per process.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from typing import Annotated, Any

from assistant.config import LLMConfig, config_path
from assistant.models import ModelNotFound, load_causal_lm
from assistant.runtime.context import current_context
from assistant.runtime.net import OverLimit, Reply, Unreachable, budget_s, request
from assistant.runtime.skill import Span, skill
from assistant.web import LOCAL_API_KEY

MAX_ANSWER_BYTES = 1_000_000  # a chat.completions answer of max_new_tokens is a few kB
RETRY_WAIT_S = 0.5  # before the first retry of a failed request; doubled for each next one
RETRIED_STATUSES = (408, 409, 429)  # and every 5xx, as the openai client retries them

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
    where = f"The language model at {settings.base_url}"
    until = time.monotonic() + budget_s(settings.timeout_s)  # every try together
    asked = {
        "model": settings.model,
        "max_tokens": settings.max_new_tokens,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
    }
    key = os.environ.get(settings.api_key_env) or LOCAL_API_KEY  # a server of one's own needs none
    reply: Reply | None = None
    for attempt in range(settings.max_retries + 1):
        if attempt:
            time.sleep(min(RETRY_WAIT_S * 2 ** (attempt - 1), max(0.0, until - time.monotonic())))
        try:
            reply = request(
                "POST",
                f"{str(settings.base_url).rstrip('/')}/chat/completions",
                until=until,
                max_bytes=MAX_ANSWER_BYTES,
                json=asked,
                headers={"Authorization": f"Bearer {key}"},
            )
        except Unreachable:
            continue
        except OverLimit as error:
            return f"{where} {error}."
        if reply.status not in RETRIED_STATUSES and reply.status < 500:
            break
    if reply is None:
        return f"I can't reach the language model at {settings.base_url} right now."
    if not reply.ok:
        return f"{where} answered with an error (HTTP {reply.status})."
    text = _message(reply.body)
    if text is None:  # an HTML page or other JSON, with status 200
        return f"{where} gave an answer I can't read."
    return whole_sentences(text) or "The language model gave an empty answer."


def _message(body: bytes) -> str | None:
    """The text of the first choice of a chat.completions answer ("" for none); None if it is not one."""
    try:
        choices = json.loads(body)["choices"]
        content = choices[0]["message"]["content"] if choices else ""
    except (ValueError, KeyError, IndexError, TypeError, RecursionError):
        return None
    if not isinstance(choices, list) or not isinstance(content, str | None):
        return None
    return (content or "").strip()


def _generate_locally(settings: LLMConfig, system: str, user: str) -> str:
    model, tokenizer = _local_model()
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    # Stop in time to answer within the skill's limit, rather than be abandoned by the dispatcher.
    output = model.generate(
        **inputs, max_new_tokens=settings.max_new_tokens, max_time=budget_s(settings.timeout_s), do_sample=False
    )
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
