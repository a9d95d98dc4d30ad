"""Fine-tune a router: LoRA SFT with trl on the ``training_data.py -t`` dataset.

CPU (the default): fp32 LoRA of the embedded SmolLM2-135M-Instruct. CUDA: QLoRA (4-bit NF4,
double quantization, bf16 compute) of any hub causal LM, e.g. Mistral-7B-Instruct; several GPUs
through ``accelerate launch finetune/finetune.py ...``. Loss is on the completion (the call)
only, and prompts come from ``assistant.routing.prompting``, the function the runtime serves with.
Options are trl's ``SFTConfig`` and ``ModelConfig`` and voxroute's ``RouterArguments``
(finetune/config.py), as flags or YAML keys of the same names; ``--help`` lists them all.

    python finetune/finetune.py --data dataset/training_data.json --output_dir runs/router
    python finetune/finetune.py --config finetune/configs/router-smollm2-cpu.yaml --resume
"""

from __future__ import annotations

if __package__ in (None, ""):  # run as a script: make the repository importable
    import sys
    from pathlib import Path as _Path

    sys.path.insert(0, str(_Path(__file__).resolve().parent.parent))

import dataclasses
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

from trl import ModelConfig, SFTConfig  # type: ignore[attr-defined]  # trl re-exports lazily, not "as X"

from assistant.config import ConfigError
from assistant.files import write_atomically
from assistant.models import UnusableModel, check_safetensors, read_json_file, resolve_base_model
from assistant.routing.decoding import CallMatcher, TorchEngine
from assistant.routing.prompting import (
    PromptTemplate,
    load_template,
    render_completion,
    render_prompt,
)
from assistant.routing.router import MANIFEST, LocalRouter
from assistant.runtime.pack import SkillPack, load_pack
from finetune.config import RouterArguments, parse_args
from finetune.records import Record, file_sha256, read_records


def to_examples(
    records: list[Record], pack: SkillPack, script: RouterArguments, template: PromptTemplate
) -> list[dict[str, str]]:
    lines = pack.prompt_lines() if script.list_skills else None
    return [
        {
            "prompt": render_prompt(template, r.user, lines, r.context),
            "completion": render_completion(template, r.calls),
        }
        for r in records
    ]


def training_template(name: str, tokenizer: Any) -> PromptTemplate:
    """The prompt template to train with (``tokenizer``: the base model's own); a bad one stops with one line."""
    try:
        return load_template(name, tokenizer)
    except ValueError as error:
        raise SystemExit(f"template: {error}") from None


