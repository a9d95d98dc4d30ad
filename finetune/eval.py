"""Score a router against a test set: accuracy, argument F1, false activations, latency.

    python finetune/eval.py                                  # the shipped default router
    python finetune/eval.py --model runs/router --data dataset/training_data.json --json-out eval.json
    python finetune/eval.py --checkpoints runs/router        # every checkpoint: the learning curve
    python finetune/eval.py --confirm-curve                  # and what asking before acting would do
    python finetune/eval.py --openai-model gpt-4o-mini       # an OpenAI-compatible endpoint (baseline)
    python finetune/eval.py --model wandb:entity/project/router-adapter:v3 --data wandb:entity/project/test-set:v1

``--model`` (``--model-id``, env MODEL_ID) is an adapter folder, a merged or plain model folder, a
hub id or a ``wandb:`` artifact. ``--prompt`` (env PROMPT) names a template (``tokenizer``: the
model's own chat template), ``--prompt-file`` (env PROMPT_FILE) is a template file; both override
the adapter's manifest.
"""

from __future__ import annotations

if __package__ in (None, ""):  # run as a script: make the repository importable
    import sys
    from pathlib import Path as _Path

    sys.path.insert(0, str(_Path(__file__).resolve().parent.parent))

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import track
from rich.table import Table

from assistant.config import Config, RouterConfig
from assistant.errors import VoxrouteError
from assistant.files import write_atomically
from assistant.pipeline import asked_first
from assistant.routing.router import (
    SHIPPED_ADAPTER,
    OpenAIRouter,
    Router,
    is_trained_folder,
    load_local_router,
)
from assistant.runtime.context import SkillContext, use_context
from assistant.runtime.example_files import utterance_key
from assistant.runtime.pack import SkillPack, load_pack
from assistant.runtime.resolution import resolved_key
from finetune.metrics import Prediction, confirm_curve, score
from finetune.records import Record, read_records

console = Console(stderr=True)
WANDB_PREFIX = "wandb:"


class EvalError(VoxrouteError, RuntimeError):
    """A model or test set that cannot be used; the message says why."""


def fetch_wandb_artifact(reference: str) -> Path:
    """Download a W&B artifact (``wandb:entity/project/name:version``) and return its folder."""
    name = reference[len(WANDB_PREFIX) :]
    if os.environ.get("WANDB_MODE") in ("offline", "disabled") or not os.environ.get("WANDB_API_KEY"):
        raise EvalError(
            f"{reference}: W&B artifacts need network access and an API key (WANDB_API_KEY); "
            "offline, pass a local folder or file instead"
        )
    import wandb

    try:
        return Path(wandb.Api().artifact(name).download())
    except Exception as error:  # wandb raises many kinds; all mean the same to the user
        raise EvalError(f"{reference}: cannot download the W&B artifact: {error}") from None


def resolve_data(reference: str) -> Path:
    if not reference.startswith(WANDB_PREFIX):
        return Path(reference)
    folder = fetch_wandb_artifact(reference)
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".json", ".jsonl"))
    if not files:
        raise EvalError(f"{reference}: the artifact holds no .json or .jsonl file")
    return files[0]


def load_test_set(reference: str, pack: SkillPack, split: str) -> list[Record]:
    records = read_records(resolve_data(reference), pack, split)
    if not records:
        raise EvalError(f'{reference}: no {split} records (records with "split": "{split}", or a plain list)')
    return records


def unseen_by(records: list[Record], data_sets: list[str], pack: SkillPack) -> list[Record]:
    """``records`` less those whose utterance one of ``data_sets`` holds: a model continued from an adapter
    was trained on that adapter's data set too, which may hold rows an evaluation file set aside later."""
    seen = {utterance_key(record.user) for path in data_sets for record in read_records(path, pack)}
    unseen = [record for record in records if utterance_key(record.user) not in seen]
    if not unseen:
        raise EvalError(f"every record is in {', '.join(data_sets)}: nothing left to score")
    left_out = len(records) - len(unseen)
    console.print(f"{left_out} of {len(records)} records left out: in {', '.join(data_sets)}", soft_wrap=True)
    return unseen


def build_router(args: argparse.Namespace, pack: SkillPack) -> Router:
    if args.openai_model:
        return OpenAIRouter(pack, RouterConfig(backend="openai", model=args.openai_model, base_url=args.base_url))
    model = args.model
    if model and model.startswith(WANDB_PREFIX):
        model = str(fetch_wandb_artifact(model))
    template = args.prompt_file or args.prompt
    if model is None:
        adapter, base = SHIPPED_ADAPTER, None
    elif is_trained_folder(Path(model)):
        adapter, base = Path(model), None  # a trained folder: its manifest says base, template and prompt
    else:
        adapter, base = None, model
    return load_local_router(
        pack, adapter, base_model=base, template=template, list_skills=args.list_skills, engine=args.engine
    )


