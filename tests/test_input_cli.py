"""The voxroute command's input and output bounds, run as a user runs it (.venv/bin/voxroute in a subprocess):
text with terminal escape sequences is shown as text, a 50 MB line on standard input is refused at once in
little memory, input that is not UTF-8 stops with exit status 2, and output that cannot be written is one
line on stderr (a closed pipe: a quiet exit). The router is an OpenAI-compatible endpoint on 127.0.0.1,
so no model loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import pytest

from assistant.voice.samples import load_samples
from tests.test_audio import forged_wav

VOXROUTE = Path(sys.executable).with_name("voxroute")
PATH = "/v1/chat/completions"
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m"  # sets the title, clears the screen, and a C1 CSI
PACK = f'''
from assistant.runtime.skill import skill


@skill(reads_only=True)
def headline() -> str:
    """Reads the top headline {HOSTILE!r} aloud."""
    return {f"{HOSTILE}Markets rally"!r}


@skill(reads_only=True)
def other() -> str:
    """Not for the assistant."""
    return ""
'''


def headline_call(request: Any) -> tuple[int, str, bytes]:
    """chat.completions answered as OpenAI answers it: one tool call of headline()."""
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "headline", "arguments": "{}"}}],
    }
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1705312800,
        "model": "test-model",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": None, "message": message}],
        "usage": {"prompt_tokens": 90, "completion_tokens": 9, "total_tokens": 99},
    }
    return 200, "application/json", json.dumps(body).encode()


@pytest.fixture
def endpoint(http_server, tmp_path: Path) -> Any:
    """A pack module with hostile text in its answer and description, and a config routing through an endpoint."""
    (tmp_path / "hostile_pack.py").write_text(PACK, encoding="utf-8")
    server = http_server({PATH: headline_call})
    (tmp_path / "config.toml").write_text(
        f'[notes]\npath = "{tmp_path / "notes.sqlite3"}"\n\n[router]\nbackend = "openai"\n'
        f'base_url = "{server.url}/v1"\nmodel = "test-model"\napi_key_env = "VOXROUTE_TEST_KEY"\nfollow_up_s = 0\n',
        encoding="utf-8",
    )
    return server


def environment(tmp_path: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "VOXROUTE_TEST_KEY")
    }
    return {**env, "VOXROUTE_CONFIG": str(tmp_path / "config.toml"), "PYTHONPATH": str(tmp_path)}


def voxroute(
    tmp_path: Path, *args: str, stdin: IO[bytes] | int = subprocess.DEVNULL, stdout: IO[bytes] | int = subprocess.PIPE
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VOXROUTE), *args],
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=environment(tmp_path),
        timeout=120,
    )


# Linux carries a process's peak RSS across fork and exec, so a child of this (large) test process would
# report this process's peak: a small launcher starts voxroute and reports the peak of that child alone.
LAUNCHER = """
import os, subprocess, sys, threading
child = subprocess.Popen(sys.argv[2:])
threading.Timer(110, child.kill).start()
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
os._exit(0)  # the watchdog timer is no reason to wait
"""


def measured(tmp_path: Path, args: list[str], stdin: Path = Path(os.devnull)) -> tuple[int, str, str, float, int]:
    """Run voxroute with ``stdin`` from a file: exit status, stdout, stderr, seconds, and its own peak RSS in KiB
    (measured by a small launcher, whatever other tests ran before in this process)."""
    out, err, report = tmp_path / "stdout.txt", tmp_path / "stderr.txt", tmp_path / "usage.txt"
    start = time.monotonic()
    with stdin.open("rb") as typed, out.open("wb") as stdout, err.open("wb") as stderr:
        subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(report), str(VOXROUTE), *args],
            stdin=typed,
            stdout=stdout,
            stderr=stderr,
            env=environment(tmp_path),
            timeout=120,
            check=False,
        )
    status, peak_kib = (int(field) for field in report.read_text(encoding="utf-8").split())
    return (
        status,
        out.read_text(encoding="utf-8"),
        err.read_text(encoding="utf-8"),
        time.monotonic() - start,
        peak_kib,
    )


def test_text_of_the_user_a_skill_and_a_pack_is_shown_with_its_controls_written_out(
    tmp_path: Path, endpoint: Any
) -> None:
    said = voxroute(tmp_path, "say", "--skills", "hostile_pack", f"{HOSTILE} read the headline")
    assert said.returncode == 0, said.stderr
    shown = said.stdout.decode("utf-8")
    for control in ("\x1b", "\x07", "\x9b"):
        assert control not in shown
    assert "heard  \\x1b]0;pwned\\x07\\x1b[2J\\x9b31m read the headline" in shown
    assert "answer \\x1b]0;pwned\\x07\\x1b[2J\\x9b31mMarkets rally" in shown
    as_json = voxroute(tmp_path, "say", "--json", "--skills", "hostile_pack", f"{HOSTILE} read the headline")
    line = as_json.stdout.decode("utf-8")
    assert as_json.returncode == 0 and not {"\x1b", "\x07", "\x9b"} & set(line)
    assert json.loads(line)["answer"] == f"{HOSTILE}Markets rally"  # escaped in JSON, the same text read back
    listed = voxroute(tmp_path, "skills", "--skills", "hostile_pack")
    assert listed.returncode == 0 and b"\x1b" not in listed.stdout
    assert "Reads the top headline '\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m' aloud." in listed.stdout.decode("utf-8")


def test_a_50_mb_line_on_standard_input_is_refused_at_once_and_the_next_line_is_routed(
    tmp_path: Path, endpoint: Any
) -> None:
    typed = tmp_path / "typed.txt"
    with typed.open("w", encoding="utf-8") as file:
        for _ in range(50):
            file.write("open firefox " * 80_000)  # 1 MB a write: the test holds no 50 MB string
        file.write("\n\nread the headline\n")
    small = tmp_path / "small.txt"
    small.write_text("read the headline\n", encoding="utf-8")
    base = measured(tmp_path, ["say", "--json", "--skills", "hostile_pack"], small)
    status, stdout, stderr, seconds, peak_kib = measured(tmp_path, ["say", "--json", "--skills", "hostile_pack"], typed)
    assert status == 1, stderr  # one input failed
    refused, routed = (json.loads(line) for line in stdout.splitlines())
    assert refused["error"] == (
        "too long to route: more than 500 characters, the most is 500 ([router] max_utterance_chars)"
    )
    assert refused["failed"] and refused["calls"] == ["other()"] and len(refused["transcript"]) <= 501
    assert routed["transcript"] == "read the headline" and routed["answer"].endswith("Markets rally")
    assert [json.loads(request.body)["messages"][-1]["content"] for request in endpoint.requests] == [
        "read the headline"
    ] * 2  # the long line never reached the router
    assert seconds < 60  # it ran past 300 s when the line was read, then echoed, whole
    assert peak_kib < base[4] + 40 * 1024  # the 50 MB line was never held: peak memory as for one short line


def test_standard_input_that_is_not_utf8_stops_with_exit_status_2_naming_the_line(
    tmp_path: Path, endpoint: Any
) -> None:
    typed = tmp_path / "typed.txt"
    typed.write_bytes(b"read the headline\nin T\xffkyo\nread the headline\n")
    status, stdout, stderr, _, _ = measured(tmp_path, ["say", "--skills", "hostile_pack"], typed)
    assert status == 2 and "Traceback" not in stderr
    assert stdout.splitlines()[-1] == r"line 2 of standard input is not UTF-8 text: b'in T\xffkyo'"
    assert len(endpoint.requests) == 1  # the line before it was handled; nothing after it


@pytest.mark.parametrize(
    "args",
    [("config",), ("skills",), ("say", "--skills", "hostile_pack", "read the headline")],
    ids=["config", "skills", "say"],
)
def test_a_full_standard_output_is_one_line_on_stderr(tmp_path: Path, endpoint: Any, args: tuple[str, ...]) -> None:
    with open("/dev/full", "wb") as full:
        written = voxroute(tmp_path, *args, stdout=full)
    assert written.returncode == 1
    assert written.stderr.decode().splitlines() == ["voxroute: cannot write the output: No space left on device"]


@pytest.mark.parametrize("args", [("config",), ("skills",)], ids=["config", "skills"])
def test_a_reader_that_went_away_ends_the_command_quietly(tmp_path: Path, endpoint: Any, args: tuple[str, ...]) -> None:
    read, write = os.pipe()
    os.close(read)  # as `| head` does once it has read enough: every write gets EPIPE
    with os.fdopen(write, "wb") as closed:
        ended = voxroute(tmp_path, *args, stdout=closed)
    assert (ended.returncode, ended.stderr) == (141, b"")  # as SIGPIPE ends a process, without a word


@pytest.mark.slow
def test_run_refuses_an_hour_long_or_forged_recording_in_one_line_and_goes_on(tmp_path: Path, endpoint: Any) -> None:
    """Whisper loads (hence slow); the hour of 48 kHz stereo (a sparse 691 MB file) took 5.4 GB, 1 Hz 3.2 GB."""
    hour = forged_wav(tmp_path / "hour.wav", seconds=0.0, rate=48000, channels=2, data_bytes=3600 * 48000 * 4)
    with hour.open("r+b") as file:
        file.truncate(44 + 3600 * 48000 * 4)
    one_hz, zero_hz = (forged_wav(tmp_path / f"{rate}hz.wav", framerate=rate) for rate in (1, 0))
    spoken = load_samples()[0]["file"]
    status, stdout, stderr, _, peak_kib = measured(
        tmp_path, ["run", "--json", "--skills", "hostile_pack", str(hour), str(one_hz), str(zero_hz), spoken]
    )
    assert status == 1, stderr
    turns = [json.loads(line) for line in stdout.splitlines()]
    assert [turn["error"].split("; convert")[0] for turn in turns[:3]] == [
        f"{hour}: the recording is 3600.0 s long; the most is 15 s ([voice] max_utterance_s)",
        f"{one_hz}: a sample rate of 1 Hz, outside 8000-192000 Hz",
        f"{zero_hz}: a sample rate of 0 Hz, outside 8000-192000 Hz",
    ]
    assert all(turn["failed"] and turn["calls"] == [] for turn in turns[:3])
    assert turns[3]["transcript"] and turns[3]["calls"] == ["headline()"] and not turns[3]["failed"]
    assert peak_kib < 1024 * 1024  # models included, far below the gigabytes a header used to cost
