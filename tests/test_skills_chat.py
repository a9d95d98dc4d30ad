"""story and ask: an OpenAI-compatible endpoint on 127.0.0.1, and the embedded local model."""

from __future__ import annotations

import json

import pytest

from assistant.config import Config, LLMConfig, config_path
from skills.chat import ANSWERER, STORYTELLER, ask, story


def completion(request):
    """A chat.completions response shaped like OpenAI's."""
    asked = json.loads(request.body)
    body = {
        "id": "chatcmpl-8abc123",
        "object": "chat.completion",
        "created": 1705312800,
        "model": asked["model"],
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": f"  Reply to: {asked['messages'][-1]['content']}\n"},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26},
    }
    return 200, "application/json", json.dumps(body).encode()


def endpoint(url: str, model: str = "tiny-chat") -> Config:
    return Config(
        llm=LLMConfig(
            base_url=url, model=model, api_key_env="VOXROUTE_TEST_KEY", max_new_tokens=20, timeout_s=5.0, max_retries=0
        )
    )


def test_endpoint_answers(http_server, skill_context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXROUTE_TEST_KEY", "test-key")
    server = http_server({"/v1/chat/completions": completion})
    skill_context(endpoint(f"{server.url}/v1"))
    assert ask("Why is the sky blue?") == "Reply to: Why is the sky blue?"
    assert story("a brave  mouse") == "Reply to: Tell me a short story about a brave mouse."
    assert story() == "Reply to: Tell me a short story."
    first = server.requests[0]
    assert (first.method, first.path) == ("POST", "/v1/chat/completions")
    assert first.headers["authorization"] == "Bearer test-key"
    sent = json.loads(first.body)
    assert sent["model"] == "tiny-chat" and sent["max_tokens"] == 20
    assert sent["messages"] == [
        {"role": "system", "content": ANSWERER},
        {"role": "user", "content": "Why is the sky blue?"},
    ]
    assert json.loads(server.requests[1].body)["messages"][0] == {"role": "system", "content": STORYTELLER}


def test_endpoint_http_error(http_server, skill_context) -> None:
    error = {"error": {"message": "model crashed", "type": "server_error", "param": None, "code": None}}
    server = http_server({"/v1/chat/completions": (500, "application/json", json.dumps(error).encode())})
    skill_context(endpoint(f"{server.url}/v1"))
    assert ask("Anything?") == f"The language model at {server.url}/v1 answered with an error (HTTP 500)."
    assert len(server.requests) == 1


def test_endpoint_html_page_and_a_cut_answer(http_server, skill_context) -> None:
    server = http_server(
        {
            "/html/chat/completions": (200, "text/html", b"<html><body>proxy login</body></html>"),
            "/cut/chat/completions": lambda request: cut(completion(request)),
        }
    )
    skill_context(endpoint(f"{server.url}/html"))
    assert ask("Anything?") == f"The language model at {server.url}/html gave an answer I can't read."
    skill_context(endpoint(f"{server.url}/cut"))
    assert story("the sea") == "Reply to: Tell me a short story about the sea."


def cut(reply: tuple[int, str, bytes]) -> tuple[int, str, bytes]:
    """The reply with a sentence cut off by the token limit after it."""
    status, kind, body = reply
    data = json.loads(body)
    data["choices"][0]["message"]["content"] += " And then the wind"
    data["choices"][0]["finish_reason"] = "length"
    return status, kind, json.dumps(data).encode()


def test_endpoint_unreachable(skill_context, closed_url) -> None:
    skill_context(endpoint(f"{closed_url}/v1"))
    assert story("dragons") == f"I can't reach the language model at {closed_url}/v1 right now."


def test_endpoint_without_model_name(skill_context, closed_url) -> None:
    skill_context(endpoint(f"{closed_url}/v1", model=""))
    assert ask("Anything?") == (
        f"The language model endpoint has no model name: set model under [llm] in {config_path()}."
    )


@pytest.mark.slow
def test_embedded_model_answers_locally(skill_context) -> None:
    skill_context(Config(llm=LLMConfig(max_new_tokens=8)))
    answer = ask("What is the capital of France?")
    assert answer.strip() and answer != "The language model gave an empty answer."
    assert answer.endswith((".", "!", "?", "…", '"', "'", ")"))  # whole sentences, or marked as cut