def evaluate(
    router: Router, records: list[Record], pack: SkillPack, label: str = "routing", curve: bool = False
) -> dict[str, Any]:
    """Route every record and score the calls, resolving arguments under the default configuration; with
    ``curve``, also the trade-off of asking before acting (``confirm_curve``)."""
    predictions = []
    with use_context(SkillContext(Config())):
        for record in track(records, description=label, console=console, transient=True):
            routed = router.route(record.user, record.context)
            # strict=False: the router may predict more or fewer calls than expected; the pairs at a place are compared
            pairs = zip(routed.calls, record.calls, strict=False)
            same = tuple(resolved_key(pack, p) == resolved_key(pack, e) for p, e in pairs)
            predictions.append(
                Prediction(
                    record.user,
                    record.calls,
                    routed.calls,
                    routed.error is None,
                    routed.latency_ms,
                    routed.text,
                    same,
                    routed.confidence,
                    bool(asked_first(pack, routed.calls)),
                )
            )
    metrics = score(predictions)
    if curve:
        metrics["confirm_curve"] = confirm_curve(predictions)
    return metrics


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def print_report(metrics: dict[str, Any], title: str) -> None:
    out = Console()
    summary = Table(title=title)
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    for key in (
        "n",
        "parse_rate",
        "skill_accuracy",
        "exact_call_accuracy",
        "resolved_call_accuracy",
        "per_call_accuracy",
        "argument_precision",
        "argument_recall",
        "argument_f1",
        "false_activation_rate",
        "refused_overheard_rate",
        "missed_command_rate",
        "acted_on_cant_do_rate",
    ):
        value = metrics[key]
        interval = metrics.get(f"{key}_ci95")
        summary.add_row(
            key,
            str(value)
            if key == "n"
            else _pct(value) + (f" ({_pct(interval[0])}–{_pct(interval[1])})" if interval else ""),
        )
    for key in ("latency_ms_p50", "latency_ms_p95"):
        summary.add_row(key, "-" if metrics[key] is None else f"{metrics[key]:.0f} ms")
    out.print(summary)
    per_skill = Table(title="per skill")
    for column in ("skill", "n", "skill accuracy", "exact call", "resolved call", "most confused with"):
        per_skill.add_column(column, justify="left" if column in ("skill", "most confused with") else "right")
    for name, row in metrics["per_skill"].items():
        wrong = {k: v for k, v in metrics["confusion"][name].items() if k != name}
        confused = ", ".join(f"{k} ({v})" for k, v in sorted(wrong.items(), key=lambda kv: -kv[1])[:2])
        per_skill.add_row(
            name,
            str(row["n"]),
            _pct(row["skill_accuracy"]),
            _pct(row["exact_call_accuracy"]),
            _pct(row["resolved_call_accuracy"]),
            confused,
        )
    out.print(per_skill)


def print_confirm_curve(rows: list[dict[str, Any]], title: str) -> None:
    """The trade-off of ``[router] confirm_below``: the more actions asked about, the fewer wrong ones taken."""
    table = Table(title=title)
    for column in ("confirm_below", "actions asked", "wrong actions left (of all)", "right actions asked"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            f"{row['threshold']:.4g}",
            f"{row['asked']} ({_pct(row['asked_rate'])})",
            f"{row['wrong_actions_left']} ({_pct(row['wrong_actions_left_rate'])})",
            f"{row['right_actions_asked']} ({_pct(row['right_actions_asked_rate'])})",
        )
    Console().print(table)


def log_to_wandb(metrics: dict[str, Any], project: str, config: dict[str, Any]) -> None:
    """Start a W&B eval run and log the metrics and a predictions table to it."""
    import wandb

    run = wandb.init(project=project, job_type="eval", config=config)
    run.log({f"eval/{k}": v for k, v in metrics.items() if isinstance(v, (int, float)) and v is not None})
    rows = [[p["user"], p["expected"], p["predicted"], p["correct"], p["latency_ms"]] for p in metrics["predictions"]]
    run.log(
        {"eval/predictions": wandb.Table(columns=["user", "expected", "predicted", "correct", "latency_ms"], data=rows)}
    )
    run.finish()


