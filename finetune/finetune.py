"""Fine-tune a router: LoRA SFT with trl on the ``training_data.py -t`` dataset.

CPU (the default): fp32 LoRA of the embedded SmolLM2-135M-Instruct. CUDA: QLoRA (4-bit NF4,
double quantization, bf16 compute) of any hub causal LM, e.g. Mistral-7B-Instruct; several GPUs
through ``accelerate launch finetune/finetune.py ...``. Loss is on the completion (the call)
only, and prompts come from ``assistant.prompting``, the function the runtime serves with.

    python finetune/finetune.py --data dataset/training_data.json --output-dir runs/router
    python finetune/finetune.py --config finetune/configs/smollm2-cpu.yaml --resume
"""

from __future__ import annotations

if __package__ in (None, ""):  # run as a script: make the repository importable
    import sys
    from pathlib import Path as _Path

    sys.path.insert(0, str(_Path(__file__).resolve().parent.parent))

import argparse
import dataclasses
import json
import os
import platform
import random
import time
from pathlib import Path
from typing import Any

from assistant.decoding import CallMatcher, TorchEngine
from assistant.files import write_atomically
from assistant.models import resolve_base_model
from assistant.pack import SkillPack, load_pack
from assistant.prompting import load_template, render_completion, render_prompt
from assistant.router import MANIFEST, LocalRouter
from finetune.config import TrainConfig, add_arguments, build_config
from finetune.records import Record, file_sha256, read_records


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="YAML file of options; flags override it")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return build_config(args.config, args)
    except (ValueError, TypeError) as error:
        parser.error(str(error))
        raise


def wandb_enabled(config: TrainConfig) -> bool:
    """W&B online with a key, offline when WANDB_MODE=offline, otherwise off."""
    if config.report_to != "auto":
        return config.report_to == "wandb"
    mode = os.environ.get("WANDB_MODE", "")
    return mode != "disabled" and (bool(os.environ.get("WANDB_API_KEY")) or mode == "offline")


def to_examples(records: list[Record], pack: SkillPack, config: TrainConfig) -> list[dict[str, str]]:
    template = load_template(config.template)
    lines = pack.prompt_lines() if config.list_skills else None
    return [
        {"prompt": render_prompt(template, r.user, lines), "completion": render_completion(template, r.call)}
        for r in records
    ]


def load_model(config: TrainConfig) -> tuple[Any, Any, bool]:
    """(model, tokenizer, on_cuda): 4-bit QLoRA base on CUDA, fp32 on CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    path = resolve_base_model(config.base_model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not torch.cuda.is_available():
        return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32), tokenizer, False
    from accelerate import PartialState
    from peft import prepare_model_for_kbit_training

    quantization = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    model = AutoModelForCausalLM.from_pretrained(
        path, quantization_config=quantization, dtype=torch.bfloat16, device_map={"": PartialState().process_index}
    )
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=True), tokenizer, True


class CallAccuracy:
    """Generates calls for held-out utterances under the grammar and scores them (exact match)."""

    def __init__(self, records: list[Record], pack: SkillPack, tokenizer: Any, config: TrainConfig):
        self.records = random.Random(config.seed).sample(records, min(config.eval_samples, len(records)))
        self.pack, self.tokenizer, self.config = pack, tokenizer, config
        self.calls = CallMatcher(tokenizer, pack)
        self.history: list[dict[str, Any]] = []

    def __call__(self, model: Any, step: int) -> dict[str, Any]:
        was_training = model.training
        model.eval()
        router = LocalRouter(self.pack, self.tokenizer, TorchEngine(model, self.calls), self.calls,
                             load_template(self.config.template), self.config.list_skills)
        rows = []
        for record in self.records:
            routed = router.route(record.user)
            rows.append((record.user, str(record.call), str(routed.call or ""), routed.call == record.call))
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
            print(f"step {state.global_step}: exact-call accuracy {result['exact_call_accuracy']:.3f} "
                  f"on {len(result['samples'])} held-out utterances")
            if use_wandb:
                import wandb

                if wandb.run is not None:
                    table = wandb.Table(columns=["user", "expected", "predicted", "correct"], data=result["samples"])
                    wandb.log({"eval/exact_call_accuracy": result["exact_call_accuracy"],
                               "eval/predictions": table, "train/global_step": state.global_step})

    return CallAccuracyCallback()


def last_eval_loss(state: Any) -> float | None:
    """The eval loss logged at the final step, if there was an evaluation there (saves a second one)."""
    for entry in reversed(state.log_history):
        if "eval_loss" in entry:
            return entry["eval_loss"] if entry.get("step") == state.global_step else None
    return None


def write_manifest(folder: Path, config: TrainConfig, pack: SkillPack, train: list[Record], test: list[Record],
                   metrics: dict[str, Any]) -> None:
    manifest = {
        "base_model": config.base_model,
        "template": config.template,
        "list_skills": config.list_skills,
        "signatures": pack.signatures(),
        "dataset": {"path": config.data, "sha256": file_sha256(config.data), "train": len(train), "validation": len(test)},
        "config": dataclasses.asdict(config),
        "metrics": metrics,
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count()},
    }
    write_atomically(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def log_artifacts(config: TrainConfig, adapter_dir: Path) -> None:
    import wandb

    if wandb.run is None:
        return
    dataset = wandb.Artifact("training-data", type="dataset")
    dataset.add_file(config.data)
    wandb.run.log_artifact(dataset)
    model = wandb.Artifact("router-adapter", type="model", metadata={"base_model": config.base_model})
    model.add_dir(str(adapter_dir))
    wandb.run.log_artifact(model)


def sft_arguments(config: TrainConfig, output: Path, on_cuda: bool, has_eval: bool, use_wandb: bool) -> Any:
    """trl's SFTConfig for this run: completion-only loss, length-grouped batches, fp32 LoRA on CPU."""
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(output),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=config.warmup_ratio,
        logging_steps=config.logging_steps,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=3,
        seed=config.seed,
        max_length=config.max_length,
        bf16=on_cuda,
        gradient_checkpointing=on_cuda,
        report_to=["wandb"] if use_wandb else [],
        run_name=output.name,
        completion_only_loss=True,
        prediction_loss_only=True,
        train_sampling_strategy="group_by_length",
        dataloader_num_workers=0,
        use_cpu=not on_cuda,
    )