def load_model(model_args: ModelConfig, gradient_checkpointing: bool) -> tuple[Any, Any]:
    """(model, tokenizer) as ``model_args`` says; a quantized base is made ready for QLoRA."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import get_quantization_config  # type: ignore[attr-defined]  # trl re-exports lazily, not "as X"

    assert model_args.model_name_or_path is not None  # defaults() names the embedded model
    path = resolve_base_model(model_args.model_name_or_path)
    tokenizer = AutoTokenizer.from_pretrained(path, revision=model_args.model_revision)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    quantization = get_quantization_config(model_args)
    device_map = None
    if quantization is not None:
        from accelerate import PartialState

        device_map = {"": PartialState().device}  # this process's GPU; the CPU where there is none
    model = AutoModelForCausalLM.from_pretrained(
        path,
        revision=model_args.model_revision,
        attn_implementation=model_args.attn_implementation,
        dtype=model_args.dtype if model_args.dtype in ("auto", None) else getattr(torch, model_args.dtype),
        quantization_config=quantization,
        device_map=device_map,
    )
    if quantization is None:
        return model, tokenizer
    from peft import prepare_model_for_kbit_training

    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing), tokenizer


def continued_adapter(model: Any, folder: Path) -> Any:
    """``model`` wrapped in the trained LoRA adapter of ``folder``, its weights trainable: training goes on from
    them (``--init_adapter``). An adapter that does not fit the base model is one line naming it."""
    from peft import PeftModel

    from assistant.routing.router import adapter_config, one_line

    adapter_config(folder)  # the keys PEFT reads, checked first
    weights = folder / "adapter_model.safetensors"
    if weights.is_file():
        check_safetensors(weights)
    try:
        return PeftModel.from_pretrained(model, str(folder), is_trainable=True)
    except (OSError, ValueError, RuntimeError, KeyError) as error:  # a missing file, another base model's shapes
        raise UnusableModel(
            one_line(f"{folder}: cannot continue this adapter: {type(error).__name__}: {error}")
        ) from error


class CallAccuracy:
    """Generates calls for held-out utterances under the grammar and scores them (exact match)."""

    def __init__(
        self,
        records: list[Record],
        pack: SkillPack,
        tokenizer: Any,
        template: PromptTemplate,
        script: RouterArguments,
        seed: int,
    ):
        self.records = random.Random(seed).sample(records, min(script.eval_samples, len(records)))
        self.pack, self.tokenizer, self.template, self.script = pack, tokenizer, template, script
        self.calls = CallMatcher(tokenizer, pack, self.template.lead)
        self.history: list[dict[str, Any]] = []

    def __call__(self, model: Any, step: int) -> dict[str, Any]:
        was_training = model.training
        model.eval()
        router = LocalRouter(
            self.pack,
            self.tokenizer,
            TorchEngine(model, self.calls),
            self.calls,
            self.template,
            self.script.list_skills,
        )
        rows = []
        for record in self.records:
            routed = router.route(record.user, record.context)
            rows.append((record.user, str(record.calls), str(routed.calls), routed.calls == record.calls))
        if was_training:
            model.train()
        accuracy = sum(row[3] for row in rows) / max(len(rows), 1)
        result = {"step": step, "exact_call_accuracy": accuracy, "samples": rows}
        self.history.append({"step": step, "exact_call_accuracy": accuracy})
        return result


def make_callback(scorer: CallAccuracy, use_wandb: bool) -> Any:
    from transformers import TrainerCallback

    class CallAccuracyCallback(TrainerCallback):
        """After each evaluation, generate calls for held-out utterances and log their accuracy."""

        def on_evaluate(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
            if not state.is_world_process_zero or model is None:
                return
            result = scorer(model, state.global_step)
            print(
                f"step {state.global_step}: exact-call accuracy {result['exact_call_accuracy']:.3f} "
                f"on {len(result['samples'])} held-out utterances"
            )
            if use_wandb:
                import wandb

                if wandb.run is not None:
                    table = wandb.Table(columns=["user", "expected", "predicted", "correct"], data=result["samples"])
                    wandb.log(
                        {
                            "eval/exact_call_accuracy": result["exact_call_accuracy"],
                            "eval/predictions": table,
                            "train/global_step": state.global_step,
                        }
                    )

    return CallAccuracyCallback()


def last_eval_loss(state: Any) -> float | None:
    """The eval loss logged at the final step, if there was an evaluation there (saves a second one)."""
    for entry in reversed(state.log_history):
        if "eval_loss" in entry:
            return entry["eval_loss"] if entry.get("step") == state.global_step else None
    return None


def resume_checkpoint(output: Path) -> tuple[Path | None, list[Path]]:
    """(the newest complete checkpoint, the newer incomplete ones skipped) in a run folder.

    The Trainer writes a checkpoint's weights, optimizer and RNG state first and trainer_state.json
    last, so a kill during a save leaves a folder without a readable state, and a folder whose
    weights are gone cannot be resumed from either: both are incomplete.
    """
    from transformers.trainer import TRAINER_STATE_NAME
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
    from transformers.utils import (  # type: ignore[attr-defined]  # re-exported without "as X"
        ADAPTER_SAFE_WEIGHTS_NAME,
        ADAPTER_WEIGHTS_NAME,
        SAFE_WEIGHTS_INDEX_NAME,
        SAFE_WEIGHTS_NAME,
        WEIGHTS_INDEX_NAME,
        WEIGHTS_NAME,
    )

    weights = (
        ADAPTER_SAFE_WEIGHTS_NAME,
        ADAPTER_WEIGHTS_NAME,
        SAFE_WEIGHTS_NAME,
        SAFE_WEIGHTS_INDEX_NAME,
        WEIGHTS_NAME,
        WEIGHTS_INDEX_NAME,
    )

    def complete(folder: Path) -> bool:
        try:
            json.loads((folder / TRAINER_STATE_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return any((folder / name).is_file() for name in weights)

    prefix = f"{PREFIX_CHECKPOINT_DIR}-"
    steps = {
        int(p.name[len(prefix) :]): p
        for p in output.glob(f"{prefix}*")
        if p.is_dir() and p.name[len(prefix) :].isdigit()
    }
    skipped: list[Path] = []
    for _, folder in sorted(steps.items(), reverse=True):
        if complete(folder):
            return folder, skipped
        skipped.append(folder)
    return None, skipped


def write_manifest(
    folder: Path,
    script: RouterArguments,
    training: SFTConfig,
    model_args: ModelConfig,
    pack: SkillPack,
    train: list[Record],
    test: list[Record],
    metrics: dict[str, Any],
) -> None:
    manifest = {
        "base_model": model_args.model_name_or_path,
        "template": script.template,
        "list_skills": script.list_skills,
        "signatures": pack.signatures(),
        "dataset": {
            "path": script.data,
            "sha256": file_sha256(script.data),
            "train": len(train),
            "validation": len(test),
        },
        "config": {**dataclasses.asdict(script), **dataclasses.asdict(model_args), **training.to_dict()},
        "metrics": metrics,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "processes": training.world_size,
        },
    }
    if script.init_adapter:
        manifest["continued_from"] = first_stage(Path(script.init_adapter))
    write_atomically(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def first_stage(adapter: Path) -> dict[str, Any]:
    """How the adapter a training went on from was made (its manifest but the signatures), so that a continued
    router's manifest tells its whole training; an adapter without a manifest is named and nothing more."""
    manifest = adapter / MANIFEST
    earlier = read_json_file(manifest) if manifest.is_file() else {}
    kept = earlier.items() if isinstance(earlier, dict) else ()
    return {"adapter": str(adapter)} | {key: value for key, value in kept if key != "signatures"}


