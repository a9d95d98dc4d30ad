"""``voxroute learn``: teach a trained router a new or changed skill in minutes, by training its adapter on.

``make router`` trains a router from scratch (42 to 60 minutes on 2 cores); this continues one (the
router in use: ``[router] adapter``, else the shipped one) for some tens of steps on

* every training record ``training_data.py -t`` makes of the given example files (written examples,
  template sentences, compounds and follow-ups), repeated or sampled to ``new_share`` of the rows
  trained on, and
* a seeded sample of the training records the pack's other example files make, replayed so that the
  router keeps what it knew. They are rebuilt from the example files (5 to 10 s for the default pack),
  not read from a committed data set: that works for any pack (``--skills``, ``--examples``) and for an
  installed voxroute, which ships no data set, and it replays the example files as they are now.

A sentence of another file that the given files' own sentences now answer (the instant path's matcher over
the given files: "set an alarm for seven", which was ``cant_do()``, once an alarm skill's template says
it) is relabelled with the new call before anything is composed of it, so neither the replay nor a
compound teaches the old label. A given file replaces the pack's file of the same name.

The adapter, its manifest (the whole pack's signatures, so the runtime loads it without a warning) and
the data set trained on (``learn_data.json``) are written to the output folder, by default ``router`` in
the user data folder, made private to the user. A checkpoint is saved every ``save_steps`` steps; ``resume``
continues from the newest, and a finished learn removes them. The runtime's first-load work (merging the
adapter, the CTranslate2 conversion) is done here too, so the first ``voxroute say`` is fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shlex
import shutil
import time
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from assistant.errors import VoxrouteError
from assistant.files import write_atomically
from assistant.runtime.example_files import Example, ExamplesError, read_example_files
from assistant.runtime.pack import SkillPack
from assistant.runtime.templates import TemplateError
from finetune.arguments import fraction, positive

# 80 steps of 8 rows, chosen on the new skills' validation sentences of the learn benchmark's pack: 80 and 120
# steps (a share of 0.3) were 27 and 29 right of 45 (compounds most), and a step took 1.8 to 2.1 s on 2 cores,
# so 120 steps made the whole command 4.8 minutes and 80 steps 3.5, with room under 5 minutes on a slower day.
STEPS = 80
BATCH = 8
LEARNING_RATE = 5e-4
# Of the rows trained on, the given files'; the rest is replay. Chosen on validation sentences of the learn
# benchmark's pack at 80 steps: 0.15 against 0.3 kept the other skills' sentences right 88.7 % against 85.0 % (300)
# with the new skills' 29 against 27 of 45 (a larger share taught "how many bones are in ..." as a conversion).
NEW_SHARE = 0.15
SAVE_STEPS = 40  # a checkpoint about every minute on 2 cores
VALIDATION_FRACTION = TEST_FRACTION = 0.1  # -t's defaults: the given files' held-out sentences stay held out
DATA = "learn_data.json"
CHECKPOINTS = "checkpoint-*"
INTERRUPTED = 130  # the exit status of a command stopped by Ctrl+C


class LearnError(VoxrouteError, ValueError):
    """What learn cannot start with (an adapter that is no LoRA adapter, a folder not its own); one line."""


@dataclass(frozen=True)
class Settings:
    """How much to train, and on what mixture."""

    steps: int = STEPS
    batch: int = BATCH
    learning_rate: float = LEARNING_RATE
    new_share: float = NEW_SHARE
    seed: int = 0
    save_steps: int = SAVE_STEPS


@dataclass(frozen=True)
class LearnSet:
    """The records trained on, and what they were made of."""

    records: list[dict[str, Any]]
    skills: tuple[str, ...]  # the skills of the given files
    new: int  # distinct training records of those skills
    replayed: int
    relabelled: tuple[tuple[str, str, str], ...]  # (sentence, its call before, its call now)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """learn's own options; the command line adds the pack's, the config file and ``--adapter``, ``--engine``."""
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="EXAMPLE_FILE",
        help="the example files of the new or changed skills (<skill>_examples.txt), each in place of the pack's "
        "file of its name",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FOLDER",
        help=f"where the adapter, its manifest and the data set go (default: {default_output()}, private to the user)",
    )
    parser.add_argument(
        "--steps",
        type=positive(int),
        default=STEPS,
        help="training steps (default: %(default)s, about 2.5 min on 2 cores)",
    )
    parser.add_argument("--batch-size", type=positive(int), default=BATCH, help="rows a step (default: %(default)s)")
    parser.add_argument(
        "--learning-rate",
        type=positive(float),
        default=LEARNING_RATE,
        help="peak learning rate (default: %(default)s)",
    )
    parser.add_argument(
        "--new-share",
        type=fraction,
        default=NEW_SHARE,
        help="share of the rows trained on that are the given files' sentences, repeated or sampled to it; the rest "
        "replays the pack's other sentences (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the data set and the replay sample (default: 0)")
    parser.add_argument(
        "--save-steps",
        type=positive(int),
        default=SAVE_STEPS,
        help="a checkpoint every this many steps, for --resume (default: %(default)s, about a minute on 2 cores)",
    )
    parser.add_argument(
        "--exclude",
        type=Path,
        nargs="+",
        default=[],
        metavar="FILE",
        help="evaluation files (JSON/JSONL of {user, call}) whose utterances are never trained on, as for "
        "training_data.py -t --exclude",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from the newest complete checkpoint in --out (after Ctrl+C)"
    )


def how_to_use(output: Path, adapter_setting: str | None, config_file: Path) -> str:
    """What to do for the runtime to use the adapter learned into ``output``: nothing, where the config names it
    already; else the line for the config file, as TOML (a JSON string is a TOML basic string)."""
    if adapter_setting and Path(adapter_setting).expanduser().resolve() == output.resolve():
        return f"voxroute uses it: [router] adapter in {config_file} names it."
    return (
        f"To use it, put this line in the [router] section of {config_file} (voxroute config shows the file):\n"
        f"adapter = {json.dumps(str(output.resolve()))}\n"
        f"or give a command --adapter {shlex.quote(str(output))}"
    )


def default_output() -> Path:
    """Where learn writes unless told: ``router`` in the user data folder (``~/.local/share/voxroute`` on Linux)."""
    return Path(platformdirs.user_data_dir("voxroute")) / "router"


def learning_set(pack: SkillPack, files: list[Path], settings: Settings, exclude: Collection[str] = ()) -> LearnSet:
    """The records to train on (see the module docstring); ExamplesError (file:line) for a file that cannot be read.

    ``exclude``: utterance keys never trained on (the evaluation sets, as ``-t --exclude`` reads them)."""
    records, skills, relabelled = relabelled_dataset(pack, files, settings.seed, exclude)

    def teaches(record: dict[str, Any]) -> bool:
        return any(call.name in skills for call in pack.parse_calls(record["call"]))

    new = [record for record in records if record["split"] == "train" and teaches(record)]
    if not new:
        names = ", ".join(str(path) for path in files)
        raise ExamplesError([f"{names}: no training examples of {', '.join(skills)} (write examples or templates)"])
    pool = [record for record in records if record["split"] == "train" and not teaches(record)]
    validation = [record for record in records if record["split"] == "validation" and teaches(record)]
    rng = random.Random(f"{settings.seed}:learn")
    rows = settings.steps * settings.batch
    wanted = max(1, round(settings.new_share * rows))
    replay = rng.sample(pool, min(rows - wanted, len(pool)))
    return LearnSet([*share(new, wanted, rng), *replay, *validation], skills, len(new), len(replay), relabelled)


def relabelled_dataset(
    pack: SkillPack, files: list[Path], seed: int, exclude: Collection[str] = ()
) -> tuple[list[dict[str, Any]], tuple[str, ...], tuple[tuple[str, str, str], ...]]:
    """The data set ``-t`` makes of the pack's example files with ``files`` in place of their namesakes, each
    sentence of another file that the instant matcher of ``files`` answers relabelled with its call; the skills of
    ``files``; and the sentences relabelled, as (sentence, its call before, its call now)."""
    from assistant.routing.instant import InstantMatcher
    from finetune.training_data import build_dataset, ordered_paths

    given = {path.name for path in files}
    paths = ordered_paths([*(path for path in pack.example_files() if path.name not in given), *files])
    example_files = read_example_files(paths, pack)
    new_files = [example_file for example_file in example_files if example_file.path.name in given]
    try:
        matcher = InstantMatcher(pack, new_files, vocabulary=example_files)
    except TemplateError as error:
        raise ExamplesError([str(error)]) from None
    relabelled: dict[str, tuple[str, str, str]] = {}

    def relabel(example: Example) -> Example:
        """The new call of another file's sentence that the given files now answer."""
        if Path(example.file).name in given:
            return example
        calls = matcher.match(example.user)
        if calls is None or calls == example.calls:
            return example
        relabelled.setdefault(example.user, (example.user, str(example.calls), str(calls)))
        return dataclasses.replace(example, calls=calls)

    records, _ = build_dataset(
        example_files, pack, VALIDATION_FRACTION, TEST_FRACTION, seed, exclude=exclude, relabel=relabel
    )
    return records, tuple(sorted({f.skill for f in new_files})), tuple(relabelled.values())


