"""The endpoint router against real HTTP servers on 127.0.0.1: whatever the server does, the turn ends
with a call of the pack and, when it is the fallback, a one-line error, in the time the settings allow."""

from __future__ import annotations

import json
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest

from assistant import cli
from assistant.config import RouterConfig
from assistant.routing.calls import Call
from assistant.routing.router import OpenAIRouter, Routed
from assistant.runtime.pack import SkillPack
from assistant.runtime.skill import Skill, Span
from assistant.web import MAX_REPLY_BYTES

PATH = "/v1/chat/completions"
HTML = (200, "text/html", b"<html>\n<body>Bad gateway</body>\n</html>")


def weather(location: Annotated[str, Span()] | None = None, day: Literal["today", "tomorrow"] = "today") -> str:
    """Ask for the weather."""
    return ""


def math(question: str) -> str:
    """Work out an arithmetic question."""
    return ""


def other() -> str:
    """Not for the assistant."""
    return ""


PACK = SkillPack.from_skills(Skill.from_function(f) for f in (weather, math, other))


def completion(message: dict[str, Any]) -> tuple[int, str, bytes]:
    """A chat.completions answer shaped like OpenAI's, with this message."""
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1705312800,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "logprobs": None,
                "message": {"role": "assistant", "content": None, **message},
            }
        ],
        "usage": {"prompt_tokens": 90, "completion_tokens": 9, "total_tokens": 99},
    }
    return 200, "application/json", json.dumps(body).encode()


def calls(name: str, arguments: str) -> tuple[int, str, bytes]:
    return completion(
        {"tool_calls": [{"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}]}
    )


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
    return OpenAIRouter(
        PACK,
        RouterConfig(
            backend="openai",
            base_url=f"{url}/v1",
            model="test-model",
            api_key_env="VOXROUTE_TEST_KEY",
            timeout_s=timeout_s,
            max_retries=max_retries,
        ),
    )


def timed(route: OpenAIRouter, utterance: str = "weather in Berlin") -> tuple[Routed, float]:
    started = time.monotonic()
    routed = route.route(utterance)
    return routed, time.monotonic() - started


@pytest.fixture(autouse=True)
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VOXROUTE_TEST_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "VOXROUTE_CONFIG"):  # cli sets the last
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
    assert sorted(tool["function"]["name"] for tool in sent["tools"]) == ["math", "other", "weather"]
    assert sent["messages"][-1] == {"role": "user", "content": "weather in Berlin tomorrow"}


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (HTML, "the endpoint's answer is not JSON: '<html>\\n<body>Bad gateway</body>\\n</html>'"),
        (
            json_reply({"id": "chatcmpl-1", "object": "chat.completion"}),
            "the endpoint's answer is not a chat completion with choices: "
            '\'{"id": "chatcmpl-1", "object": "chat.completion"}\'',
        ),
        (
            json_reply({"choices": []}),
            "the endpoint's answer is not a chat completion with choices: '{\"choices\": []}'",
        ),
        (json_reply({"choices": "none"}), "the endpoint's answer is not a chat completion with choices"),
        (json_reply([1, 2]), "the endpoint's answer is not a chat completion with choices: '[1, 2]'"),
        (json_reply({"choices": [{"index": 0}]}), "the endpoint answered without a tool call (text: '')"),
        (
            completion({"content": "It is sunny in Berlin."}),
            "the endpoint answered without a tool call (text: 'It is sunny in Berlin.')",
        ),
        (
            completion({"tool_calls": [{"id": "call_1", "type": "function", "function": {"arguments": "{}"}}]}),
            "the endpoint answered without a tool call (text: '')",
        ),
        (calls("weather", '{"location": "Ber'), 'tool arguments are not JSON: \'{"location": "Ber\''),
        (calls("weather", '["Berlin"]'), "tool arguments must be a JSON object, got '[\"Berlin\"]'"),
        (calls("forecast", '{"location": "Berlin"}'), "unknown skill 'forecast'"),
        (calls("weather", '{"city": "Berlin"}'), "weather() has no argument 'city' (it takes: day, location)"),
        (calls("weather", '{"day": "friday"}'), "weather(): day='friday' is not one of"),
        (calls("weather", '{"location": "Paris"}'), "weather(): location='Paris' is not words of what was said"),
        (
            json_reply({"error": {"message": "model 'test-model'\nnot found", "type": "invalid_request_error"}}, 404),
            "the endpoint answered HTTP 404: model 'test-model' not found",
        ),
        ((502, "text/html", b"<html>\n<h1>502 Bad Gateway</h1>\n</html>"), "the endpoint answered HTTP 502"),
    ],
)
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
    config.write_text(
        f'[router]\nbackend = "openai"\nbase_url = "{server.url}/v1"\nmodel = "test-model"\n'
        f"timeout_s = 0.5\nmax_retries = 0\n",
        encoding="utf-8",
    )
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