def log_artifacts(script: RouterArguments, model_args: ModelConfig, adapter_dir: Path) -> None:
    import wandb

    if wandb.run is None:
        return
    dataset = wandb.Artifact("training-data", type="dataset")
    dataset.add_file(script.data)
    wandb.run.log_artifact(dataset)
    model = wandb.Artifact("router-adapter", type="model", metadata={"base_model": model_args.model_name_or_path})
    model.add_dir(str(adapter_dir))
    wandb.run.log_artifact(model)


def train(script: RouterArguments, training: SFTConfig, model_args: ModelConfig, progress: Any = None) -> Path:
    """Train, save the adapter with its manifest into ``output_dir``, and return that folder.

    ``progress``, a TrainerCallback, shows the progress in place of the Trainer's bar and log lines (and the
    metrics line at the end): ``voxroute learn`` draws its own."""
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from transformers.trainer_utils import IntervalStrategy
    from trl import get_peft_config  # type: ignore[attr-defined]  # trl re-exports lazily, not "as X"

    from finetune.shared_prefix import CompletionOnlySFTTrainer

    pack = load_pack(script.skills)
    train_records = read_records(script.data, pack, "train")
    validation_records = read_records(script.eval_data or script.data, pack, "validation")
    if not train_records:
        raise SystemExit(f"{script.data}: no records with split 'train'")
    model, tokenizer = load_model(model_args, training.gradient_checkpointing)
    peft_config = get_peft_config(model_args)
    if script.init_adapter:
        model, peft_config = continued_adapter(model, Path(script.init_adapter)), None
    template = training_template(script.template, tokenizer)
    train_examples = to_examples(train_records, pack, script, template)
    longest = max(len(tokenizer(e["prompt"] + e["completion"]).input_ids) for e in train_examples)
    if training.max_length is not None and longest > training.max_length:
        raise SystemExit(
            f"max_length={training.max_length} is shorter than the longest training example "
            f"({longest} tokens, prompt included): raise --max_length"
        )
    assert isinstance(training.report_to, list)  # TrainingArguments.__post_init__ makes it a list
    use_wandb = "wandb" in training.report_to
    if use_wandb:
        os.environ.setdefault("WANDB_PROJECT", script.wandb_project)
        if script.wandb_entity:
            os.environ.setdefault("WANDB_ENTITY", script.wandb_entity)
    assert training.output_dir is not None  # TrainingArguments.__post_init__ fills in a default
    output = Path(training.output_dir)
    if not validation_records:
        training.eval_strategy = IntervalStrategy.NO  # nothing to evaluate on
    scorer = (
        CallAccuracy(validation_records, pack, tokenizer, template, script, training.seed)
        if validation_records and script.eval_samples > 0
        else None
    )
    trainer = CompletionOnlySFTTrainer(
        model=model,
        args=training,
        train_dataset=Dataset.from_list(train_examples),
        eval_dataset=(
            Dataset.from_list(to_examples(validation_records, pack, script, template)) if validation_records else None
        ),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[make_callback(scorer, use_wandb)] if scorer else None,
    )
    if progress is not None:
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(progress)
    checkpoint = training.resume_from_checkpoint
    if script.resume and checkpoint is None:
        found, skipped = resume_checkpoint(output)
        checkpoint = str(found) if found else None
        note = f" (skipped incomplete: {', '.join(p.name for p in skipped)})" if skipped else ""
        print(
            f"resuming from {found}{note}"
            if found
            else f"--resume: no complete checkpoint in {output}{note}; starting afresh"
        )
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    seconds = time.perf_counter() - start
    metrics: dict[str, Any] = {
        "train_loss": result.training_loss,
        "train_seconds": round(seconds, 1),
        "steps": trainer.state.global_step,
        "device": training.device.type,
    }
    if validation_records:
        metrics["eval_loss"] = last_eval_loss(trainer.state) or trainer.evaluate()["eval_loss"]
    if scorer and scorer.history:
        metrics["exact_call_accuracy_sample"] = scorer.history[-1]["exact_call_accuracy"]
        metrics["accuracy_curve"] = scorer.history
    trainer.save_model(str(output))  # every process: FSDP and DeepSpeed gather the weights; only rank 0 writes
    if not trainer.is_world_process_zero():
        return output
    write_manifest(output, script, training, model_args, pack, train_records, validation_records, metrics)
    if use_wandb:
        log_artifacts(script, model_args, output)
    if script.merge:
        from peft import PeftModel

        assert isinstance(trainer.model, PeftModel)  # use_peft (a default): the trainer wrapped the model
        merged = trainer.model.merge_and_unload()
        merged.save_pretrained(output / "merged")
        tokenizer.save_pretrained(output / "merged")
    if progress is None:
        print(json.dumps({k: v for k, v in metrics.items() if k != "accuracy_curve"}))
    return output


def main(argv: list[str] | None = None) -> None:
    try:
        train(*parse_args(argv, description=__doc__.split("\n\n")[0]))
    except ConfigError as error:  # a base model or adapter that cannot be used: one line, no traceback
        sys.exit(f"finetune.py: {error}")


if __name__ == "__main__":
    main()