def share(new: list[dict[str, Any]], wanted: int, rng: random.Random) -> list[dict[str, Any]]:
    """``wanted`` rows of the new records: all of them repeated as often as that takes; where there are more, the
    single sentences first (the files' own: written and from templates), then a sample of what was composed."""
    if len(new) <= wanted:
        copies, rest = divmod(wanted, len(new))
        return [*new * copies, *rng.sample(new, rest)]
    singles = [record for record in new if "kind" not in record]
    composed = [record for record in new if "kind" in record]
    if len(singles) >= wanted:
        return rng.sample(singles, wanted)
    return [*singles, *rng.sample(composed, wanted - len(singles))]


def progress_callback(bar: Progress, task: Any) -> Any:
    """A TrainerCallback that moves ``task`` of ``bar`` with the steps and shows the loss."""
    from transformers import TrainerCallback

    class LearnProgress(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            # reset: a resumed run starts at its checkpoint's step, and its time estimate starts afresh
            bar.reset(task, total=state.max_steps, completed=state.global_step, description="learning")

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            bar.update(task, completed=state.global_step)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs and "loss" in logs:
                bar.update(task, loss=f"loss {logs['loss']:.3f}")

    return LearnProgress()


@contextmanager
def timed(spent: dict[str, float], phase: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        spent[phase] = time.perf_counter() - start


def learn(
    pack: SkillPack,
    skills_module: str,
    files: list[Path],
    adapter: Path,
    output: Path,
    settings: Settings,
    console: Console,
    *,
    resume: bool = False,
    engine: str = "ctranslate2",
    exclude: Collection[Path] = (),
) -> Path:
    """Teach the router of ``adapter`` the skills of ``files``, into ``output`` (see the module docstring).

    ``skills_module`` names ``pack``'s module, for the trainer and the manifest; ``exclude``, evaluation files
    whose utterances are never trained on. LearnError, ExamplesError or UnusableModel (one line each) when
    something given cannot be used; KeyboardInterrupt passes through."""
    from assistant.models import cache_dir
    from assistant.routing.decoding import convert_to_ctranslate2
    from assistant.routing.router import ADAPTER_CONFIG, SHIPPED_ADAPTER, RouterSpec, merged_model_dir
    from finetune.training_data import evaluation_keys

    if not (adapter / ADAPTER_CONFIG).is_file():
        raise LearnError(f"{adapter}: no LoRA adapter (adapter_config.json) to continue (--adapter, [router] adapter)")
    if output.resolve() == SHIPPED_ADAPTER.resolve():
        raise LearnError(f"{output} is the shipped router, which `make router` rebuilds: learn into another --out")
    spec = RouterSpec.for_adapter(adapter)
    outside = [
        path for path in files if pack.examples_dir is None or path.parent.resolve() != pack.examples_dir.resolve()
    ]
    for path in outside:
        console.print(
            f"[yellow]{escape(str(path))} is not in the pack's examples folder: the instant path will not answer "
            "its sentences (move it there, or give that folder as --examples)[/yellow]"
        )
    spent: dict[str, float] = {}
    with timed(spent, "data"), console.status("building the data set"):
        try:
            keys = evaluation_keys(exclude, pack)
        except ValueError as error:  # names the file and record
            raise LearnError(f"--exclude: {error}") from None
        learned = learning_set(pack, files, settings, keys)
    before = Counter(call for _, call, _ in learned.relabelled)
    relabelled = ", ".join(f"{count} {call}" for call, count in before.most_common())
    console.print(
        f"learning {', '.join(learned.skills)}: {learned.new} training sentences of it, "
        f"{learned.replayed} of the pack's others replayed"
        + (f"; sentences it now answers relabelled: {escape(relabelled)}" if relabelled else ""),
        highlight=False,
    )
    try:
        from finetune.config import parse_args
        from finetune.finetune import train
    except ModuleNotFoundError as error:
        raise LearnError(
            f"voxroute learn needs the training libraries ({error.name}): pip install 'voxroute[train]'"
        ) from error
    prepare_output(output, resume, console)
    write_atomically(output / DATA, json.dumps(learned.records, ensure_ascii=False, indent=1) + "\n")
    script, training, model_args = parse_args(
        [
            *("--data", str(output / DATA), "--output_dir", str(output), "--skills", skills_module),
            *("--model_name_or_path", spec.base_model, "--template", spec.template),
            *("--list_skills", str(spec.list_skills).lower(), "--init_adapter", str(adapter)),
            *("--max_steps", str(settings.steps), "--per_device_train_batch_size", str(settings.batch)),
            *("--learning_rate", str(settings.learning_rate), "--seed", str(settings.seed)),
            *("--save_steps", str(settings.save_steps), "--save_total_limit", "2", "--logging_steps", "10"),
            *("--eval_strategy", "no", "--eval_samples", "0", "--report_to", "none", "--disable_tqdm", "true"),
            *("--load_in_4bit", "false", "--use_bnb_nested_quant", "false"),  # the router is small: no QLoRA
            *(["--resume"] if resume else []),
        ]
    )
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[loss]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with timed(spent, "training"), Progress(*columns, console=console) as bar:
        task = bar.add_task("loading the router", total=settings.steps, loss="")
        train(script, training, model_args, progress=progress_callback(bar, task))
    for checkpoint in output.glob(CHECKPOINTS):
        shutil.rmtree(checkpoint)
    with timed(spent, "runtime"), console.status("merging and converting for the runtime"):
        merged = merged_model_dir(spec.base_model, output)
        if engine == "ctranslate2":
            convert_to_ctranslate2(merged, cache_dir())
    console.print(
        f"learned in {sum(spent.values()) / 60:.1f} min (data set {spent['data']:.0f} s, training "
        f"{spent['training']:.0f} s, merging and conversion {spent['runtime']:.0f} s): {escape(str(output))}",
        highlight=False,
    )
    return output


def prepare_output(output: Path, resume: bool, console: Console) -> None:
    """The output folder, made private to the user when learn makes it. Without ``resume``, checkpoints of an
    unfinished learn there are removed (training starts afresh); checkpoints learn did not write stop it."""
    if not output.exists():
        output.mkdir(mode=0o700, parents=True)
    checkpoints = sorted(output.glob(CHECKPOINTS))
    if resume or not checkpoints:
        return
    if not (output / DATA).is_file():
        raise LearnError(f"{output} holds checkpoints that voxroute learn did not write: learn into another --out")
    for checkpoint in checkpoints:
        shutil.rmtree(checkpoint)
    console.print(
        f"starting afresh: removed {', '.join(p.name for p in checkpoints)} of an unfinished learn "
        "(--resume continues one)",
        highlight=False,
    )