def checkpoint_curve(args: argparse.Namespace, pack: SkillPack, records: list[Record]) -> list[dict[str, Any]]:
    """Evaluate every ``checkpoint-N`` folder of a training run, in step order."""
    folders = sorted(Path(args.checkpoints).glob("checkpoint-*"), key=lambda p: int(re.sub(r"\D", "", p.name) or 0))
    if not folders:
        raise EvalError(f"{args.checkpoints}: no checkpoint-* folders")
    curve = []
    for folder in folders:
        args.model = str(folder)
        metrics = evaluate(build_router(args, pack), records, pack, folder.name)
        curve.append(
            {
                "checkpoint": folder.name,
                "step": int(re.sub(r"\D", "", folder.name)),
                **{
                    k: metrics[k]
                    for k in (
                        "parse_rate",
                        "skill_accuracy",
                        "exact_call_accuracy",
                        "resolved_call_accuracy",
                        "argument_f1",
                        "false_activation_rate",
                        "latency_ms_p50",
                    )
                },
            }
        )
    table = Table(title=f"checkpoints of {args.checkpoints}")
    for column in ("step", "parse", "skill", "exact call", "resolved call", "argument F1", "false activation"):
        table.add_column(column, justify="right")
    for row in curve:
        table.add_row(
            str(row["step"]),
            _pct(row["parse_rate"]),
            _pct(row["skill_accuracy"]),
            _pct(row["exact_call_accuracy"]),
            _pct(row["resolved_call_accuracy"]),
            _pct(row["argument_f1"]),
            _pct(row["false_activation_rate"]),
        )
    Console().print(table)
    return curve


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        "--model-id",
        default=os.environ.get("MODEL_ID"),
        help="adapter folder, model folder, hub id or wandb: artifact (default: the shipped router)",
    )
    parser.add_argument(
        "--data",
        default="dataset/training_data.json",
        help="-t JSON (its --split), JSON/JSONL of {user, call}, or a wandb: artifact",
    )
    parser.add_argument(
        "--split",
        choices=("validation", "test"),
        default="validation",
        help="which held-out split of a -t data set to score: choose settings on validation, "
        "report test once at the end (default: validation; plain lists are read whole)",
    )
    parser.add_argument(
        "--prompt",
        default=os.environ.get("PROMPT"),
        help="prompt template name (tokenizer: the model's own chat template)",
    )
    parser.add_argument("--prompt-file", default=os.environ.get("PROMPT_FILE"), help="prompt template file")
    parser.add_argument(
        "--list-skills",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="list the skills in the prompt (default: as the adapter was trained)",
    )
    parser.add_argument("--engine", choices=("ctranslate2", "transformers"), default="ctranslate2")
    parser.add_argument("--openai-model", help="evaluate an OpenAI-compatible endpoint with this model instead")
    parser.add_argument("--base-url", default=os.environ.get("OPENAI_BASE_URL"), help="endpoint for --openai-model")
    parser.add_argument("--skills", default="skills", help="the skill pack's module")
    parser.add_argument("--checkpoints", help="evaluate every checkpoint-* folder of this training run")
    parser.add_argument("--limit", type=int, help="evaluate only the first N test records")
    parser.add_argument(
        "--unseen-by",
        nargs="+",
        metavar="DATA",
        help="score only the records whose utterance none of these data sets holds (those each stage of the "
        "model trained on, when an evaluation file is younger than a stage)",
    )
    parser.add_argument(
        "--confirm-curve",
        action="store_true",
        help="also print and write (confirm_curve) what asking before acting would do at each [router] "
        "confirm_below: actions asked about, wrong actions left, right actions asked about",
    )
    parser.add_argument("--json-out", help="write the metrics and predictions to this JSON file")
    parser.add_argument(
        "--report-to",
        choices=("auto", "wandb", "none"),
        default="auto",
        help="log to a W&B eval run; auto: when WANDB_API_KEY is set or WANDB_MODE=offline",
    )
    parser.add_argument("--wandb-project", default="voxroute", help="W&B project of the eval run (default: voxroute)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        pack = load_pack(args.skills)
        records = load_test_set(args.data, pack, args.split)
        if args.unseen_by:
            records = unseen_by(records, args.unseen_by, pack)
        records = records[: args.limit]
        if args.checkpoints and args.confirm_curve:
            raise EvalError("--confirm-curve scores one model: leave out --checkpoints")
        if args.checkpoints:
            result: Any = {"curve": checkpoint_curve(args, pack, records)}
        else:
            result = evaluate(build_router(args, pack), records, pack, curve=args.confirm_curve)
            title = f"{args.openai_model or args.model or 'shipped router'} on {args.data}"
            print_report(result, title)
            if args.confirm_curve:
                print_confirm_curve(result["confirm_curve"], f"asking before acting: {title}")
            from finetune.config import wandb_configured

            if args.report_to == "wandb" or (args.report_to == "auto" and wandb_configured()):
                log_to_wandb(
                    result,
                    args.wandb_project,
                    {
                        "model": args.openai_model or args.model or "shipped router",
                        "data": args.data,
                        "split": args.split,
                        "skills": args.skills,
                    },
                )
    except (EvalError, ValueError, OSError) as error:
        console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)  # one line
        return 1
    if args.json_out:
        write_atomically(args.json_out, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
