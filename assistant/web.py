"""The one way voxroute builds an OpenAI client (the router, the chat skills, the example generator),
and reads an endpoint's answer within bounds.

One rule for the key, and the SDK's own retries: it retries timeouts, connection errors, 408, 409,
429 and 5xx with exponential backoff, and waits as long as a ``Retry-After`` header says (up to two
minutes) when there is one. An answer is data from the network: its body is read no further than
MAX_REPLY_BYTES, and its JSON is checked for nesting before a parser recurses through it.
"""

from __future__ import annotations

import os
import re
from typing import Any

import openai

from assistant.errors import VoxrouteError

# Local servers (llama.cpp, Ollama, vLLM) need no key, but the client insists on one.
LOCAL_API_KEY = "not-needed"
MAX_REPLY_BYTES = 4 << 20  # a chat completion with tool calls is a few kB
MAX_JSON_DEPTH = 32  # a chat completion nests 6 deep; json.loads recurses once per level
_JSON_SYNTAX = re.compile(r'[][{}"\\]')


class ReplyTooLarge(VoxrouteError):
    """The endpoint's answer is larger than MAX_REPLY_BYTES; the message is one line."""


class NoAPIKey(VoxrouteError, ValueError):
    """The public API is meant (no base URL) but its key is not in the environment."""


def openai_client(base_url: str | None, api_key_env: str, timeout_s: float, max_retries: int) -> openai.OpenAI:
    """A client for ``base_url`` (else ``$OPENAI_BASE_URL``, else api.openai.com) with the key from
    ``$api_key_env``; a server of one's own needs none. ``timeout_s`` bounds each request."""
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    api_key = os.environ.get(api_key_env) or (LOCAL_API_KEY if base_url else None)
    if api_key is None:
        raise NoAPIKey(f"set {api_key_env} to the API key, or a base URL for a server that needs none")
    return openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=max_retries)


def bounded_body(response: Any, limit: int = MAX_REPLY_BYTES) -> bytes:
    """The body of a streamed SDK response (``with_streaming_response``), refused by its Content-Length,
    or as soon as more than ``limit`` bytes have come, so that no answer is held whole before it is checked."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ReplyTooLarge(f"the endpoint's answer is {int(declared):,} bytes, more than {limit:,}")
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise ReplyTooLarge(f"the endpoint's answer is larger than {limit:,} bytes")
    return bytes(body)


def nested_deeper_than(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects in JSON text nest more than ``limit`` deep, found in one linear pass
    without parsing it (brackets inside strings do not count)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, quoted, escaped_at = 0, False, -1
    for match in _JSON_SYNTAX.finditer(text):
        char, at = match.group(), match.start()
        if at == escaped_at:
            continue
        if quoted:
            escaped_at = at + 1 if char == "\\" else escaped_at
            quoted = char != '"'
        elif char == '"':
            quoted = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False
