"""`voxroute learn` (finetune/learn.py): a new skill taught to a trained router in minutes, as a user walks it.

The walk is real: a skill module and an example file in a folder of their own, `training_data.py
--sync-prompts` and `-c` against an OpenAI-compatible server on 127.0.0.1, `voxroute learn`, then `voxroute
say`, each a process of its own. A tiny Llama (tests/conftest.py) stands for SmolLM2, so that training
takes seconds; the router it was "shipped" with is trained here on the tests' mini pack, without the alarm.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from assistant.routing.router import RouterSpec
from assistant.runtime.example_files import ExamplesError
from assistant.runtime.pack import REPO_ROOT, SkillPack, load_pack
from finetune import training_data
from finetune.learn import (
    DATA,
    LearnError,
    Settings,
    how_to_use,
    learn,
    learning_set,
    prepare_output,
    relabelled_dataset,
    share,
)
from tests.test_generate import FakeServer, answer

MINI = REPO_ROOT / "tests" / "packs" / "mini_examples"
ALARM_SKILL = '''"""The new skill."""

from typing import Annotated

from assistant import Span, skill


@skill
def alarm(time: Annotated[str, Span()]) -> str:
    """Set an alarm clock for a time of day."""
    return f"Alarm set for {time}."
'''
# The prompt line is left for --sync-prompts to write, as README's "Adding a skill" says.
ALARM_EXAMPLES = """#### Prompt:
alarm()

#### Examples:

### User: wake me up at six
### Assistant: alarm(time="six")

### User: I need an alarm at half past five
### Assistant: alarm(time="half past five")

### User: alarm for quarter to eight please
### Assistant: alarm(time="quarter to eight")

#### Templates:

{time} = seven | six thirty | noon | half past six

### User: [please] set an alarm for {time}
### Assistant: alarm(time="{time}")
"""
# Sentences the pack could not serve before: talk to the assistant labelled other(), written and from a template.
NOT_YET = """
### User: set an alarm for seven
### Assistant: other()

### User: the alarm clock didn't go off this morning
### Assistant: other()

#### Templates:

{hour} = nine thirty

### User: please set an alarm for {hour}
### Assistant: other()
"""


def pack_folder(root: Path, name: str) -> tuple[Path, Path]:
    """The mini pack as a package ``name`` under ``root`` with the alarm skill added, and its examples folder (the
    mini pack's files, the other() file with sentences an alarm now serves, and the alarm's file): (examples, file)."""
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text(
        '"""The mini pack."""\n\nfrom tests.packs.mini_pack import other, timer, weather\n\n'
        '__all__ = ["other", "timer", "weather"]\n',
        encoding="utf-8",
    )
    (package / "alarm.py").write_text(ALARM_SKILL, encoding="utf-8")
    examples = root / "examples"
    examples.mkdir()
    for path in MINI.glob("*_examples.txt"):
        (examples / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    with (examples / "other_examples.txt").open("a", encoding="utf-8") as handle:
        handle.write(NOT_YET)
    file = examples / "alarm_examples.txt"
    file.write_text(ALARM_EXAMPLES, encoding="utf-8")
    return examples, file


@pytest.fixture(scope="module")
def shipped(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A router trained (2 steps of the tiny Llama) on the mini pack, which has no alarm: the one learn continues."""
    from finetune.config import parse_args
    from finetune.finetune import train

    folder = tmp_path_factory.mktemp("shipped")
    records, _ = training_data.build_dataset(
        training_data.read_example_files(sorted(MINI.glob("*_examples.txt")), load_pack("tests.packs.mini_pack")),
        load_pack("tests.packs.mini_pack"),
        0.1,
        0.1,
        seed=0,
    )
    (folder / "data.json").write_text(json.dumps(records), encoding="utf-8")
    flags = ["--data", str(folder / "data.json"), "--output_dir", str(folder / "router"), "--skills"]
    flags += ["tests.packs.mini_pack", "--model_name_or_path", str(tiny_llama), "--max_steps", "2"]
    flags += ["--per_device_train_batch_size", "2", "--eval_samples", "0", "--report_to", "none"]
    return train(*parse_args(flags))


def environment(tmp_path: Path, config: Path) -> dict[str, str]:
    """A user's: their pack importable, their own data, cache and config."""
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith("OPENAI_")},
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO_ROOT)]),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "VOXROUTE_CACHE": str(tmp_path / "cache"),
        "VOXROUTE_CONFIG": str(config),
    }


