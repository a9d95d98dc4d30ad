"""finetune.py and eval.py for real: a tiny Llama (2 layers, SmolLM2's tokenizer) trained on CPU.

The tiny model keeps each run to seconds; the real SmolLM2 goes through the same code when the
shipped router is trained (`make router`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.routing.calls import Call
from assistant.routing.router import load_local_router
from assistant.runtime.pack import REPO_ROOT, SkillPack, load_pack
from assistant.runtime.skill import Skill
from finetune import eval as evaluate
from finetune.config import TrainParser
from finetune.finetune import parse_args, resume_checkpoint, train
from finetune.records import read_records

pytestmark = pytest.mark.slow

RECORDS = [
    ("what's the weather in Oslo", 'weather(location="Oslo")', "train"),
    ("weather tomorrow", 'weather(day="tomorrow")', "train"),
    ("set a timer for five minutes", 'timer(duration="five minutes")', "train"),
    ("timer ten seconds", 'timer(duration="ten seconds")', "train"),
    ("I'll see you at dinner", "other()", "train"),
    ("the game was great last night", "other()", "train"),
    ("what time is it", "timecheck()", "train"),
    ("open firefox", 'run_app(program="firefox")', "train"),
    ("is it cold in Rome", 'weather(location="Rome")', "validation"),
    ("can you pass the salt", "other()", "validation"),
    ("timer two minutes", 'timer(duration="two minutes")', "validation"),
]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "training_data.json"
    rows = [{"skill": call.split("(")[0], "user": user, "call": call, "split": split} for user, call, split in RECORDS]
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def flags(dataset: Path, output: Path, base: Path, *extra: str) -> list[str]:
    return [
        "--data",
        str(dataset),
        "--output_dir",
        str(output),
        "--model_name_or_path",
        str(base),
        "--per_device_train_batch_size",
        "2",
        "--eval_samples",
        "2",
        "--logging_steps",
        "1",
        "--report_to",
        "none",
        *extra,
    ]


def test_training_writes_adapter_manifest_and_evaluates(tiny_llama: Path, dataset: Path, tmp_path: Path) -> None:
    output = tmp_path / "run"
    train(*parse_args(flags(dataset, output, tiny_llama, "--max_steps", "4", "--eval_steps", "2", "--save_steps", "2")))
    assert (output / "adapter_model.safetensors").is_file() and (output / "checkpoint-4").is_dir()
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["base_model"] == str(tiny_llama) and manifest["template"] == "chatml"
    assert manifest["signatures"] == load_pack().signatures()
    assert manifest["dataset"]["train"] == 8 and manifest["dataset"]["validation"] == 3
    assert len(manifest["dataset"]["sha256"]) == 64
    assert manifest["metrics"]["steps"] == 4 and manifest["metrics"]["device"] == "cpu"
    assert [point["step"] for point in manifest["metrics"]["accuracy_curve"]] == [2, 4]  # no second eval at the end

    report = tmp_path / "eval.json"
    assert evaluate.main(["--model", str(output), "--data", str(dataset), "--json-out", str(report)]) == 0
    metrics = json.loads(report.read_text())
    assert metrics["n"] == 3 and len(metrics["predictions"]) == 3
    assert set(metrics) >= {
        "parse_rate",
        "skill_accuracy",
        "exact_call_accuracy",
        "argument_f1",
        "false_activation_rate",
        "missed_command_rate",
        "latency_ms_p50",
        "latency_ms_p95",
        "per_skill",
    }
    pack = load_pack()
    for prediction in metrics["predictions"]:
        pack.parse(prediction["expected"])

    curve = tmp_path / "curve.json"
    assert (
        evaluate.main(
            ["--checkpoints", str(output), "--data", str(dataset), "--engine", "transformers", "--json-out", str(curve)]
        )
        == 0
    )
    assert [row["step"] for row in json.loads(curve.read_text())["curve"]] == [2, 4]


def test_a_merged_model_is_served_and_evaluated_as_its_manifest_says(
    tiny_llama: Path, dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.routing.router import load_local_router

    output = tmp_path / "run"
    train(
        *parse_args(
            flags(
                dataset,
                output,
                tiny_llama,
                "--max_steps",
                "1",
                "--eval_samples",
                "0",
                "--template",
                "mistral",
                "--merge",
            )
        )
    )
    router = load_local_router(load_pack(), output / "merged", engine="transformers")
    assert router.template.name == "mistral" and router.route("what time is it").text.startswith(" ")  # [/INST] {call}
    for name, value in {
        "WANDB_MODE": "offline",
        "WANDB_DIR": tmp_path,
        "WANDB_DATA_DIR": tmp_path / "data",
        "WANDB_CACHE_DIR": tmp_path / "cache",
        "WANDB_CONFIG_DIR": tmp_path / "config",
        "WANDB_SILENT": "true",
    }.items():
        monkeypatch.setenv(name, str(value))
    report = tmp_path / "eval.json"
    assert (
        evaluate.main(
            [
                "--model",
                str(output / "merged"),
                "--data",
                str(dataset),
                "--engine",
                "transformers",
                "--json-out",
                str(report),
            ]
        )
        == 0
    )
    assert json.loads(report.read_text())["n"] == 3
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    assert list((run / "files" / "media" / "table" / "eval").glob("predictions_*.table.json"))
    import wandb

    wandb.teardown()  # W&B keeps its settings (this test's folders) for the process otherwise


def test_the_tokenizer_template_is_trained_recorded_and_served(tiny_llama: Path, dataset: Path, tmp_path: Path) -> None:
    """``--template tokenizer``: the base model's chat template (SmolLM2's ChatML here) in training, the
    held-out scoring, the manifest and the served router alike."""
    from assistant.routing.prompting import load_template

    output = tmp_path / "run"
    train(
        *parse_args(
            flags(dataset, output, tiny_llama, "--max_steps", "1", "--eval_samples", "1", "--template", "tokenizer")
        )
    )
    assert json.loads((output / "manifest.json").read_text())["template"] == "tokenizer"
    router = load_local_router(load_pack(), output, engine="transformers")
    assert router.template == load_template("tokenizer", router.tokenizer)
    assert router.template.suffix == "<|im_end|>" and router.route("what time is it").tokens > 0


def test_qlora_path_trains_saves_and_routes_on_cpu(tiny_llama: Path, dataset: Path, tmp_path: Path) -> None:
    """The CUDA default (4-bit NF4 base, LoRA on top), forced on a CPU: bitsandbytes runs there, slowly."""
    from bitsandbytes.nn.modules import Linear4bit

    from assistant.routing.router import load_local_router
    from finetune.finetune import load_model

    output = tmp_path / "run"
    arguments = parse_args(
        flags(
            dataset,
            output,
            tiny_llama,
            "--max_steps",
            "2",
            "--eval_samples",
            "0",
            "--load_in_4bit",
            "true",
            "--bnb_4bit_quant_type",
            "nf4",
            "--use_bnb_nested_quant",
            "true",
        )
    )
    model, _ = load_model(arguments[2], gradient_checkpointing=False)
    assert any(isinstance(module, Linear4bit) for module in model.modules())
    train(*arguments)
    adapter = json.loads((output / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(tiny_llama)
    assert json.loads((output / "manifest.json").read_text())["config"]["load_in_4bit"] is True
    routed = load_local_router(load_pack(), output, engine="transformers").route("what time is it")
    assert routed.text and routed.tokens > 0  # decoded under the grammar


def test_router_warns_when_skills_differ_from_the_manifest(
    tiny_llama: Path, dataset: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    output = tmp_path / "run"
    train(*parse_args(flags(dataset, output, tiny_llama, "--max_steps", "1", "--eval_samples", "0")))

    def weather(location: str | None = None, units: str | None = None) -> str:
        """Changed: a new argument."""
        return ""

    def other() -> str:
        """Speech not addressed to the assistant: conversation, background noise, media."""
        return ""

    changed = SkillPack.from_skills([Skill.from_function(weather), Skill.from_function(other)])
    with caplog.at_level(logging.WARNING):
        router = load_local_router(changed, output, engine="transformers", max_new_tokens=8)
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "skill weather changed" in messages and "skill timer was removed" in messages
    routed = router.route("weather in Oslo")
    assert routed.calls[0].name in changed.skills


def test_resume_after_the_process_is_killed(tiny_llama: Path, dataset: Path, tmp_path: Path) -> None:
    output = tmp_path / "run"
    script = [sys.executable, str(REPO_ROOT / "finetune" / "finetune.py")]
    common = flags(dataset, output, tiny_llama, "--save_steps", "2", "--eval_samples", "0", "--eval_steps", "1000")
    first = subprocess.Popen(
        [*script, *common, "--max_steps", "500"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not (output / "checkpoint-2" / "trainer_state.json").is_file():
        assert first.poll() is None and time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert not (output / "manifest.json").exists()

    second = subprocess.run(
        [*script, *common, "--max_steps", "40", "--resume"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resuming from" in second.stdout and "checkpoint-" in second.stdout
    assert json.loads((output / "manifest.json").read_text())["metrics"]["steps"] == 40


def test_two_processes_train_the_adapter_one_process_trains_with_the_same_global_batch(
    tiny_llama: Path, dataset: Path, tmp_path: Path
) -> None:
    """The README's ``accelerate launch`` (torchrun, one process per GPU, DDP) on two CPU processes over gloo.

    Per-process batch 2 on two processes and batch 4 on one: the same examples each step, the same
    gradients (DDP averages; the loss is normalised by the global count of call tokens), so the same
    adapter, up to float32 summation order. Only rank 0 writes, apart from transformers' per-process
    RNG state in a checkpoint, which a resumed run needs from every process.
    """
    import torch
    from safetensors.torch import load_file

    common = [
        "--max_steps",
        "4",
        "--lora_dropout",
        "0",
        "--eval_samples",
        "1",
        "--eval_steps",
        "4",
        "--save_steps",
        "4",
    ]
    single = tmp_path / "single"
    train(*parse_args(flags(dataset, single, tiny_llama, *common, "--per_device_train_batch_size", "4")))

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    launch_config = tmp_path / "accelerate.yaml"  # what `accelerate config` writes for two GPUs on one machine
    launch_config.write_text(
        "compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_GPU\nnum_machines: 1\n"
        f"num_processes: 2\nmain_process_port: {port}\nmixed_precision: 'no'\n",
        encoding="utf-8",
    )
    double, logs = tmp_path / "double", tmp_path / "writes"
    logs.mkdir()
    watch = str(REPO_ROOT / "tests" / "rank_writes")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [watch, os.environ.get("PYTHONPATH")])),
        "WATCH_WRITES": str(double),
        "WATCH_LOG": str(logs),
    }
    launched = subprocess.run(
        [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--config_file",
            str(launch_config),
            str(REPO_ROOT / "finetune" / "finetune.py"),
            *flags(dataset, double, tiny_llama, *common),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]

    one, two = (load_file(folder / "adapter_model.safetensors") for folder in (single, double))
    assert one.keys() == two.keys()
    assert max(float(weight.abs().max()) for name, weight in two.items() if "lora_B" in name) > 1e-4  # zero at start
    for name, weight in one.items():  # a step on other examples moves a weight by about the learning rate, 5e-4
        torch.testing.assert_close(two[name], weight, rtol=0, atol=1e-5, msg=name)

    def files(folder: Path) -> set[str]:
        return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}

    per_process = {"checkpoint-4/rng_state_0.pth", "checkpoint-4/rng_state_1.pth"}
    assert per_process <= files(double)
    assert files(double) - per_process == files(single) - {"checkpoint-4/rng_state.pth"}
    writes = {rank: (logs / f"rank{rank}.txt").read_text().splitlines() for rank in (0, 1)}
    assert writes[0].count("os.rename manifest.json") == 1 and "open adapter_config.json" in writes[0]  # seen
    assert set(writes[1]) <= {"os.mkdir checkpoint-4"}  # the folder its RNG state goes into
    said = launched.stdout.splitlines()
    assert sum(line.startswith('{"train_loss"') for line in said) == 1
    assert sum("exact-call accuracy" in line for line in said) == 1
    assert [
        json.loads((folder / "manifest.json").read_text())["machine"]["processes"] for folder in (single, double)
    ] == [1, 2]


def test_resume_skips_incomplete_checkpoints(
    tiny_llama: Path, dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "run"
    common = flags(dataset, output, tiny_llama, "--save_steps", "2", "--eval_samples", "0", "--eval_steps", "1000")
    train(*parse_args([*common, "--max_steps", "4"]))
    (output / "checkpoint-4" / "adapter_model.safetensors").unlink()  # weights gone
    (output / "checkpoint-6").mkdir()  # killed as the save began
    capsys.readouterr()

    train(*parse_args([*common, "--max_steps", "6", "--resume"]))
    said = capsys.readouterr().out
    assert f"resuming from {output / 'checkpoint-2'} (skipped incomplete: checkpoint-6, checkpoint-4)" in said
    state = json.loads((output / "checkpoint-6" / "trainer_state.json").read_text())
    assert state["global_step"] == 6
    assert json.loads((output / "manifest.json").read_text())["metrics"]["steps"] == 6


def test_resume_without_a_complete_checkpoint_starts_afresh(tmp_path: Path) -> None:
    for name in ("checkpoint-9", "checkpoint-10"):
        (tmp_path / name).mkdir()
    (tmp_path / "checkpoint-9" / "trainer_state.json").write_text('{"global_step": ')  # cut short
    assert resume_checkpoint(tmp_path) == (None, [tmp_path / "checkpoint-10", tmp_path / "checkpoint-9"])
    assert resume_checkpoint(tmp_path / "absent") == (None, [])


def test_yaml_learning_rate_in_e_notation_trains_as_a_float(tiny_llama: Path, dataset: Path, tmp_path: Path) -> None:
    config = tmp_path / "router.yaml"
    config.write_text("learning_rate: 5e-4\nmax_steps: 2\neval_samples: 0\n", encoding="utf-8")
    output = tmp_path / "run"
    script, training, model = parse_args(["--config", str(config), *flags(dataset, output, tiny_llama)])
    assert training.learning_rate == 5e-4 and isinstance(training.learning_rate, float)
    train(script, training, model)
    state = json.loads((output / "checkpoint-2" / "trainer_state.json").read_text())
    logged = [entry["learning_rate"] for entry in state["log_history"] if "learning_rate" in entry]
    assert all(isinstance(rate, float) for rate in logged) and max(logged) == pytest.approx(5e-4)  # warmup, then peak
    assert json.loads((output / "manifest.json").read_text())["config"]["learning_rate"] == 5e-4


@pytest.mark.parametrize(
    ("yaml", "argv", "message"),
    [
        ("batch_size: 8\n", [], "unknown key 'batch_size'"),
        ("target_modules: [all-linear]\n", [], "unknown key 'target_modules' (did you mean 'lora_target_modules'?)"),
        ("per_device_train_batch_size: 2.5\n", [], "per_device_train_batch_size: expected int, got 2.5"),
        ("learning_rate: [0.1, 0.2]\n", [], "learning_rate: expected one value, got [0.1, 0.2]"),
        ("bf16: maybe\n", [], "bf16: expected true or false, got 'maybe'"),
        ("max_steps: null\n", [], "max_steps: null is not allowed"),
        ("", ["--learning_rate", "fast"], "--learning_rate/--learning-rate: invalid float value: 'fast'"),
        ("", ["--batch_size", "8"], "unrecognized arguments: --batch_size 8"),
    ],
)
def test_config_errors_are_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], yaml: str, argv: list[str], message: str
) -> None:
    config = tmp_path / "router.yaml"
    config.write_text(yaml, encoding="utf-8")
    with pytest.raises(SystemExit) as stopped:
        parse_args(["--config", str(config), *argv] if yaml else argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("finetune.py: error: ")]
    assert len(errors) == 1 and message in errors[0] and err.endswith(errors[0] + "\n")
    if yaml:
        assert errors[0].startswith(f"finetune.py: error: {config}: ")


def test_help_explains_every_option() -> None:
    parser = TrainParser()
    assert [action.dest for action in parser._actions if not action.help] == []
    assert "(default: 0.0005)" in parser.format_help()


def test_wandb_offline_logs_run_and_stages_artifacts(
    tiny_llama: Path, dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "WANDB_MODE": "offline",
        "WANDB_DIR": tmp_path,
        "WANDB_DATA_DIR": tmp_path / "data",
        "WANDB_CACHE_DIR": tmp_path / "cache",
        "WANDB_CONFIG_DIR": tmp_path / "config",
        "WANDB_SILENT": "true",
    }.items():
        monkeypatch.setenv(name, str(value))
    output = tmp_path / "run"
    train(
        *parse_args(
            flags(
                dataset,
                output,
                tiny_llama,
                "--max_steps",
                "2",
                "--eval_steps",
                "2",
                "--report_to",
                "wandb",
                "--wandb_project",
                "voxroute-test",
            )
        )
    )
    import wandb

    wandb.finish()
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert [p for p in runs[0].glob("run-*.wandb") if p.stat().st_size > 0]
    assert list((runs[0] / "files" / "media" / "table" / "eval").glob("predictions_*.table.json"))
    staged = {p.read_bytes() for p in (tmp_path / "data" / "artifacts" / "staging").iterdir()}
    assert dataset.read_bytes() in staged and (output / "manifest.json").read_bytes() in staged


def test_wandb_artifact_inputs_say_clearly_that_they_need_the_network(dataset: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert evaluate.main(["--model", "wandb:me/voxroute/router-adapter:v1", "--data", str(dataset)]) == 1
    assert "W&B artifacts need network access" in capsys.readouterr().err
    assert evaluate.main(["--data", "wandb:me/voxroute/test-set:v1"]) == 1
    assert "wandb:me/voxroute/test-set:v1" in capsys.readouterr().err


def test_records_a_stage_trained_on_are_left_out_of_the_score(dataset: Path, tmp_path: Path, capsys) -> None:
    evaluation = tmp_path / "set.jsonl"
    rows = [
        ("whats the weather in Oslo", 'weather(location="Oslo")'),
        ("timer two minutes", 'timer(duration="two minutes")'),
    ]
    evaluation.write_text("".join(json.dumps({"user": user, "call": call}) + "\n" for user, call in rows))
    trained = tmp_path / "first_stage.json"
    trained.write_text(json.dumps([{"user": "What's the weather in Oslo?", "call": 'weather(location="Oslo")'}]))
    pack = load_pack()
    records = read_records(evaluation, pack)
    assert [record.user for record in evaluate.unseen_by(records, [str(trained)], pack)] == ["timer two minutes"]
    assert "1 of 2 records left out" in capsys.readouterr().err

    assert evaluate.main(["--data", str(dataset), "--unseen-by", str(dataset)]) == 1
    error = capsys.readouterr().err
    assert "nothing left to score" in error and str(dataset) in error and len(error.strip().splitlines()) == 1


def test_openai_compatible_baseline_over_http(http_server, dataset: Path, tmp_path: Path) -> None:
    answers = {
        "is it cold in Rome": ("weather", '{"location": "Rome", "day": null}'),
        "can you pass the salt": ("other", "{}"),
        "timer two minutes": ("timer", '{"duration": "2 minutes"}'),
    }

    def completions(request) -> tuple[int, str, bytes]:
        body = json.loads(request.body)
        assert body["tool_choice"] == "required" and {t["function"]["name"] for t in body["tools"]} >= {"weather"}
        name, arguments = answers[body["messages"][-1]["content"]]
        reply = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
                        ],
                    },
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
        return 200, "application/json", json.dumps(reply).encode()

    server = http_server({"/v1/chat/completions": completions})
    report = tmp_path / "baseline.json"
    code = evaluate.main(
        [
            "--openai-model",
            "gpt-test",
            "--base-url",
            f"{server.url}/v1",
            "--data",
            str(dataset),
            "--json-out",
            str(report),
        ]
    )
    assert code == 0
    metrics = json.loads(report.read_text())
    assert metrics["n"] == 3 and len(server.requests) == 3
    # "2 minutes" was never said: a span argument must copy the utterance, so the endpoint's call is refused
    assert metrics["parse_rate"] == metrics["exact_call_accuracy"] == pytest.approx(2 / 3)
    refused = next(p for p in metrics["predictions"] if p["user"] == "timer two minutes")
    assert refused["predicted"] == 'timer({"duration": "2 minutes"})' and not refused["correct"]
    assert Call("other") in {load_pack().parse(p["predicted"]) for p in metrics["predictions"] if p["correct"]}


def test_too_short_max_length_is_a_clear_error(tiny_llama: Path, dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"max_length=20 is shorter than the longest training example \(\d+ tokens"):
        train(*parse_args(flags(dataset, tmp_path / "run", tiny_llama, "--max_steps", "1", "--max_length", "20")))
