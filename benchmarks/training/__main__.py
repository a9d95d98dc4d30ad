"""Training throughput on this machine: ``python -m benchmarks.training``.

Trains the same LoRA on the same data with the same settings twice in one process: trl's plain
``SFTTrainer`` (random batches, the output layer at every position) and voxroute's step
(length-grouped batches, the output layer only at the call's positions; finetune/shared_prefix.py). Reports
examples per second after a warm-up, the ratio, the validation loss each reaches, and the
physical floor: the FLOPs one example needs against the matmul FLOP/s measured in the same run.
Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant import load_pack
from assistant.files import write_atomically
from assistant.models import resolve_base_model
from finetune.config import parse_args
from finetune.finetune import load_model, to_examples, training_template
from finetune.records import read_records

OUT = Path(__file__).resolve().parent / "results.json"


class StepClock:
    """Wall-clock time of every optimizer step."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def callback(self) -> Any:
        from transformers import TrainerCallback

        clock = self

        class Record(TrainerCallback):
            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                clock.times.append(time.perf_counter())

        return Record()


def matmul_flops(seconds: float = 2.0) -> float:
    """FLOP/s of fp32 matmuls of the model's shapes (batch of 400 tokens x 576 x 1536) on all threads."""
    import torch

    a, b = torch.randn(400, 576), torch.randn(576, 1536)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * 400 * 576 * 1536 * count / (time.perf_counter() - start)


def run(
    variant: str,
    flags: list[str],
    train: list[dict[str, str]],
    validation: list[dict[str, str]],
    steps: int,
    warmup: int,
) -> dict[str, Any]:
    """One variant's throughput: trl's plain SFTTrainer on random batches, or voxroute's step."""
    import torch
    from datasets import Dataset
    from trl import SFTTrainer, get_peft_config  # type: ignore[attr-defined]  # trl re-exports lazily, not "as X"

    from finetune.shared_prefix import CompletionOnlySFTTrainer

    with tempfile.TemporaryDirectory() as scratch:
        plain = ["--train_sampling_strategy", "random"] if variant == "plain" else []
        _, args, model_args = parse_args(
            [
                *flags,
                "--output_dir",
                scratch,
                "--max_steps",
                str(steps),
                "--eval_strategy",
                "no",
                "--save_strategy",
                "no",
                "--report_to",
                "none",
                *plain,
            ]
        )
        torch.manual_seed(args.seed)
        model, tokenizer = load_model(model_args, args.gradient_checkpointing)
        trainer_class = SFTTrainer if variant == "plain" else CompletionOnlySFTTrainer
        clock = StepClock()
        trainer = trainer_class(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(train),
            eval_dataset=Dataset.from_list(validation),
            processing_class=tokenizer,
            peft_config=get_peft_config(model_args),
            callbacks=[clock.callback()],
        )
        trainer.train()
        validation_loss = trainer.evaluate()["eval_loss"]
    timed = clock.times[warmup:]
    seconds_per_step = (timed[-1] - timed[0]) / (len(timed) - 1)
    return {
        "variant": variant,
        "steps": steps,
        "seconds_per_step": seconds_per_step,
        "examples_per_second": args.per_device_train_batch_size / seconds_per_step,
        "validation_loss": validation_loss,
    }


def floor(base_model: str, train: list[dict[str, str]], flops: float) -> dict[str, float]:
    """FLOPs per example with LoRA (forward, and a backward for activations only: about 2x forward)."""
    from transformers import AutoConfig, AutoTokenizer

    path = resolve_base_model(base_model)
    model_config, tokenizer = AutoConfig.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    head = model_config.vocab_size * model_config.hidden_size
    layer = (
        2 * model_config.hidden_size**2
        + 2
        * model_config.hidden_size
        * model_config.hidden_size
        // model_config.num_attention_heads
        * model_config.num_key_value_heads
        + 3 * model_config.hidden_size * model_config.intermediate_size
    )
    body = layer * model_config.num_hidden_layers
    tokens = statistics.fmean(len(tokenizer(e["prompt"] + e["completion"]).input_ids) for e in train)
    completion = statistics.fmean(len(tokenizer(e["completion"]).input_ids) for e in train)
    every_position = 4 * (body + head) * tokens
    labelled_only = 4 * body * tokens + 4 * head * completion
    return {
        "tokens_per_example": tokens,
        "completion_tokens_per_example": completion,
        "gflop_per_example_every_position": every_position / 1e9,
        "gflop_per_example_labelled_only": labelled_only / 1e9,
        "measured_gflops": flops / 1e9,
        "floor_examples_per_second": flops / labelled_only,
    }


def main(argv: list[str] | None = None) -> int:
    from transformers import AutoTokenizer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", default="dataset/training_data.json", help="-t data set (train and validation splits)"
    )
    parser.add_argument("--config", default="finetune/configs/router-smollm2-cpu.yaml", help="training config (YAML)")
    parser.add_argument("--steps", type=int, default=24, help="optimizer steps per variant (default: 24)")
    parser.add_argument("--warmup", type=int, default=4, help="steps left out of the timing (default: 4)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"JSON results (default: {OUT})")
    args = parser.parse_args(argv)
    flags = ["--config", args.config, "--data", args.data]
    script, training, model_args = parse_args(flags)
    assert model_args.model_name_or_path is not None  # the config, or finetune's defaults, names the base model
    pack = load_pack(script.skills)
    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model(model_args.model_name_or_path))
    template = training_template(script.template, tokenizer)
    train = to_examples(read_records(script.data, pack, "train"), pack, script, template)
    validation = to_examples(read_records(script.data, pack, "validation"), pack, script, template)
    results = [run(variant, flags, train, validation, args.steps, args.warmup) for variant in ("plain", "fast")]
    physical = floor(model_args.model_name_or_path, train, matmul_flops())
    ratio = results[1]["examples_per_second"] / results[0]["examples_per_second"]
    batch = training.per_device_train_batch_size
    table = Table(title=f"training throughput, {args.steps} steps of {batch} (first {args.warmup} untimed)")
    for column in ("trainer", "s/step", "examples/s", "validation loss"):
        table.add_column(column, justify="left" if column == "trainer" else "right")
    for row in results:
        table.add_row(
            row["variant"],
            f"{row['seconds_per_step']:.2f}",
            f"{row['examples_per_second']:.2f}",
            f"{row['validation_loss']:.4f}",
        )
    table.add_row("ratio fast/plain", "", f"{ratio:.2f}x", "")
    table.add_row(
        "physical floor",
        "",
        f"{physical['floor_examples_per_second']:.2f}",
        f"{physical['gflop_per_example_labelled_only']:.1f} GFLOP/example at {physical['measured_gflops']:.0f} GFLOP/s",
    )
    Console().print(table)
    report = {
        "results": results,
        "ratio": ratio,
        "floor": physical,
        "load_average": os.getloadavg(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
    }
    write_atomically(args.out, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