def voxroute(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def user_pack(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[SkillPack, Path]:
    """The pack ``name`` with the alarm, imported, and the alarm's example file with its prompt line written."""
    examples, file = pack_folder(tmp_path, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    pack = load_pack(name, examples)
    training_data.sync_prompt_line(file, pack)
    return pack, file


def test_sentences_the_new_skill_serves_are_relabelled_and_the_rest_keep_their_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack, file = user_pack(tmp_path, "relabelpack", monkeypatch)
    records, skills, relabelled = relabelled_dataset(pack, [file], seed=0)
    assert skills == ("alarm",)
    assert relabelled == (
        ("set an alarm for seven", "other()", 'alarm(time="seven")'),  # written other(); the alarm's template says it
        ("please set an alarm for nine thirty", "other()", 'alarm(time="nine thirty")'),  # from other()'s template
    )
    calls = {(record["user"], record["call"]) for record in records if "kind" not in record}
    assert {(user, after) for user, _, after in relabelled} <= calls
    assert ("the alarm clock didn't go off this morning", "other()") in calls  # no sentence of the alarm's
    assert ("weather in paris", 'weather(location="paris")') in calls
    composed = [record for record in records if "kind" in record and "set an alarm for seven" in record["user"]]
    assert composed and all('alarm(time="seven")' in record["call"] for record in composed)  # composed relabelled

    with pytest.raises(ExamplesError, match=r"'set an alarm for seven' is labelled alarm\(time=\"seven\"\), but "):
        relabelled_dataset(pack, [MINI / "timer_examples.txt"], seed=0)  # learning another skill: -t's conflict stays


def test_the_mix_is_the_new_skills_share_of_the_rows_plus_a_seeded_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack, file = user_pack(tmp_path, "mixpack", monkeypatch)
    settings = Settings(steps=50, batch=4, new_share=0.25, seed=3)
    learned = learning_set(pack, [file], settings)
    assert learning_set(pack, [file], settings) == learned  # seeded: the same set again

    def names(record: dict) -> set[str]:
        return {call.name for call in pack.parse_calls(record["call"])}

    train = [record for record in learned.records if record["split"] == "train"]
    new = [record for record in train if "alarm" in names(record)]
    assert len(new) == round(0.25 * 50 * 4) < learned.new  # sampled down to their share
    records = relabelled_dataset(pack, [file], seed=3)[0]
    singles = {r["user"] for r in records if r["split"] == "train" and "kind" not in r and "alarm" in names(r)}
    assert {record["user"] for record in new if "kind" not in record} == singles  # every one of them
    assert len(train) - len(new) == learned.replayed == 50 * 4 - len(new)
    assert {name for record in train for name in names(record)} >= {"weather", "timer", "other"}  # replayed
    held_out = [record for record in learned.records if record["split"] != "train"]
    assert held_out and all(r["split"] == "validation" and "alarm" in names(r) for r in held_out)
    assert learning_set(pack, [file], dataclasses.replace(settings, seed=4)).records != learned.records


def test_few_new_sentences_are_repeated_and_many_are_sampled_single_sentences_first() -> None:
    rng = random.Random(0)
    few = [{"user": f"s{i}"} for i in range(3)]
    repeated = Counter(record["user"] for record in share(few, 7, rng))
    assert set(repeated) == {"s0", "s1", "s2"} and sorted(repeated.values()) == [2, 2, 3]
    many = [*({"user": f"s{i}"} for i in range(4)), *({"user": f"c{i}", "kind": "compound"} for i in range(20))]
    chosen = [record["user"] for record in share(many, 10, rng)]
    assert len(chosen) == len(set(chosen)) == 10 and set(chosen) >= {"s0", "s1", "s2", "s3"}
    assert {record["user"] for record in share(many, 3, rng)} < {"s0", "s1", "s2", "s3"}


def test_what_learn_cannot_use_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    examples, file = pack_folder(tmp_path, "refusedpack")
    monkeypatch.syspath_prepend(str(tmp_path))
    pack = load_pack("refusedpack", examples)  # the alarm's prompt line not written yet
    quiet = Console(file=io.StringIO())
    with pytest.raises(LearnError, match=r"no LoRA adapter \(adapter_config.json\)"):
        learn(pack, "refusedpack", [file], tmp_path, tmp_path / "out", Settings(), quiet)
    shipped = tmp_path / "adapter"
    shipped.mkdir()
    (shipped / "adapter_config.json").write_text('{"peft_type": "LORA", "base_model_name_or_path": "m", "r": 8}')
    with pytest.raises(ValueError, match=rf"^{file}:2: the prompt line is derived from the skill's signature"):
        learn(pack, "refusedpack", [file], shipped, tmp_path / "out", Settings(), quiet)
    assert not (tmp_path / "out").exists()  # nothing made before the data set is sound


def test_an_unfinished_learn_starts_afresh_but_a_folder_learn_did_not_write_is_left_alone(tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), width=200)
    (tmp_path / "learned" / "checkpoint-50").mkdir(parents=True)
    (tmp_path / "learned" / DATA).write_text("[]", encoding="utf-8")
    prepare_output(tmp_path / "learned", resume=True, console=console)
    assert (tmp_path / "learned" / "checkpoint-50").is_dir()  # --resume continues it
    prepare_output(tmp_path / "learned", resume=False, console=console)
    assert not (tmp_path / "learned" / "checkpoint-50").exists()
    assert "starting afresh: removed checkpoint-50" in console.file.getvalue()  # type: ignore[attr-defined]

    (tmp_path / "run" / "checkpoint-800").mkdir(parents=True)  # make router's, say
    with pytest.raises(LearnError, match="holds checkpoints that voxroute learn did not write"):
        prepare_output(tmp_path / "run", resume=False, console=console)
    assert (tmp_path / "run" / "checkpoint-800").is_dir()
    prepare_output(tmp_path / "new", resume=False, console=console)
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700


def test_how_to_use_is_a_config_line_or_nothing_to_do(tmp_path: Path) -> None:
    output = tmp_path / 'a "router" folder'
    said = how_to_use(output, None, tmp_path / "config.toml")
    line = next(line for line in said.splitlines() if line.startswith("adapter = "))
    assert tomllib.loads(f"[router]\n{line}\n") == {"router": {"adapter": str(output.resolve())}}
    assert how_to_use(output, str(output), tmp_path / "config.toml").startswith("voxroute uses it")


@pytest.mark.slow
def test_a_user_adds_a_skill_grows_its_examples_learns_it_and_says_it(
    tmp_path: Path, shipped: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    examples, file = pack_folder(tmp_path, "walkpack")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    pack = ["--skills", "walkpack", "--examples", str(examples)]
    assert training_data.main(["--sync-prompts", *pack, "--files", str(file)]) == 0
    assert 'alarm(time="[time]") Set an alarm clock for a time of day.' in file.read_text(encoding="utf-8")

    server = FakeServer()
    try:
        server.script = [
            answer(
                [
                    {"user": "get me up at five thirty", "assistant": 'alarm(time="five thirty")'},
                    {"user": "I want to be woken at ten past seven", "assistant": 'alarm(time="ten past seven")'},
                ]
            )
        ]
        created = training_data.main(
            ["-c", *pack, "--file", str(file), "--base-url", server.url, "--model", "m", "--append", "--retries", "0"]
        )
    finally:
        server.http.shutdown()
        server.http.server_close()
    assert created == 0 and server.requests[0]["path"] == "/v1/chat/completions"
    assert "### User: get me up at five thirty" in file.read_text(encoding="utf-8")

    config = tmp_path / "config.toml"
    config.write_text(f'[notes]\npath = "{tmp_path / "notes.sqlite3"}"\n', encoding="utf-8")
    env = environment(tmp_path, config)
    learned = voxroute(env, "learn", *pack, "--adapter", str(shipped), "--steps", "4", "--batch-size", "2", str(file))
    assert learned.returncode == 0, learned.stdout + learned.stderr
    output = tmp_path / "data" / "voxroute" / "router"  # the user data folder
    assert output.stat().st_mode & 0o777 == 0o700 and not list(output.glob("checkpoint-*"))
    assert "sentences it now answers relabelled: 2 other()" in " ".join(learned.stdout.split())
    assert "%|" not in learned.stdout + learned.stderr  # no library's progress bars
    records = json.loads((output / DATA).read_text(encoding="utf-8"))
    assert {"user": "set an alarm for seven", "call": 'alarm(time="seven")'}.items() <= next(
        r for r in records if r["user"] == "set an alarm for seven"
    ).items()
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["metrics"]["steps"] == 4 and manifest["config"]["init_adapter"] == str(shipped)
    first = manifest["continued_from"]  # the whole training: the shipped router's own 2 steps before these 4
    assert first["adapter"] == str(shipped) and first["metrics"]["steps"] == 2 and "signatures" not in first
    walkpack = load_pack("walkpack", examples)
    assert manifest["signatures"] == walkpack.signatures() and "alarm" in manifest["signatures"]
    assert RouterSpec.for_adapter(shipped).mismatches(walkpack)[0].startswith("new skill alarm")  # warned before
    assert RouterSpec.for_adapter(output).mismatches(walkpack) == []

    line = next(line for line in learned.stdout.splitlines() if line.startswith("adapter = "))
    config.write_text(config.read_text(encoding="utf-8") + f"\n[router]\n{line}\n", encoding="utf-8")
    cached = files_under(tmp_path / "cache")
    said = voxroute(env, "say", "--json", *pack, "set an alarm for half past six", "could you get me up at dawn")
    assert said.returncode in (0, 1), said.stderr
    instant, routed = (json.loads(line) for line in said.stdout.splitlines())
    assert instant["path"] == "instant" and instant["calls"] == ['alarm(time="half past six")']
    assert instant["answer"] == "Alarm set for half past six." and not instant["failed"]
    assert routed["path"] == "router" and routed["calls"]
    walkpack.parse_calls("; ".join(routed["calls"]))  # calls of the pack
    assert "retrain" not in said.stderr and "new skill" not in said.stderr  # no stale-pack warning
    assert files_under(tmp_path / "cache") == cached  # learn merged and converted: the first say converts nothing


def ctrl_c_as_at_a_terminal() -> None:
    """In the child: SIGINT handled by default, so Python raises KeyboardInterrupt for it even where the tests
    run with SIGINT ignored (a background job of a shell without job control, as some CI runners start them)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_learn_stopped_by_ctrl_c_resumes_from_its_last_checkpoint(
    tmp_path: Path, shipped: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pack, file = user_pack(tmp_path, "resumepack", monkeypatch)
    examples = file.parent
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    output = tmp_path / "learned"
    flags = ["--skills", "resumepack", "--examples", str(examples), "--adapter", str(shipped), "--out", str(output)]
    flags += ["--engine", "transformers", "--steps", "300", "--save-steps", "10", "--batch-size", "1", str(file)]
    first = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "learn", *flags],
        env=environment(tmp_path, config),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_as_at_a_terminal,
    )
    deadline = time.monotonic() + 300
    while not (output / "checkpoint-10" / "trainer_state.json").is_file():
        assert first.poll() is None and time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)  # long before the last step: Ctrl+C lands in training, not after it
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stdout + stderr
    assert "the same command with --resume continues" in stdout
    assert not (output / "manifest.json").exists()
    data = (output / DATA).read_bytes()

    capsys.readouterr()
    settings = Settings(steps=300, batch=1, save_steps=10)
    monkeypatch.setenv("VOXROUTE_CACHE", str(tmp_path / "cache"))
    quiet = Console(file=io.StringIO())
    learn(pack, "resumepack", [file], shipped, output, settings, quiet, resume=True, engine="transformers")
    assert "resuming from" in capsys.readouterr().out
    assert json.loads((output / "manifest.json").read_text(encoding="utf-8"))["metrics"]["steps"] == 300
    assert (output / DATA).read_bytes() == data  # the same data set, rebuilt
    assert not list(output.glob("checkpoint-*"))


@pytest.mark.slow
def test_training_goes_on_from_the_weights_rank_and_targets_of_the_adapter_given(shipped: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from finetune.config import parse_args
    from finetune.finetune import train

    flags = ["--data", str(shipped.parent / "data.json"), "--output_dir", str(tmp_path / "run"), "--skills"]
    flags += ["tests.packs.mini_pack", "--model_name_or_path", RouterSpec.for_adapter(shipped).base_model]
    flags += ["--init_adapter", str(shipped), "--lora_r", "2", "--max_steps", "1", "--learning_rate", "1e-12"]
    flags += ["--per_device_train_batch_size", "2", "--eval_samples", "0", "--report_to", "none"]
    train(*parse_args(flags))
    before = load_file(shipped / "adapter_model.safetensors")
    after = load_file(tmp_path / "run" / "adapter_model.safetensors")
    assert any(tensor.abs().sum() > 0 for name, tensor in before.items() if "lora_B" in name)  # a fresh LoRA's are 0
    assert before.keys() == after.keys()
    for name, tensor in before.items():  # rank 8 kept (not --lora_r 2), and the weights with it
        assert tensor.shape == after[name].shape and torch.allclose(tensor, after[name], atol=1e-6), name
