"""The endpoint router against real HTTP servers on 127.0.0.1: whatever the server does, the turn ends
with a call of the pack and, when it is the fallback, a one-line error, in the time the settings allow."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest

from assistant import cli
from assistant.calls import Call
from assistant.config import RouterConfig
from assistant.pack import SkillPack
from assistant.router import OpenAIRouter, Routed
from assistant.skill import Skill, Span

PATH = "/v1/chat/completions"
HTML = (200, "text/html", b"<html>\n<body>Bad gateway</body>\n</html>")


def weather(location: Annotated[str, Span()] | None = None, day: Literal["today", "tomorrow"] = "today") -> str:
    """Ask for the weather."""
    return ""


def other() -> str:
    """Not for the assistant."""
    return ""


PACK = SkillPack.from_skills(Skill.from_function(f) for f in (weather, other))


def completion(message: dict[str, Any]) -> tuple[int, str, bytes]:
    """A chat.completions answer shaped like OpenAI's, with this message."""
    body = {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1705312800, "model": "test-model",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": None,
                     "message": {"role": "assistant", "content": None, **message}}],
        "usage": {"prompt_tokens": 90, "completion_tokens": 9, "total_tokens": 99},
    }
    return 200, "application/json", json.dumps(body).encode()


def calls(name: str, arguments: str) -> tuple[int, str, bytes]:
    return completion({"tool_calls": [{"id": "call_1", "type": "function",
                                       "function": {"name": name, "arguments": arguments}}]})


def json_reply(body: Any, status: int = 200, **headers: str) -> tuple[int, str, bytes, dict[str, str]]:
    return status, "application/json", json.dumps(body).encode(), headers


def script(*replies: tuple) -> Any:
    """A route answering each request with the next reply; the last one repeats."""
    queue = list(replies)
    return lambda request: queue.pop(0) if len(queue) > 1 else queue[0]


def hanging(seconds: float) -> Any:
    def reply(request: Any) -> tuple[int, str, bytes]:
        time.sleep(seconds)
        return calls("other", "{}")

    return reply


def router(url: str, timeout_s: float = 1.0, max_retries: int = 0) -> OpenAIRouter:
    return OpenAIRouter(PACK, RouterConfig(backend="openai", base_url=f"{url}/v1", model="test-model",
                                           api_key_env="VOXROUTE_TEST_KEY", timeout_s=timeout_s,
                                           max_retries=max_retries))


def timed(route: OpenAIRouter, utterance: str = "weather in Berlin") -> tuple[Routed, float]:
    started = time.monotonic()
    routed = route.route(utterance)
    return routed, time.monotonic() - started


@pytest.fixture(autouse=True)
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VOXROUTE_TEST_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_a_tool_call_becomes_the_call(http_server) -> None:
    server = http_server({PATH: calls("weather", '{"location": "Berlin", "day": "tomorrow"}')})
    routed = router(server.url).route("weather in Berlin tomorrow")
    assert routed.error is None
    assert routed.calls == (Call("weather", (("location", "Berlin"), ("day", "tomorrow"))),)
    [request] = server.requests
    assert request.headers["authorization"] == "Bearer not-needed"
    sent = json.loads(request.body)
    assert (sent["model"], sent["tool_choice"], sent["temperature"]) == ("test-model", "required", 0)
    assert sorted(tool["function"]["name"] for tool in sent["tools"]) == ["other", "weather"]
    assert sent["messages"][-1] == {"role": "user", "content": "weather in Berlin tomorrow"}


@pytest.mark.parametrize(("reply", "error"), [
    (HTML, "the endpoint's answer is not JSON: '<html>\\n<body>Bad gateway</body>\\n</html>'"),
    (json_reply({"id": "chatcmpl-1", "object": "chat.completion"}),
     "the endpoint's answer is not a chat completion with choices: '{\"id\": \"chatcmpl-1\", \"object\": \"chat.completion\"}'"),
    (json_reply({"choices": []}), "the endpoint's answer is not a chat completion with choices: '{\"choices\": []}'"),
    (json_reply({"choices": "none"}), "the endpoint's answer is not a chat completion with choices"),
    (json_reply([1, 2]), "the endpoint's answer is not a chat completion with choices: '[1, 2]'"),
    (json_reply({"choices": [{"index": 0}]}), "the endpoint answered without a tool call (text: '')"),
    (completion({"content": "It is sunny in Berlin."}),
     "the endpoint answered without a tool call (text: 'It is sunny in Berlin.')"),
    (completion({"tool_calls": [{"id": "call_1", "type": "function", "function": {"arguments": "{}"}}]}),
     "the endpoint answered without a tool call (text: '')"),
    (calls("weather", '{"location": "Ber'), "tool arguments are not JSON: '{\"location\": \"Ber'"),
    (calls("weather", '["Berlin"]'), "tool arguments must be a JSON object, got '[\"Berlin\"]'"),
    (calls("forecast", '{"location": "Berlin"}'), "unknown skill 'forecast'"),
    (calls("weather", '{"city": "Berlin"}'), "weather() has no argument 'city' (it takes: day, location)"),
    (calls("weather", '{"day": "friday"}'), "weather(): day='friday' is not one of"),
    (calls("weather", '{"location": "Paris"}'), "weather(): location='Paris' is not words of what was said"),
    (json_reply({"error": {"message": "model 'test-model'\nnot found", "type": "invalid_request_error"}}, 404),
     "the endpoint answered HTTP 404: model 'test-model' not found"),
    ((502, "text/html", b"<html>\n<h1>502 Bad Gateway</h1>\n</html>"), "the endpoint answered HTTP 502"),
])
def test_a_malformed_answer_is_a_one_line_error_on_the_turn(http_server, reply: tuple, error: str) -> None:
    server = http_server({PATH: reply})
    routed = router(server.url).route("weather in Berlin")
    assert routed.calls == (Call("other"),)
    assert routed.error is not None and routed.error.startswith(error) and "\n" not in routed.error
    assert len(server.requests) == 1


