"""The training configuration: trl's ``SFTConfig`` and ``ModelConfig``, plus voxroute's own few options.

One parser, trl's ``TrlParser``, reads ``--config file.yaml`` and then the flags, so every option
has one name (trl's, transformers' or ours) in YAML and on the command line alike. A YAML value is
checked as the same text given as a flag would be, so ``learning_rate: 5e-4`` (a string to YAML)
is the float 0.0005, a wrong type or an unknown key is a one-line error naming the key, and the
trainer never sees a value its flag would have refused.
"""

from __future__ import annotations

import argparse
import difflib
import io
import os
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml
from trl import ModelConfig, SFTConfig, TrlParser  # type: ignore[attr-defined]  # trl re-exports lazily, not "as X"

from assistant.config import ConfigError, read_small_text
from assistant.models import EMBEDDED_LLM
from assistant.routing.prompting import DEFAULT_TEMPLATE


@dataclass
class RouterArguments:
    """What only voxroute's script knows: its data, skills, prompt, evaluation and W&B naming."""

    data: str = field(
        default="dataset/training_data.json",
        metadata={"help": "Training data written by `training_data.py -t` (its 'train' split is trained on)."},
    )
    eval_data: str | None = field(
        default=None,
        metadata={"help": "Validation data (its 'validation' split); unset: the 'validation' split of --data."},
    )
    skills: str = field(
        default="skills", metadata={"help": "Skill pack: a folder or a module such as benchmarks.snips.skills."}
    )
    template: str = field(
        default=DEFAULT_TEMPLATE,
        metadata={
            "help": "Prompt template: chatml, mistral, llama2, plain, a file, or tokenizer (the base model's own chat "
            "template); the runtime serves with the same one."
        },
    )
    list_skills: bool = field(default=False, metadata={"help": "List every skill's signature in the prompt."})
    eval_samples: int = field(
        default=20,
        metadata={
            "help": "Validation utterances whose calls are generated and scored (exact call) at each evaluation; "
            "0: none."
        },
    )
    wandb_project: str = field(
        default="voxroute", metadata={"help": "W&B project (WANDB_PROJECT, unless already set)."}
    )
    wandb_entity: str | None = field(default=None, metadata={"help": "W&B entity (WANDB_ENTITY, unless already set)."})
    resume: bool = field(
        default=False,
        metadata={
            "help": "Resume from the newest complete checkpoint in --output_dir "
            "(incomplete ones are skipped and named)."
        },
    )
    merge: bool = field(
        default=False, metadata={"help": "Also save the base model with the adapter merged in, in <output_dir>/merged."}
    )
    init_adapter: str | None = field(
        default=None,
        metadata={
            "help": "Continue training this LoRA adapter folder (trained on --model_name_or_path): its weights, rank "
            "and target modules, in place of a fresh LoRA (the lora_* options are then unused); voxroute learn "
            "continues the shipped router so."
        },
    )


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def wandb_configured() -> bool:
    """W&B online with a key, offline when WANDB_MODE=offline, otherwise not."""
    mode = os.environ.get("WANDB_MODE", "")
    return mode != "disabled" and (bool(os.environ.get("WANDB_API_KEY")) or mode == "offline")


def defaults(cuda: bool) -> dict[str, Any]:
    """voxroute's defaults where trl's do not fit a router: fp32 LoRA on a CPU, QLoRA on CUDA."""
    return {
        "model_name_or_path": EMBEDDED_LLM,
        "use_peft": True,
        "lora_target_modules": ["all-linear"],
        # QLoRA on CUDA: 4-bit NF4 with double quantization, bf16 weights and compute; fp32 on a CPU
        "load_in_4bit": cuda,
        "use_bnb_nested_quant": cuda,
        "dtype": "bfloat16" if cuda else "float32",
        # trl defaults both on; on a CPU bf16 autocast and recomputation only slow LoRA down
        "bf16": cuda,
        "gradient_checkpointing": cuda,
        "use_cpu": not cuda,
        "output_dir": "runs/router",
        "learning_rate": 5e-4,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 0.05,  # below 1: a fraction of the steps
        "max_length": 256,
        "eval_strategy": "steps",  # "no" when there is no validation data
        "eval_steps": 100,
        "save_steps": 100,
        "save_total_limit": 3,
        "seed": 0,
        "completion_only_loss": True,
        "prediction_loss_only": True,  # the callback scores generated calls; logits would only cost memory
        "train_sampling_strategy": "group_by_length",  # less padding per batch (see fast.py)
        "report_to": "wandb" if wandb_configured() else "none",
    }


MAX_YAML_DEPTH = 32  # lists and mappings in a training config; trl's YAML loader recurses once per level


