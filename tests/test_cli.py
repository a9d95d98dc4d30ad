"""The voxroute command as a user runs it, in a subprocess with its own config file."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.cli import parser, show_turn
from assistant.pipeline import Turn
from assistant.voice.samples import load_samples
from skills.other import CANT_DO_ANSWER

OVERHEARD = "that movie last night was so boring"  # other(): not meant for the assistant


def voxroute(
    tmp_path: Path, *args: str | bytes, timeout: float = 600, typed: str | None = None, **env: str
) -> subprocess.CompletedProcess:
    config = tmp_path / "config.toml"
    if not config.exists():
        config.write_text(f'[notes]\npath = "{tmp_path / "notes.sqlite3"}"\n', encoding="utf-8")
    env = {**os.environ, "VOXROUTE_CONFIG": str(config), **env}
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        input=typed,
        stdin=None if typed is not None else subprocess.DEVNULL,
    )


def commands() -> dict[str, argparse.ArgumentParser]:
    (subcommands,) = (action for action in parser()._actions if isinstance(action, argparse._SubParsersAction))
    return subcommands.choices


def test_each_command_takes_only_the_flags_that_apply_to_it(tmp_path: Path) -> None:
    helps = {name: voxroute(tmp_path, name, "--help").stdout for name in ("say", "run", "skills", "devices")}
    assert "--adapter" in helps["say"] and "--json" in helps["run"] and "--stt" in helps["run"]
    assert not {"--stt", "--device", "--push-to-talk"} & set(helps["say"].split())
    assert "--device" not in helps["run"]
    for flag in ("--adapter", "--stt", "--device", "--speak", "--config", "--wake-word"):
        assert flag not in helps["skills"] and flag not in helps["devices"]
    refused = voxroute(tmp_path, "skills", "--adapter", "runs/router")
    assert refused.returncode == 2 and "unrecognized arguments: --adapter" in refused.stderr


def test_every_option_has_help_and_version_prints_the_package_version(tmp_path: Path) -> None:
    for name, command in commands().items():
        for action in command._actions:
            where = f"voxroute {name} {action.option_strings or action.dest}"
            assert action.help and action.help != argparse.SUPPRESS, where
    shown = voxroute(tmp_path, "--version")
    assert shown.returncode == 0 and shown.stdout.strip() == f"voxroute {importlib.metadata.version('voxroute')}"
    for name in ("say", "run"):
        text = " ".join(voxroute(tmp_path, name, "--help").stdout.split())
        assert "Exit status: 0 when every input was handled, 1 when any failed" in text
    assert "unquoted words are one utterance" in " ".join(voxroute(tmp_path, "say", "--help").stdout.split())


def test_config_says_plainly_whether_a_file_is_in_use(tmp_path: Path) -> None:
    absent = tmp_path / "absent.toml"
    defaults = voxroute(tmp_path, "config", VOXROUTE_CONFIG=str(absent))
    assert defaults.returncode == 0
    assert defaults.stdout.splitlines()[0].startswith(f"# no config file at {absent}: the defaults below are in use")
    used = voxroute(tmp_path, "config")
    assert used.stdout.splitlines()[0].startswith(f"# the config file in use: {tmp_path / 'config.toml'}")


def test_a_device_number_in_the_config_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[voice]\ndevice = 999\n", encoding="utf-8")
    listened = voxroute(tmp_path, "listen")
    assert listened.returncode == 2 and "voice.device" not in listened.stdout
    assert "device 999" in listened.stdout and "--audio" in listened.stdout


def test_setup_errors_are_one_line_with_the_traceback_only_with_v(tmp_path: Path) -> None:
    adapter = tmp_path / "no-adapter"
    cases = {
        ("say", "--adapter", str(adapter), "hello"): f"router adapter {adapter}: no such folder",
        ("say", "--skills", "no_such_pack", "hello"): "no skill pack module 'no_such_pack' (--skills)",
        ("say", "--config", str(tmp_path / "absent.toml"), "hello"): f"{tmp_path / 'absent.toml'}: no such config file",
        ("skills", "--skills", "no_such_pack"): "no skill pack module 'no_such_pack'",
        ("skills", "--examples", str(tmp_path / "absent")): f"no example folder '{tmp_path / 'absent'}' (--examples)",
    }
    for args, message in cases.items():
        failed = voxroute(tmp_path, *args)
        assert (failed.returncode, failed.stdout.strip().splitlines()) == (2, [failed.stdout.strip()]), args
        assert message in failed.stdout and "Traceback" not in failed.stdout + failed.stderr, args
    verbose = voxroute(tmp_path, "skills", "-v", "--skills", "no_such_pack")
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr and "ModuleNotFoundError" in verbose.stderr
    undecodable = voxroute(tmp_path, "say", "what time is it", b"in T\xffkyo")
    assert undecodable.returncode == 2 and undecodable.stdout.strip() == r"argument 2 is not UTF-8 text: b'in T\xffkyo'"


def test_skills_show_types_choices_and_defaults(tmp_path: Path) -> None:
    skills = voxroute(tmp_path, "skills")
    assert skills.returncode == 0
    for name in (
        "weather",
        "timecheck",
        "timer",
        "run_app",
        "notes",
        "math",
        "news",
        "story",
        "ask",
        "other",
        "cant_do",
    ):
        assert f"{name}(" in skills.stdout
    assert 'notes(action: "add" | "list", note: str | None = None)' in skills.stdout
    assert "timer(duration: str, name: str | None = None)" in skills.stdout and "other()" in skills.stdout
    assert "timer_cancel(name: str | None = None)" in skills.stdout


def test_a_bad_config_file_stops_with_its_name_and_key(tmp_path: Path) -> None:
    printed = voxroute(tmp_path, "config")
    assert printed.returncode == 0 and "[router]" in printed.stdout and "[voice]" in printed.stdout
    (tmp_path / "config.toml").write_text('[voice]\nstt = "sphinx"\n', encoding="utf-8")
    bad = voxroute(tmp_path, "say", "hello")
    assert bad.returncode == 2 and "config.toml" in bad.stdout and "voice.stt" in bad.stdout


@pytest.mark.slow
def test_a_whole_model_folder_is_a_router_adapter_too(tmp_path: Path, tiny_llama: Path) -> None:
    (tmp_path / "empty").mkdir()
    empty = voxroute(tmp_path, "say", "--adapter", str(tmp_path / "empty"), "what time is it")
    assert empty.returncode == 2
    assert empty.stdout.strip() == (
        f"router adapter {tmp_path / 'empty'}: neither an adapter (adapter_config.json) "
        "nor a model folder (config.json) ([router] adapter or --adapter)"
    )
    said = voxroute(tmp_path, "say", "--json", "--adapter", str(tiny_llama), "what time is it")
    assert said.returncode in (0, 1) and json.loads(said.stdout)["transcript"] == "what time is it", said.stdout


@pytest.mark.slow
def test_say_and_run_print_json_turns_timed_without_loading_and_exit_1_on_failure(tmp_path: Path) -> None:
    said = voxroute(
        tmp_path, "say", "--json", "-v", "what time is it in Tokyo", "add a note call the plumber", "x" * 600
    )
    assert said.returncode == 1, said.stderr
    assert "models loaded in" in said.stderr
    first, second, third = (json.loads(line) for line in said.stdout.splitlines())
    assert first["calls"] == ['timecheck(location="Tokyo")'] and "Tokyo" in first["answer"] and not first["failed"]
    assert set(first["timings"]) == {"route_ms", "skill_ms", "total_ms"} and first["transcript"]
    timings = first["timings"]
    assert timings["total_ms"] - timings["route_ms"] - timings["skill_ms"] < 500  # no model loading inside
    assert second["calls"][0].startswith('notes(action="add", note="') and second["answer"].startswith("Noted")
    assert third["failed"] and third["error"].startswith("too long to route")

    sample = next(s for s in load_samples() if s["call"].startswith("timecheck(location="))
    ran = voxroute(tmp_path, "run", "--json", sample["file"], str(tmp_path / "missing.wav"))
    assert ran.returncode == 1, ran.stderr
    good, bad = (json.loads(line) for line in ran.stdout.splitlines())
    assert good["calls"] == [sample["call"]] and set(good["timings"]) >= {"stt_ms", "route_ms", "skill_ms"}
    assert good["timings"]["stt_ms"] < 5000 and not good["failed"]
    assert "missing.wav" in bad["error"] and bad["calls"] == [] and bad["failed"]


@pytest.mark.slow
def test_unquoted_words_are_one_quiet_turn_and_speech_not_for_me_is_acknowledged(tmp_path: Path) -> None:
    said = voxroute(tmp_path, "say", "--engine", "transformers", *OVERHEARD.split())
    assert said.returncode == 0, said.stderr
    assert [line for line in said.stdout.splitlines() if line.startswith("heard")] == [f"heard  {OVERHEARD}"]
    assert "call   other()\n(not for me)\n" in said.stdout
    assert "Loading weights" not in said.stderr and "Warning" not in said.stderr and "deprecated" not in said.stderr


@pytest.mark.slow
def test_a_request_no_skill_can_do_is_answered_so_and_overheard_talk_is_not(tmp_path: Path) -> None:
    said = voxroute(tmp_path, "say", "--json", "hey voxroute play some jazz", OVERHEARD)
    assert said.returncode == 0, said.stderr
    refused, overheard = (json.loads(line) for line in said.stdout.splitlines())
    assert refused["calls"] == ["cant_do()"] and refused["answer"] == CANT_DO_ANSWER and not refused["failed"]
    assert overheard["calls"] == ["other()"] and overheard["answer"] == ""


@pytest.mark.slow
def test_say_stays_until_the_timer_it_set_has_rung(tmp_path: Path) -> None:
    start = time.perf_counter()
    said = voxroute(tmp_path, "say", "set a timer for 3 seconds")
    assert said.returncode == 0, said.stderr
    assert 'call   timer(duration="3 seconds")' in said.stdout and "Timer set for 3 seconds." in said.stdout
    assert said.stdout.index("waiting for 1 timer to ring") < said.stdout.index("Your 3 second timer is done.")
    assert time.perf_counter() - start >= 3


@pytest.mark.slow
def test_without_a_microphone_listen_points_to_audio_and_text(tmp_path: Path) -> None:
    listened = voxroute(tmp_path, "listen")
    assert listened.returncode == 2 and "listening" not in listened.stdout
    assert "--audio" in listened.stdout and "--text" in listened.stdout
    devices = voxroute(tmp_path, "devices")
    assert devices.returncode in (0, 2) and devices.stdout.strip()
    typed = voxroute(tmp_path, "listen", "--text", "what time is it in Tokyo", OVERHEARD)
    assert typed.returncode == 0 and "timecheck" in typed.stdout
    assert "other()" in typed.stdout and "(not for me)" not in typed.stdout


@pytest.mark.slow
def test_demo_runs_the_bundled_recordings(tmp_path: Path) -> None:
    demo = voxroute(tmp_path, "demo")
    assert demo.returncode == 0, demo.stderr
    assert "calls as expected" in demo.stdout
    matched = int(demo.stdout.split("calls as expected")[0].split()[-1].split("/")[0])
    assert matched >= len(load_samples()) - 4


@pytest.mark.slow
def test_say_without_text_is_a_conversation_that_remembers_the_last_turn(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[router]\nfollow_up_s = 30\n", encoding="utf-8")
    said = voxroute(tmp_path, "say", "--json", "-v", typed="what time is it in Tokyo\n\nand in Paris?\n")
    assert said.returncode == 0, said.stderr
    first, second = (json.loads(line) for line in said.stdout.splitlines())
    assert first["calls"] == ['timecheck(location="Tokyo")'] and second["calls"] == ['timecheck(location="Paris")']
    assert 'follow-up of: what time is it in Tokyo -> timecheck(location="Tokyo")' in said.stderr


@pytest.mark.slow
def test_an_unsure_timer_is_asked_about_and_the_reply_says_whether_it_starts(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        "[router]\nfollow_up_s = 30\nconfirm_below = 1.0\ninstant = false\n", encoding="utf-8"
    )
    command = "set a timer for 2 seconds\n"
    said = voxroute(tmp_path, "say", "--json", typed=f"{command}no\n{command}yes\n")
    assert said.returncode == 0, said.stderr
    asked, declined, again, done = (json.loads(line) for line in said.stdout.splitlines() if line.startswith("{"))
    assert asked == {**asked, "calls": ['timer(duration="2 seconds")'], "answer": "A timer for 2 seconds?"}
    assert asked["confirming"] and 0 < asked["confidence"] < 1 and "skill_ms" not in asked["timings"]
    assert (declined["answer"], declined["calls"], declined["path"]) == ("OK, I won't.", [], "confirmation")
    assert again["answer"] == asked["answer"] and done["calls"] == asked["calls"]
    assert done["answer"] == "Timer set for 2 seconds." and "waiting for 1 timer to ring" in said.stdout


def test_a_call_asked_about_is_shown_as_not_run(capsys: pytest.CaptureFixture[str]) -> None:
    calls = ['timer(duration="2 seconds")']
    show_turn(Turn("set a timer for 2 seconds", calls, "A timer for 2 seconds?", confirming=True), as_json=False)
    show_turn(Turn("set a timer for 2 seconds", calls, "Timer set for 2 seconds."), as_json=False)
    asked, ran = capsys.readouterr().out.split("A timer for 2 seconds?")
    assert "(asked first, not run)" in asked and "not run" not in ran


@pytest.mark.slow
def test_another_pack_with_its_example_files_answers_its_own_sentences_at_once(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[1] / "benchmarks" / "barista" / "examples"
    said = voxroute(
        tmp_path,
        "say",
        "--json",
        "--skills",
        "benchmarks.barista.skills",
        "--examples",
        str(examples),
        "Can I get a 12 ounce dark roast latte with some soy milk?",
    )
    assert said.returncode == 0, said.stderr
    turn = json.loads(said.stdout)
    assert (turn["path"], turn["calls"]) == (
        "instant",
        ['orderDrink(coffeeDrink="latte", size="twelve ounce", roast="dark roast", milkAmount="some soy milk")'],
    )