@pytest.fixture
def huge_server() -> Any:
    """A real server whose answer is a chat completion padded to 200 MB, sent in chunks as the client
    reads (with or without Content-Length); it counts what it could send before the client hung up."""
    started: list[ThreadingHTTPServer] = []
    sent = [0]

    def serve(declared: bool) -> str:
        head = b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "'
        chunk = b" " * (1 << 16)
        size = 200 << 20

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if declared:
                    self.send_header("Content-Length", str(size))
                self.end_headers()  # without Content-Length, the body ends when the connection closes
                try:
                    self.wfile.write(head)
                    sent[0] += len(head)
                    while sent[0] < size:
                        self.wfile.write(chunk)
                        sent[0] += len(chunk)
                except ConnectionError:
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output clean."""

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        started.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve, sent
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("declared", [True, False])
def test_a_200_mb_answer_is_refused_at_the_size_cap_in_one_line(huge_server: Any, declared: bool) -> None:
    serve, sent = huge_server
    route = router(serve(declared), timeout_s=30.0)
    tracemalloc.start()
    try:
        routed, elapsed = timed(route)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert routed.calls == (Call("other"),)
    expected = (
        f"the endpoint's answer is {200 << 20:,} bytes, more than {MAX_REPLY_BYTES:,}"
        if declared
        else f"the endpoint's answer is larger than {MAX_REPLY_BYTES:,} bytes"
    )
    assert routed.error == expected
    assert peak < 4 * MAX_REPLY_BYTES  # never the whole answer
    assert sent[0] < 100 << 20 and elapsed < 10  # the client stopped reading long before the end


def test_an_answer_just_under_the_cap_is_read(http_server) -> None:
    status, kind, body = calls("weather", '{"location": "Berlin"}')
    padded = body[:-1] + b', "padding": "' + b" " * (MAX_REPLY_BYTES - len(body) - 20) + b'"}'
    assert len(padded) <= MAX_REPLY_BYTES
    routed = router(http_server({PATH: (status, kind, padded)}).url).route("weather in Berlin")
    assert routed.error is None and routed.calls == (Call("weather", (("location", "Berlin"),)),)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            calls("math", json.dumps({"question": "(" * 100_000 + "1" + ")" * 100_000})),
            'the tool call is 200,021 characters long, more than a call may be (4000): \'math({"question": "(((((',
        ),
        (
            calls("math", json.dumps({"question": "-" * 100_000 + "1"})),
            "the tool call is 100,021 characters long, more than a call may be (4000)",
        ),
        (calls("math", "[" * 1900 + "]" * 1900), "tool arguments nest more than 32 deep: '[[[["),
        (calls("math", '{"question": ' + "[" * 1500 + "]" * 1500 + "}"), "tool arguments nest more than 32 deep"),
        (
            (200, "application/json", b'{"choices": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
            "the endpoint's answer nests more than 32 deep: '{\"choices\": [[[[",
        ),
    ],
)
def test_a_deeply_nested_or_huge_call_is_refused_in_one_line_before_it_is_parsed(
    http_server, reply: tuple, error: str
) -> None:
    routed, elapsed = timed(router(http_server({PATH: reply}).url))
    assert routed.calls == (Call("other"),)
    assert routed.error is not None and routed.error.startswith(error)
    assert "\n" not in routed.error and len(routed.error) < 250 and elapsed < 10


def test_brackets_inside_strings_are_text_not_nesting(http_server) -> None:
    question = "[{" * 1000 + " 2 + 2"
    server = http_server({PATH: calls("math", json.dumps({"question": question}))})
    routed = router(server.url).route("what is 2 + 2")
    assert routed.error is None and routed.calls == (Call("math", (("question", question),)),)
