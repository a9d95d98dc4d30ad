"""The one way voxroute builds an OpenAI client (the router, the chat skills, the example generator).

One rule for the key, and the SDK's own retries: it retries timeouts, connection errors, 408, 409,
429 and 5xx with exponential backoff, and waits as long as a ``Retry-After`` header says (up to two
minutes) when there is one.
"""

from __future__ import annotations

import os

import openai

# Local servers (llama.cpp, Ollama, vLLM) need no key, but the client insists on one.
LOCAL_API_KEY = "not-needed"


class NoAPIKey(ValueError):
    """The public API is meant (no base URL) but its key is not in the environment."""


def openai_client(base_url: str | None, api_key_env: str, timeout_s: float, max_retries: int) -> openai.OpenAI:
    """A client for ``base_url`` (else ``$OPENAI_BASE_URL``, else api.openai.com) with the key from
    ``$api_key_env``; a server of one's own needs none. ``timeout_s`` bounds each request."""
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    api_key = os.environ.get(api_key_env) or (LOCAL_API_KEY if base_url else None)
    if api_key is None:
        raise NoAPIKey(f"set {api_key_env} to the API key, or a base URL for a server that needs none")
    return openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=max_retries)
