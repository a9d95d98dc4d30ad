"""Adapters and model folders are checked before a loader reads them: a corrupt, truncated or wrongly shaped
file is one line naming it (the assistant, eval.py), a missing folder is never looked up on the hub, and the
merged-model cache is keyed on everything that defines the adapter."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from assistant import cli
from assistant.models import UnusableModel
from assistant.routing.router import SHIPPED_ADAPTER, load_local_router, merged_model_dir
from assistant.runtime.pack import load_pack
from finetune import eval as evaluate

PACK = load_pack("skills")


@pytest.fixture
def adapter(tmp_path: Path) -> Path:
    """A copy of the shipped router's adapter, its manifest included, to damage."""
    folder = tmp_path / "router"
    shutil.copytree(SHIPPED_ADAPTER, folder)
    return folder


def truncate_weights(folder: Path) -> Path:
    weights = folder / "adapter_model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    return weights


def rewrite(path: Path, change: dict) -> Path:
    path.write_text(json.dumps({**json.loads(path.read_text(encoding="utf-8")), **change}), encoding="utf-8")
    return path


def damage(folder: Path, kind: str) -> str:
    """Damage the adapter one way; the start of the error that must name the file."""
    config, manifest = folder / "adapter_config.json", folder / "manifest.json"
    if kind == "truncated weights":
        return f"{truncate_weights(folder)}: not a usable safetensors file: "
    if kind == "weights that are not safetensors":
        (folder / "adapter_model.safetensors").write_bytes(b"PK\x03\x04 a zip, not safetensors" * 10)
        return f"{folder / 'adapter_model.safetensors'}: not a usable safetensors file: "
    if kind == "weights as a FIFO":
        (folder / "adapter_model.safetensors").unlink()
        os.mkfifo(folder / "adapter_model.safetensors")
        return f"{folder / 'adapter_model.safetensors'}: not a regular file"
    if kind == "truncated adapter_config.json":
        config.write_text(config.read_text(encoding="utf-8")[:200], encoding="utf-8")
        return f"{config}: not valid JSON: "
    if kind == "adapter_config.json of another shape":
        rewrite(config, {"peft_type": 3})
        return f"{config}: peft_type has the wrong type: 3"
    if kind == "adapter_config.json with a rank of 0":
        rewrite(config, {"r": 0})
        return f"{config}: r (the LoRA rank) must be 1 or more, got 0"
    if kind == "adapter_config.json as a list":
        config.write_text("[1, 2]", encoding="utf-8")
        return f"{config}: not a JSON object"
    assert kind == "manifest of another shape"
    rewrite(manifest, {"list_skills": "no"})
    return f"{manifest}: list_skills has the wrong type: 'no'"


KINDS = [
    "truncated weights",
    "weights that are not safetensors",
    "weights as a FIFO",
    "truncated adapter_config.json",
    "adapter_config.json of another shape",
    "adapter_config.json with a rank of 0",
    "adapter_config.json as a list",
    "manifest of another shape",
]


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_adapter_is_one_line_naming_the_file_before_anything_loads(adapter: Path, kind: str) -> None:
    expected = damage(adapter, kind)
    started = time.monotonic()
    with pytest.raises(UnusableModel) as caught:
        load_local_router(PACK, adapter)
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value) and time.monotonic() - started < 30


def test_the_assistant_stops_with_one_line_and_status_2(
    adapter: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXROUTE_CONFIG", str(adapter / "no-config.toml"))  # the defaults, whatever ran before
    weights = truncate_weights(adapter)
    assert cli.main(["say", "--adapter", str(adapter), "what time is it"]) == 2
    [line] = capsys.readouterr().out.strip().splitlines()
    assert line.startswith(f"{weights}: not a usable safetensors file: ")


@pytest.fixture
def records(tmp_path: Path) -> Path:
    path = tmp_path / "test.jsonl"
    path.write_text('{"user": "what time is it", "call": "timecheck()"}\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "model",
    [
        "runs/missing/checkpoint-500",
        "{tmp}/missing",
        "{tmp}/empty",
        "{tmp}/file",
        "../missing",
        "~/voxroute-missing-model",
    ],
)
def test_eval_on_a_missing_or_empty_folder_is_one_line_and_no_hub_lookup(
    model: str, tmp_path: Path, records: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a lookup would fail with the hub's own message, not ours
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x", encoding="utf-8")
    model = model.format(tmp=tmp_path)
    path = Path(model).expanduser()
    assert evaluate.main(["--model", model, "--data", str(records)]) == 1
    problem = {
        "empty": "not a model folder (no config.json)",
        "file": "not a folder (a model is a folder with config.json)",
    }.get(path.name, "no such model folder")
    assert capsys.readouterr().err == f"error: {path}: {problem}\n"


def test_eval_on_a_truncated_adapter_names_the_file(
    adapter: Path, records: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = truncate_weights(adapter)
    assert evaluate.main(["--model", str(adapter), "--data", str(records)]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {weights}: not a usable safetensors file: ")


def test_a_changed_adapter_config_is_merged_afresh_never_served_stale(
    tiny_llama: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    monkeypatch.setenv("VOXROUTE_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    lora = LoraConfig(r=2, lora_alpha=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    folder = tmp_path / "adapter"
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_llama), lora).save_pretrained(str(folder))

    first = merged_model_dir(str(tiny_llama), folder)
    assert merged_model_dir(str(tiny_llama), folder) == first  # nothing changed: the cached merge
    rewrite(folder / "adapter_config.json", {"lora_alpha": 8})  # the same weights, scaled 4 times as much
    second = merged_model_dir(str(tiny_llama), folder)
    assert second != first
    before, after = (load_file(path / "model.safetensors") for path in (first, second))
    name = next(key for key in before if key.endswith("self_attn.q_proj.weight"))
    assert not torch.equal(before[name], after[name])
