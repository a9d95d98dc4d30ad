"""The typed training configuration: defaults, then a YAML file, then command-line flags."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from assistant.models import EMBEDDED_LLM
from assistant.prompting import DEFAULT_TEMPLATE


@dataclass
class TrainConfig:
    data: str = "dataset/training_data.json"
    eval_data: str | None = None
    output_dir: str = "runs/router"
    skills: str = "skills"
    base_model: str = EMBEDDED_LLM
    template: str = DEFAULT_TEMPLATE
    list_skills: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["all-linear"])
    epochs: float = 3.0
    max_steps: int = -1
    learning_rate: float = 5e-4
    batch_size: int = 8
    grad_accum: int = 1
    warmup_ratio: float = 0.05
    max_length: int = 256
    eval_steps: int = 100
    save_steps: int = 100
    logging_steps: int = 10
    eval_samples: int = 20
    seed: int = 0
    report_to: str = "auto"
    wandb_project: str = "voxroute"
    wandb_entity: str | None = None
    resume: bool = False
    merge: bool = False


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config; unknown keys are an error naming the file and key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot read config: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of option: value")
    for key in data:
        if key not in _FIELDS:
            raise ValueError(f"{path}: unknown option {key!r} (known: {', '.join(_FIELDS)})")
    return data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per field (``--lora-r``...), all defaulting to None so only given ones override."""
    hints = typing.get_type_hints(TrainConfig)
    for name in _FIELDS:
        flag = "--" + name.replace("_", "-")
        hint = hints[name]
        if hint is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        elif typing.get_origin(hint) is list:
            parser.add_argument(flag, nargs="+", default=None)
        else:
            kind = next((t for t in typing.get_args(hint) if t is not type(None)), hint)
            parser.add_argument(flag, type=kind, default=None)


def build_config(yaml_path: str | None, flags: argparse.Namespace) -> TrainConfig:
    values: dict[str, Any] = load_yaml(yaml_path) if yaml_path else {}
    values.update({name: value for name in _FIELDS if (value := getattr(flags, name, None)) is not None})
    return TrainConfig(**values)