def test_a_hanging_endpoint_costs_one_timeout(http_server) -> None:
    server = http_server({PATH: hanging(3.0)})
    routed, elapsed = timed(router(server.url, timeout_s=0.5))
    assert routed.calls == (Call("other"),) and routed.error == "the endpoint gave no answer within 0.5 s"
    assert 0.5 <= elapsed < 1.0
    assert len(server.requests) == 1


def test_a_server_error_is_retried(http_server) -> None:
    error = json_reply({"error": {"message": "overloaded", "type": "server_error"}}, 500)
    server = http_server({PATH: script(error, calls("weather", '{"location": "Berlin"}'))})
    routed, elapsed = timed(router(server.url, max_retries=1))
    assert routed.error is None and routed.calls == (Call("weather", (("location", "Berlin"),)),)
    assert len(server.requests) == 2 and elapsed < 2.0


def test_a_rate_limit_waits_as_long_as_retry_after_says(http_server) -> None:
    limited = json_reply({"error": {"message": "slow down", "type": "rate_limit"}}, 429, **{"Retry-After": "1"})
    server = http_server({PATH: script(limited, calls("other", "{}"))})
    routed, elapsed = timed(router(server.url, timeout_s=1.0, max_retries=1))
    assert routed.error is None and routed.calls == (Call("other"),)
    assert len(server.requests) == 2
    assert 1.0 <= elapsed < 2.0  # the client's own first backoff is at most 0.5 s


def test_a_retry_after_beyond_the_deadline_is_cut_off(http_server) -> None:
    limited = json_reply({"error": {"message": "slow down", "type": "rate_limit"}}, 429, **{"Retry-After": "3"})
    server = http_server({PATH: script(limited, calls("other", "{}"))})
    routed, elapsed = timed(router(server.url, timeout_s=0.5, max_retries=1))
    assert routed.error == "the endpoint gave no answer within 1 s"
    assert 1.0 <= elapsed < 1.5
    assert len(server.requests) == 1


def test_a_refused_connection_is_retried_then_reported(closed_url: str) -> None:
    routed, elapsed = timed(router(closed_url, timeout_s=1.0, max_retries=1))
    assert routed.calls == (Call("other"),)
    assert routed.error is not None and routed.error.startswith(f"cannot reach the endpoint at {closed_url}/v1/: ")
    assert "\n" not in routed.error and elapsed < 2.0


def test_the_loop_goes_on_after_bad_turns_within_the_configured_time(
    http_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def by_utterance(request: Any) -> tuple:
        said = json.loads(request.body)["messages"][-1]["content"]
        if said == "hang":
            return hanging(3.0)(request)
        if said == "html":
            return HTML
        return calls("timecheck", '{"location": "Tokyo"}')

    server = http_server({PATH: by_utterance})
    config = tmp_path / "config.toml"
    config.write_text(f'[router]\nbackend = "openai"\nbase_url = "{server.url}/v1"\nmodel = "test-model"\n'
                      f"timeout_s = 0.5\nmax_retries = 0\n", encoding="utf-8")
    assert cli.main(["say", "--json", "--config", str(config), "hang", "html", "what time is it in Tokyo"]) == 1
    hung, html, good = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (hung["calls"], hung["error"]) == (["other()"], "the endpoint gave no answer within 0.5 s")
    assert hung["timings"]["route_ms"] < 1000
    assert html["calls"] == ["other()"] and html["error"].startswith("the endpoint's answer is not JSON")
    assert good["calls"] == ['timecheck(location="Tokyo")'] and good["error"] is None and "Tokyo" in good["answer"]
    assert hung["failed"] and html["failed"] and not good["failed"]  # hence exit status 1


def test_the_public_api_without_a_key_stops_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[router]\nbackend = "openai"\napi_key_env = "VOXROUTE_TEST_KEY"\n', encoding="utf-8")
    assert cli.main(["say", "--config", str(config), "hello"]) == 2
    out = capsys.readouterr().out
    assert "the router's endpoint: set VOXROUTE_TEST_KEY to the API key" in out and "Traceback" not in out