class TrainParser(TrlParser):
    """TrlParser with voxroute's defaults that checks YAML values as flags and reports any error on one line."""

    def __init__(self, description: str | None = None) -> None:
        types = (RouterArguments, SFTConfig, ModelConfig)
        # trl's DataClassType is a NewType of Any, which no dataclass type matches unwrapped
        super().__init__(types, prog="finetune.py", description=description)  # type: ignore[arg-type]
        self.add_argument(
            "--config",
            default=argparse.SUPPRESS,
            help="YAML file of options, its keys named as these flags; flags override it.",
        )
        self.set_defaults(**defaults(cuda_available()))
        self.hints = {name: hint for kind in types for name, hint in typing.get_type_hints(kind).items()}
        self.actions: dict[str, argparse.Action] = {}
        for action in self._actions:
            self.actions.setdefault(action.dest, action)  # the first, not a --no_<name> twin

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")

    def set_defaults_with_config(self, **values: Any) -> list[str]:
        for key, value in values.items():
            if key not in self.hints:
                close = difflib.get_close_matches(key, self.hints, n=1, cutoff=0.8)
                raise ConfigError(f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            values[key] = self.checked(key, value)
        return super().set_defaults_with_config(**values)

    def checked(self, key: str, value: Any) -> Any:
        """``value`` as the flag ``--key`` would give it; a list for a list option, None where allowed."""
        action, accepted = self.actions[key], typing.get_args(self.hints[key]) or (self.hints[key],)
        if value is None:
            if type(None) in accepted:
                return None
            raise ConfigError(f"{key}: null is not allowed")
        if isinstance(value, dict) and any(typing.get_origin(kind) is dict or kind is dict for kind in accepted):
            return value
        many = action.nargs in ("+", "*") or any(typing.get_origin(kind) is list for kind in accepted)
        if isinstance(value, list) and many:
            return [self.scalar(key, item, action) for item in value]
        if isinstance(value, (list, dict)):
            raise ConfigError(f"{key}: expected one value, got {value!r}")
        return [self.scalar(key, value, action)] if action.nargs in ("+", "*") else self.scalar(key, value, action)

    @staticmethod
    def scalar(key: str, value: Any, action: argparse.Action) -> Any:
        convert = action.type or str
        assert callable(convert)  # the parser gives every option a function or class, never a registry name
        try:
            result = convert(value if isinstance(value, str) else str(value))
        except (TypeError, ValueError, argparse.ArgumentTypeError):
            name = getattr(convert, "__name__", "a valid value")
            expected = "true or false" if name == "string_to_bool" else name
            raise ConfigError(f"{key}: expected {expected}, got {value!r}") from None
        if action.choices is not None and result not in action.choices:
            raise ConfigError(f"{key}: expected one of {', '.join(map(str, action.choices))}, got {value!r}")
        return result


def check_yaml_file(path: Path) -> None:
    """Before trl loads a YAML config: a regular file of at most MAX_CONFIG_BYTES, with no aliases (a few
    lines of them expand to gigabytes) and nested at most MAX_YAML_DEPTH deep (the loader recurses)."""
    depth, stream = 0, io.StringIO(read_small_text(path))
    stream.name = str(path)  # what YAML's errors name
    for event in yaml.parse(stream, Loader=yaml.SafeLoader):  # events: no recursion, no expansion
        if isinstance(event, yaml.AliasEvent):
            raise ConfigError(f"{path}: YAML aliases (*{event.anchor}) are not allowed")
        depth += isinstance(event, yaml.CollectionStartEvent) - isinstance(event, yaml.CollectionEndEvent)
        if depth > MAX_YAML_DEPTH:
            raise ConfigError(f"{path}: nested more than {MAX_YAML_DEPTH} deep")


def parse_args(
    argv: list[str] | None = None,
    description: str | None = None,
) -> tuple[RouterArguments, SFTConfig, ModelConfig]:
    """The three configurations from ``--config`` YAML and flags; errors exit with one line."""
    given = sys.argv[1:] if argv is None else argv
    argv = [part for arg in given for part in (arg.split("=", 1) if arg.startswith("--config=") else [arg])]
    parser = TrainParser(description)
    config_file = argv[argv.index("--config") + 1] if "--config" in argv[:-1] else None
    source = f"{config_file}: " if config_file is not None else ""
    try:
        if config_file is not None:
            check_yaml_file(Path(config_file))  # its errors name the file
    except ConfigError as error:
        parser.error(str(error))
    except yaml.YAMLError as error:
        parser.error(str(error).replace("\n", " "))
    try:
        script, training, model, rest = parser.parse_args_and_config(argv, return_remaining_strings=True)
    except ConfigError as error:
        parser.error(f"{source}{error}")
    except (OSError, ValueError, yaml.YAMLError) as error:  # an unreadable file, or a __post_init__ check
        parser.error(str(error).replace("\n", " "))
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if training.run_name is None:
        training.run_name = Path(training.output_dir).name
    return script, training, model
