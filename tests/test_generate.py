"""`training_data.py -c` and `-p` against a real HTTP server speaking the chat-completions wire format."""

from __future__ import annotations

import json
import random
import shutil
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from assistant.runtime.example_files import read_example_file
from assistant.runtime.pack import load_pack
from finetune.generate import TOOL, build_messages, write_atomically
from finetune.training_data import main

REPO = Path(__file__).resolve().parent.parent
MINI = REPO / "tests" / "packs" / "mini_examples"
PACK = "tests.packs.mini_pack"
FAST = ["--retries", "2", "--timeout", "2"]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def answer(arguments: str | Sequence[Mapping[str, object]]) -> Reply:
    """A completion whose one tool call carries ``arguments`` (a list is encoded as the schema asks)."""
    if not isinstance(arguments, str):
        arguments = json.dumps({"examples": arguments})
    return Reply(
        body={
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "test-model",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "logprobs": None,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "refusal": None,
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "add_examples", "arguments": arguments},
                            }
                        ],
                    },
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
        }
    )


def failure(status: int) -> Reply:
    return Reply(status, {"error": {"message": f"scripted {status}", "type": "server_error", "code": None}})


class FakeServer:
    """Answers POST /v1/chat/completions from a script, then with ``then``; records every request."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.then: Reply = failure(503)
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                reply = server.script.pop(0) if server.script else server.then
                time.sleep(reply.delay)
                data = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"
        threading.Thread(target=self.http.serve_forever, args=(0.01,), daemon=True).start()

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [request["body"] for request in self.requests]


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    yield fake
    fake.http.shutdown()
    fake.http.server_close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return Path(shutil.copytree(MINI, tmp_path / "examples"))


def create(capsys: pytest.CaptureFixture[str], server: FakeServer, file: Path, *argv: str) -> tuple[int, str, str]:
    code = main(
        ["-c", "--skills", PACK, "--file", str(file), "--base-url", server.url, "--model", "test-model", *FAST, *argv]
    )
    out, err = capsys.readouterr()
    return code, out, err


LIMA = [
    {"user": "weather in  lima\ttomorrow please", "assistant": 'weather(day="tomorrow", location="lima")'},
    {"user": "how hot is it in cairo", "assistant": 'weather(location="cairo", day="today")'},
]
LIMA_OUT = (
    '### User: weather in lima tomorrow please\n### Assistant: weather(location="lima", day="tomorrow")\n\n'
    '### User: how hot is it in cairo\n### Assistant: weather(location="cairo")\n\n'
)
QUITO = [{"user": "is it windy in quito", "assistant": 'weather(location="quito")'}]


def test_prints_canonical_examples_and_sends_the_forced_tool(
    server: FakeServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script = [answer(LIMA)]
    code, out, err = create(capsys, server, folder / "weather_examples.txt", "--per-request", "2")
    assert code == 0, err
    assert out == LIMA_OUT
    [request] = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer not-needed"
    body = request["body"]
    assert body["model"] == "test-model"
    assert body["tools"] == [TOOL]
    schema = body["tools"][0]["function"]["parameters"]
    assert schema["properties"]["examples"]["items"]["properties"] == {
        "user": {"type": "string", "description": "the speech transcript"},
        "assistant": {"type": "string", "description": "the skill call, e.g. other()"},
    }
    assert body["tool_choice"] == {"type": "function", "function": {"name": "add_examples"}}
    pack = load_pack(PACK)
    expected = build_messages(read_example_file(folder / "weather_examples.txt", pack), pack, [], 2, random.Random(0))
    assert body["messages"] == expected


def test_prompt_mode_prints_what_create_sends(
    server: FakeServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = folder / "weather_examples.txt"
    assert main(["-p", "--skills", PACK, "--file", str(file), "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert 'weather(location="[location]", day="[today|tomorrow]") Ask for the weather somewhere' in printed
    assert (
        '### User: what\'s the weather in Berlin tomorrow\n### Assistant: weather(location="Berlin", day="tomorrow")'
        in printed
    )
    assert '- day: one of "today", "tomorrow"' in printed
    server.script = [answer(QUITO)]
    assert create(capsys, server, file, "--seed", "3")[0] == 0
    for message in server.bodies[0]["messages"]:
        assert f"===== {message['role']} =====\n{message['content']}\n" in printed


def test_later_requests_are_told_what_was_generated(
    server: FakeServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script = [answer(QUITO), answer(LIMA)]
    code, out, _ = create(capsys, server, folder / "weather_examples.txt", "--n_generations", "2")
    assert code == 0 and out.count("### User:") == 3
    assert "is it windy in quito" not in server.bodies[0]["messages"][1]["content"]
    assert "- is it windy in quito" in server.bodies[1]["messages"][1]["content"]


@pytest.mark.parametrize("status", [429, 500])
def test_rate_limits_and_server_errors_are_retried(
    status: int, server: FakeServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script = [failure(status), answer(QUITO)]
    code, out, err = create(capsys, server, folder / "weather_examples.txt")
    assert code == 0, err
    assert len(server.requests) == 2 and "is it windy in quito" in out


def test_a_rate_limit_waits_as_long_as_retry_after_says(
    server: FakeServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script = [Reply(**{**failure(429).__dict__, "headers": {"Retry-After": "1"}}), answer(QUITO)]
    started = time.monotonic()
    code, out, err = create(capsys, server, folder / "weather_examples.txt")
    assert code == 0, err
    assert time.monotonic() - started >= 1.0  # the client's own first backoff is at most 0.5 s
    assert len(server.requests) == 2 and "is it windy in quito" in out


def test_a_timeout_is_retried(server: FakeServer, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server.script = [Reply(**{**answer(LIMA).__dict__, "delay": 3.0}), answer(QUITO)]
    started = time.monotonic()
    code, out, err = create(capsys, server, folder / "weather_examples.txt", "--timeout", "0.3")
    assert code == 0, err
    assert time.monotonic() - started < 2.0  # 0.3 s, a backoff of at most 0.5 s, the answer
    assert len(server.requests) == 2
    assert out == '### User: is it windy in quito\n### Assistant: weather(location="quito")\n\n'


def test_a_persistent_failure_keeps_and_appends_what_was_generated(
    server: FakeServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = folder / "weather_examples.txt"
    server.script = [answer(QUITO), answer(LIMA)]
    code, out, err = create(capsys, server, file, "--n_generations", "4", "--append")
    assert code == 3
    assert out == '### User: is it windy in quito\n### Assistant: weather(location="quito")\n\n' + LIMA_OUT
    assert "request 3 of 4 failed: HTTP 503" in err
    assert len(server.requests) == 2 + 3
    users = [example.user for example in read_example_file(file, load_pack(PACK)).examples]
    assert users[-3:] == ["is it windy in quito", "weather in lima tomorrow please", "how hot is it in cairo"]


def test_a_client_error_is_not_retried(server: FakeServer, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server.script = [failure(400)]
    code, out, err = create(capsys, server, folder / "weather_examples.txt", "--n_generations", "3")
    assert code == 3 and out == ""
    assert len(server.requests) == 1
    assert "request 1 of 3 failed: HTTP 400" in err


def test_malformed_tool_answers_are_dropped_and_generation_goes_on(
    server: FakeServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_tool = answer(QUITO)
    no_tool.body["choices"][0]["message"].update(tool_calls=None, content="Sure! Here are some examples")
    no_tool.body["choices"][0]["finish_reason"] = "stop"
    server.script = [
        answer('{"examples": [{"user": "weather in oslo", "assis'),
        answer('{"items": []}'),
        answer("[1, 2]"),
        answer([{"user": "snow in bern"}, {"user": 3, "assistant": "weather()"}, *QUITO]),
        no_tool,
        Reply(body="<html>proxy error</html>"),
        Reply(body={"id": "x", "choices": []}),
    ]
    code, out, err = create(capsys, server, folder / "weather_examples.txt", "--n_generations", "7")
    assert code == 0, err
    assert out == '### User: is it windy in quito\n### Assistant: weather(location="quito")\n\n'
    assert "request 1: tool arguments are not valid JSON" in err
    assert "request 2: tool arguments have no 'examples' list" in err
    assert "request 3: tool arguments have no 'examples' list" in err
    assert "request 4: not a {user, assistant} pair of strings: \"{'user': 'snow in bern'}\"" in err
    assert "request 4: not a {user, assistant} pair of strings: \"{'user': 3" in err
    assert "request 5: the answer calls no tool (text: 'Sure! Here are some examples')" in err
    assert "request 6: the answer is not a chat completion with choices: '<html>proxy error</html>'" in err
    assert "request 7: the answer is not a chat completion with choices" in err


def test_invalid_generations_are_dropped_with_their_reasons(
    server: FakeServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script = [
        answer(
            [
                {"user": "book a flight to rome", "assistant": 'flights(to="rome")'},
                {"user": "weather for the city of rome", "assistant": 'weather(city="rome")'},
                {"user": "what about madrid", "assistant": "Sure! weather in madrid"},
                {"user": "timer for ten", "assistant": 'timer(minutes="ten")'},
                {"user": "Weather in Paris?", "assistant": 'weather(location="paris")'},
                {"user": "thanks for watching!", "assistant": "other()"},
                {"user": "   ", "assistant": "weather()"},
                *QUITO,
                {"user": "Is it windy in Quito", "assistant": 'weather(location="quito")'},
                {"user": "forty winks timer", "assistant": "timer(minutes=40)"},
                {"user": "rain in oslo ### User: hi", "assistant": 'weather(location="oslo")'},
                {"user": "snow in bergen", "assistant": 'weather(location="bergen")'},
            ]
        )
    ]
    code, out, err = create(capsys, server, folder / "weather_examples.txt")
    assert code == 0, err
    assert out == (
        '### User: is it windy in quito\n### Assistant: weather(location="quito")\n\n'
        '### User: snow in bergen\n### Assistant: weather(location="bergen")\n\n'
    )
    assert "dropped 'book a flight to rome' -> 'flights(to=\"rome\")': unknown skill 'flights'" in err
    assert "weather() has no argument 'city'" in err
    assert "'Sure! weather in madrid': not a call" in err
    assert "timer(): minutes must be int, got str 'ten'" in err
    assert (
        f"'Weather in Paris?' -> 'weather(location=\"paris\")': duplicate of {folder / 'weather_examples.txt'}:14"
        in err
    )
    assert f"duplicate of {folder / 'other_examples.txt'}:" in err
    assert "empty utterance" in err
    assert "'Is it windy in Quito' -> 'weather(location=\"quito\")': duplicate of generated example 1" in err
    assert "'forty winks timer' -> 'timer(minutes=40)': a call of timer, not of weather (this file's skill)" in err
    assert "the utterance contains the file marker '### User:'" in err
    assert "2 new examples printed; 10 dropped" in err


def test_append_keeps_the_file_readable_by_the_strict_reader(
    server: FakeServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = folder / "timer_examples.txt"
    pack = load_pack(PACK)
    before = read_example_file(file, pack)
    server.script = [
        answer(
            [
                {"user": "egg timer seven minutes", "assistant": 'timer(label="egg", minutes=7)'},
                {
                    "user": 'a timer called "the big one" for two hours',
                    "assistant": 'timer(minutes=120, label="the big one")',
                },
            ]
        )
    ]
    code, out, err = create(capsys, server, file, "--append")
    assert code == 0, err
    after = read_example_file(file, pack)
    assert after.prompt_examples == before.prompt_examples
    assert after.examples[: len(before.examples)] == before.examples
    assert [(e.user, str(e.calls)) for e in after.examples[len(before.examples) :]] == [
        ("egg timer seven minutes", 'timer(minutes=7, label="egg")'),
        ('a timer called "the big one" for two hours', 'timer(minutes=120, label="the big one")'),
    ]
    assert file.read_text(encoding="utf-8").endswith(out.rstrip("\n") + "\n")
    assert sorted(path.name for path in folder.iterdir()) == [
        "other_examples.txt",
        "timer_examples.txt",
        "weather_examples.txt",
    ]


def test_append_adds_a_missing_examples_section(
    server: FakeServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = folder / "other_examples.txt"
    text = file.read_text(encoding="utf-8")
    file.write_text(text[: text.index("#### Examples:")], encoding="utf-8")
    server.script = [answer([{"user": "the dog ate my homework", "assistant": "other()"}])]
    assert create(capsys, server, file, "--append")[0] == 0
    [example] = read_example_file(file, load_pack(PACK)).examples
    assert example.user == "the dog ate my homework"


def test_server_and_model_come_from_the_environment(
    server: FakeServer, folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_MODEL", "env-model")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    server.script = [answer(QUITO)]
    assert main(["-c", "--skills", PACK, "--file", str(folder / "weather_examples.txt"), *FAST]) == 0
    assert server.requests[0]["auth"] == "Bearer sk-env"
    assert server.bodies[0]["model"] == "env-model"


def test_no_key_and_no_server_is_bad_input(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", "--skills", PACK, "--file", str(folder / "weather_examples.txt")]) == 1
    assert "set OPENAI_API_KEY" in capsys.readouterr().err


def test_a_malformed_target_file_is_bad_input(
    server: FakeServer, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = folder / "weather_examples.txt"
    file.write_text(file.read_text(encoding="utf-8") + "oops\n", encoding="utf-8")
    code, _, err = create(capsys, server, file)
    assert code == 1 and f"{file}:37: cannot place this line" in err
    assert server.requests == []


def test_a_failed_check_leaves_the_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "weather_examples.txt"
    target.write_text("old", encoding="utf-8")

    def refuse(temp: Path) -> None:
        assert temp.read_text(encoding="utf-8") == "new" and temp.parent == tmp_path
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        write_atomically(target, "new", check=refuse)
    assert target.read_text(encoding="utf-8") == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["weather_examples.txt"]