def lora_config(config: TrainConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules[0] if config.target_modules == ["all-linear"] else config.target_modules,
        task_type="CAUSAL_LM",
    )


def train(config: TrainConfig) -> Path:
    """Train, save the adapter with its manifest into ``output_dir``, and return that folder."""
    from datasets import Dataset
    from transformers.trainer_utils import get_last_checkpoint

    from finetune.fast import CompletionOnlySFTTrainer

    pack = load_pack(config.skills)
    train_records = read_records(config.data, pack, "train")
    validation_records = read_records(config.eval_data or config.data, pack, "validation")
    if not train_records:
        raise SystemExit(f"{config.data}: no records with split 'train'")
    model, tokenizer, on_cuda = load_model(config)
    train_examples = to_examples(train_records, pack, config)
    longest = max(len(tokenizer(e["prompt"] + e["completion"]).input_ids) for e in train_examples)
    if longest > config.max_length:
        raise SystemExit(f"max_length={config.max_length} is shorter than the longest training example "
                         f"({longest} tokens, prompt included): raise --max-length")
    use_wandb = wandb_enabled(config)
    if use_wandb:
        os.environ.setdefault("WANDB_PROJECT", config.wandb_project)
        if config.wandb_entity:
            os.environ.setdefault("WANDB_ENTITY", config.wandb_entity)
    output = Path(config.output_dir)
    has_eval = bool(validation_records)
    sft = sft_arguments(config, output, on_cuda, has_eval, use_wandb)
    scorer = CallAccuracy(validation_records, pack, tokenizer, config) if has_eval and config.eval_samples > 0 else None
    trainer = CompletionOnlySFTTrainer(
        model=model,
        args=sft,
        train_dataset=Dataset.from_list(train_examples),
        eval_dataset=Dataset.from_list(to_examples(validation_records, pack, config)) if has_eval else None,
        processing_class=tokenizer,
        peft_config=lora_config(config),
        callbacks=[make_callback(scorer, use_wandb)] if scorer else None,
    )
    checkpoint = get_last_checkpoint(str(output)) if config.resume and output.is_dir() else None
    if config.resume:
        print(f"resuming from {checkpoint}" if checkpoint else f"--resume: no checkpoint in {output}; starting afresh")
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=checkpoint)
    seconds = time.perf_counter() - start
    metrics: dict[str, Any] = {"train_loss": result.training_loss, "train_seconds": round(seconds, 1),
                               "steps": trainer.state.global_step, "device": "cuda" if on_cuda else "cpu"}
    if has_eval:
        metrics["eval_loss"] = last_eval_loss(trainer.state) or trainer.evaluate()["eval_loss"]
    if scorer and scorer.history:
        metrics["exact_call_accuracy_sample"] = scorer.history[-1]["exact_call_accuracy"]
        metrics["accuracy_curve"] = scorer.history
    if not trainer.is_world_process_zero():
        return output
    trainer.save_model(str(output))
    write_manifest(output, config, pack, train_records, validation_records, metrics)
    if use_wandb:
        log_artifacts(config, output)
    if config.merge:
        merged = trainer.model.merge_and_unload()
        merged.save_pretrained(output / "merged")
        tokenizer.save_pretrained(output / "merged")
    print(json.dumps({k: v for k, v in metrics.items() if k != "accuracy_curve"}))
    return output


def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
