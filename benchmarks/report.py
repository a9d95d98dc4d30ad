"""Result tables written from the benchmarks' JSON files: ``python -m benchmarks.report``.

README.md and docs/*.md hold their measurements only between marker comments,
``<!-- results:NAME -->`` and ``<!-- /results:NAME -->``; this command renders each NAME's table from
the result files and writes it there, so that no number is copied by hand and none drifts from the
file it came from. ``--check`` writes nothing and exits 1 naming each block that differs from what
the result files give (tests/test_report.py runs it on the committed files).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.config import ConfigError, read_small_text
from assistant.files import write_atomically
from benchmarks import INDEPENDENT_SETS

ROOT = Path(__file__).resolve().parent.parent
MAX_RESULTS_BYTES = 16 << 20  # 16 MiB; the largest result file (the real-time rows) has 290 kB
MAX_DOCUMENT_BYTES = 1 << 20  # a README or a page of docs/; the longest has about 20 kB
COMMAND = "python -m benchmarks.report"
BLOCK = re.compile(r"<!-- results:([a-z0-9-]+) -->\n(.*?)<!-- /results:\1 -->", re.DOTALL)
MARKER = re.compile(r"<!-- (/?)results:(\S*) -->")

# The result files, by what they measure.
FILES = {
    "test": "models/router/eval.json",
    "massive": "models/router/eval_massive.json",
    "release": "models/router/manifest.json",
    "dialogue": "benchmarks/dialogue/results.json",
    "latency": "benchmarks/latency/results.json",
    "realtime": "benchmarks/latency/results_realtime.json",
    "turn-end": "benchmarks/latency/results_turn_end.json",
    "steps": "benchmarks/latency/results_steps.json",
    "snips": "benchmarks/snips/results.json",
    "barista": "benchmarks/barista/results.json",
    "barista-settings": "benchmarks/barista/results_settings.json",
    "barista-paired": "benchmarks/barista/results_paired.json",
    "barista-quiet": "benchmarks/barista/results_quiet.json",
    "readings": "benchmarks/readings/results.json",
    "soak": "benchmarks/soak/results.json",
    "training": "benchmarks/training/results.json",
    "learn": "benchmarks/learn/results.json",
}
# The dialogue benchmark's sets, named for a reader.
SET_NAMES = {
    "single": "single commands",
    "single, after an unrelated turn": "single commands after an unrelated turn",
    "compound": "compound: 2-3 commands in one sentence",
    "follow-up": "follow-ups",
    "timers": "timer commands of every kind",
}
# The names above of the independent sets' files (benchmarks/router/*.jsonl), by file stem.
SET_FILES = {file: name for name, file in INDEPENDENT_SETS.items()}
TURN_END_CASES = {
    "whole": "whole command (finished is right)",
    "cut, unfinished": "cut before its last value (finished is premature)",
    "cut, looks finished": "cut before a phrase, the first part a request itself",
}
WEAKEST_SLOTS = 10  # SNIPS slots listed, lowest F1 first


class ReportError(Exception):
    """A result file or a document that cannot be used, told in one line naming it."""


# One way to write each kind of number.
def pct(share: float) -> str:
    return f"{100 * share:.1f} %"


def interval(pair: list[float]) -> str:
    if len(pair) != 2:
        raise ValueError(f"an interval of {len(pair)} numbers")
    return f"{100 * pair[0]:.1f}–{100 * pair[1]:.1f}"


def ms(value: float) -> str:
    return f"{value:,.0f} ms"


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def times(value: float) -> str:
    return f"{value:.2f}×"


def count(value: float) -> str:
    return f"{value:,.0f}"


@dataclass(frozen=True)
class Result:
    """One result file's JSON, whose fields are looked up by path so that a missing one is named."""

    name: str
    data: Any

    def get(self, *keys: str) -> Any:
        value = self.data
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                raise ReportError(f"{self.name}: no field {'.'.join(keys)!r}")
            value = value[key]
        return value

    def number(self, *keys: str) -> float:
        value = self.get(*keys)
        if not _is_number(value):
            raise ReportError(f"{self.name}: {'.'.join(keys)} is {value!r}, not a number")
        return value

    def numbers(self, *keys: str) -> list[float]:
        value = self.get(*keys)
        if not isinstance(value, list) or not all(_is_number(item) for item in value):
            raise ReportError(f"{self.name}: {'.'.join(keys)} is not a list of numbers")
        return value

    def table(self, *keys: str) -> dict[str, Any]:
        value = self.get(*keys)
        if not isinstance(value, dict):
            raise ReportError(f"{self.name}: {'.'.join(keys)} is not an object")
        return value

    def pct(self, *keys: str) -> str:
        return pct(self.number(*keys))

    def with_interval(self, *keys: str) -> str:
        """A share and its 95 % interval, stored beside it as ``<key>_ci95``."""
        *path, key = keys
        return f"{self.pct(*keys)} ({interval(self.numbers(*path, key + '_ci95'))})"

    def load(self, *keys: str) -> str:
        return f"{self.numbers(*keys)[0]:.1f}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class Results:
    """The result files under ``root``, each read once and only when a block asks for it."""

    root: Path
    read: dict[str, Result] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Result:
        if key not in self.read:
            self.read[key] = Result(FILES[key], load_json(self.root / FILES[key], FILES[key]))
        return self.read[key]


def load_json(path: Path, name: str) -> Any:
    try:
        text = read_small_text(path, MAX_RESULTS_BYTES)
    except FileNotFoundError:
        raise ReportError(f"{name}: missing") from None
    except ConfigError as error:
        raise ReportError(str(error)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(f"{name}:{error.lineno}: not valid JSON: {error.msg}") from None
    except RecursionError:
        raise ReportError(f"{name}: not valid JSON: nested too deeply") from None


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines)


def source(*results: Result, where: str = "") -> str:
    """The closing line of a block: the files it came from and the machine they were measured on."""
    files = ", ".join(f"`{result.name}`" for result in results)
    return f"\n\n<sub>From {files}{'; ' + where if where else ''}. Written by `{COMMAND}`.</sub>"


def machine(result: Result) -> str:
    """The machine a result was measured on, as far as the file records it."""
    parts = [f"{count(result.number('machine', 'cpus'))} CPUs"]
    if "load_average_before" in result.table("machine"):
        parts.append(
            f"load average {result.load('machine', 'load_average_before')} → "
            f"{result.load('machine', 'load_average_after')}"
        )
    elif "load_average" in result.table("machine"):
        parts.append(f"load average {result.load('machine', 'load_average')}")
    elif "load_average" in result.data:
        parts.append(f"load average {result.load('load_average')}")
    return ", ".join(parts)


def dialogue_sets(dialogue: Result) -> list[tuple[str, str, str]]:
    """(result key, router, set named for a reader) of each row of the dialogue benchmark."""
    rows = []
    for key in dialogue.table("results"):
        label, _, name = key.partition(" | ")
        rows.append((key, label, SET_NAMES.get(name, name)))
    return rows


# The tables, by block name.
def published_means(barista: Result) -> str:
    """The two best published engines' kitchen means: "Picovoice Rhino 98.1 %, Microsoft LUIS 90.6 %"."""
    means = {}
    for engine in barista.table("published_kitchen"):
        rates = barista.numbers("published_kitchen", engine)
        means[engine] = sum(rates) / len(rates)
    best = sorted(means, key=means.__getitem__, reverse=True)[:2]
    return ", ".join(f"{engine} {means[engine]:.1f} %" for engine in best)


def headline_table(results: Results) -> str:
    """One line per benchmark: the number a newcomer asks for first."""
    test, dialogue, latency = results["test"], results["dialogue"], results["latency"]
    realtime, snips, soak, training = results["realtime"], results["snips"], results["soak"], results["training"]
    barista, learn, massive, readings = results["barista"], results["learn"], results["massive"], results["readings"]
    steps = results["steps"]
    variants = list(readings.table("independent", "variants"))
    talk = test.table("confusion", "other")
    if not all(_is_number(value) for value in talk.values()):
        raise ReportError(f"{test.name}: confusion.other holds something that is not a count")
    acted = sum(talk.values()) - talk.get("other", 0) - talk.get("cant_do", 0)  # a refusal is no action
    loops = [name for name in realtime.table("summary") if name != "today"]
    if not loops:
        raise ReportError(f"{realtime.name}: summary has no listening loop but today's")
    rows = [
        (
            test,
            "talk not meant for the assistant acted on (test split)",
            f"{test.pct('false_activation_rate')} ({count(acted)} of {count(sum(talk.values()))})",
        ),
        (
            massive,
            f"crowd-sourced requests (MASSIVE test, {count(massive.number('n'))}): right where a skill serves them / "
            "acted on where none can",
            f"{massive.with_interval('served_accuracy')} / {massive.with_interval('acted_on_cant_do_rate')}",
        ),
        (
            dialogue,
            "whole commands called finished / cut ones called unfinished",
            f"{dialogue.pct('finished', 'whole_called_finished')} of {count(dialogue.number('finished', 'whole_n'))} / "
            f"{dialogue.pct('finished', 'cut_called_unfinished')} of {count(dialogue.number('finished', 'cut_n'))}",
        ),
        (
            dialogue,
            "routing with the previous turn, against without (p50)",
            times(dialogue.number("latency_with_previous_turn", "ratio_p50")),
        ),
        (
            latency,
            "end of speech → call ready (bundled recordings, p50)",
            ms(latency.number("end_of_speech_to_dispatch_ms", "p50")),
        ),
        (
            steps,
            f"routing to the first call, guesses from the pack's examples checked / decoded a token at a time "
            f"({count(steps.number('utterances'))} typed commands, p50)",
            f"{ms(steps.number('drafted_to_first_call_ms', 'p50'))} / {ms(steps.number('to_first_call_ms', 'p50'))} "
            f"({times(steps.number('drafted_ratio_p50'))}; {count(steps.number('same_calls'))} of "
            f"{count(steps.number('utterances'))} the same calls)",
        ),
        (
            realtime,
            "last word → first skill called, listening ahead / waiting out the silence (p50)",
            f"{ms(realtime.number('summary', loops[0], 'p50_ms'))} / "
            f"{ms(realtime.number('summary', 'today', 'p50_ms'))}",
        ),
        (
            readings,
            f"{count(readings.number('independent', 'n'))} spoken commands (espeak-ng) doing what was asked: "
            "Whisper's best reading / a sentence of the pack among its readings",
            " / ".join(readings.pct("independent", "variants", name, "same_action_rate") for name in variants),
        ),
        (
            barista,
            f"{count(barista.number('recordings'))} real recorded coffee orders right, clean / kitchen noise 6-24 dB "
            f"(published: {published_means(barista)})",
            f"{barista.pct('conditions', 'clean', 'all', 'rate')} / {barista.pct('kitchen_mean', 'all')}",
        ),
        (
            snips,
            "SNIPS test: intent / slot F1 / exact frame",
            f"{snips.pct('intent_accuracy')} / {snips.pct('slot_f1')} / {snips.pct('exact_frame_accuracy')}",
        ),
        (
            soak,
            "soak: turns, failures, memory growth after warm-up",
            f"{count(soak.number('turns'))}, {count(soak.number('failures'))}, "
            f"{soak.pct('rss_mb', 'growth_after_warmup')}",
        ),
        (training, "training step, examples per second against trl's plain step", times(training.number("ratio"))),
        (
            learn,
            f"two new skills' held-out phrasings right: at once / after {learn.number('learn_s') / 60:.1f} minutes "
            "of `voxroute learn`",
            f"{learn.pct('instant_before_learning', 'accuracy')} / "
            f"{learn.pct('heldout_after', 'new_skills', 'accuracy')}",
        ),
    ]
    table = markdown(["measure", "result", "file"], [[name, value, f"`{result.name}`"] for result, name, value in rows])
    return f"{table}\n\n<sub>Written by `{COMMAND}`.</sub>"


def router_table(results: Results) -> str:
    """The shipped router on the test split and the independent sets, and the router before several commands."""
    test, dialogue = results["test"], results["dialogue"]
    rows = [
        [
            "test split (written single commands)",
            count(test.number("n")),
            f"**{test.pct('resolved_call_accuracy')}** ({interval(test.numbers('resolved_call_accuracy_ci95'))})",
            test.pct("exact_call_accuracy"),
            test.pct("per_call_accuracy"),
        ]
    ]
    for key, label, name in dialogue_sets(dialogue):
        if label == "before":
            name = f"{name}: the router before several commands and follow-ups (same run)"
        elif label != "this router":
            name = f"{name} ({label})"
        rows.append(
            [
                name,
                count(dialogue.number("results", key, "n")),
                f"**{dialogue.pct('results', key, 'resolved_call_accuracy')}** "
                f"({interval(dialogue.numbers('results', key, 'resolved_call_accuracy_ci95'))})",
                dialogue.pct("results", key, "exact_call_accuracy"),
                dialogue.pct("results", key, "per_call_accuracy"),
            ]
        )
    header = ["set", "n", "all calls right, resolved (95 % interval)", "exact", "per call"]
    return markdown(header, rows) + source(test, dialogue, where=machine(dialogue))


def dialogue_table(results: Results) -> str:
    """Every independent set with both accuracies and their intervals, the routing time, and the turn judgements."""
    dialogue = results["dialogue"]
    rows = [
        [
            label,
            name,
            count(dialogue.number("results", key, "n")),
            dialogue.with_interval("results", key, "exact_call_accuracy"),
            dialogue.with_interval("results", key, "resolved_call_accuracy"),
            dialogue.pct("results", key, "per_call_accuracy"),
            ms(dialogue.number("results", key, "latency_ms_p50")),
            ms(dialogue.number("results", key, "latency_ms_p95")),
        ]
        for key, label, name in dialogue_sets(dialogue)
    ]
    header = ["router", "set", "n", "exact (95 %)", "resolved (95 %)", "per call", "route p50", "route p95"]
    cost = "latency_with_previous_turn"
    lines = [
        f"Asked whether a request is finished: {dialogue.pct('finished', 'whole_called_finished')} of "
        f"{count(dialogue.number('finished', 'whole_n'))} whole commands called finished "
        f"({interval(dialogue.numbers('finished', 'whole_ci95'))}), "
        f"{dialogue.pct('finished', 'cut_called_unfinished')} of {count(dialogue.number('finished', 'cut_n'))} "
        f"cut before their last spoken value called unfinished ({interval(dialogue.numbers('finished', 'cut_ci95'))}).",
        f"Routing a single command after its previous turn takes {times(dialogue.number(cost, 'ratio_p50'))} the "
        f"time of routing it alone ({times(dialogue.number(cost, 'ratio_p50_unprepared'))} without preparing the "
        f"turn; median of {count(dialogue.number(cost, 'pairs'))} pairs of {count(dialogue.number(cost, 'of'))}).",
    ]
    return markdown(header, rows) + "\n\n" + "\n".join(lines) + source(dialogue, where=machine(dialogue))


def test_split_table(results: Results) -> str:
    """The test split's summary metrics, then each skill's."""
    test = results["test"]
    summary = [
        ["parse rate", test.pct("parse_rate")],
        ["right skill", test.pct("skill_accuracy")],
        ["exact call (95 %)", test.with_interval("exact_call_accuracy")],
        ["resolved call (95 %)", test.with_interval("resolved_call_accuracy")],
        [
            "argument precision / recall / F1",
            f"{test.pct('argument_precision')} / {test.pct('argument_recall')} / {test.pct('argument_f1')}",
        ],
        ["false activation (talk acted on)", test.pct("false_activation_rate")],
        ["missed commands (taken for talk)", test.pct("missed_command_rate")],
        ["routing p50 / p95", f"{ms(test.number('latency_ms_p50'))} / {ms(test.number('latency_ms_p95'))}"],
    ]
    skills = [
        [
            f"`{name}`",
            count(test.number("per_skill", name, "n")),
            *(
                test.pct("per_skill", name, key)
                for key in ("skill_accuracy", "exact_call_accuracy", "resolved_call_accuracy")
            ),
        ]
        for name in test.table("per_skill")
    ]
    return (
        markdown([f"test split, {count(test.number('n'))} utterances", "result"], summary)
        + "\n\n"
        + markdown(["skill", "n", "right skill", "exact", "resolved"], skills)
        + source(test)
    )


def release_table(results: Results) -> str:
    """How the shipped router was trained, as its manifest records it."""
    release = results["release"]
    curve = release.get("metrics", "accuracy_curve")
    if not isinstance(curve, list) or not all(isinstance(point, dict) for point in curve):
        raise ReportError(f"{release.name}: metrics.accuracy_curve is not a list of objects")
    lora = [release.number("config", key) for key in ("lora_r", "lora_alpha", "lora_dropout")]
    rows = [
        ["base model, prompt template", f"{release.get('base_model')}, {release.get('template')}"],
        *_first_stage(release),
        [
            "data set",
            f"sha256 `{str(release.get('dataset', 'sha256'))[:12]}…`: "
            f"{count(release.number('dataset', 'train'))} training and "
            f"{count(release.number('dataset', 'validation'))} validation records",
        ],
        [
            "LoRA",
            f"r={lora[0]:g}, alpha={lora[1]:g}, dropout {lora[2]:g}, {release.get('config', 'lora_target_modules')}",
        ],
        [
            "steps × batch, learning rate",
            f"{count(release.number('metrics', 'steps'))} × "
            f"{count(release.number('config', 'per_device_train_batch_size'))}, "
            f"{release.number('config', 'learning_rate'):g} ({release.get('config', 'lr_scheduler_type')})",
        ],
        [
            "training time",
            f"{release.number('metrics', 'train_seconds') / 60:.0f} min on "
            f"{count(release.number('machine', 'cpus'))} CPUs ({release.get('metrics', 'device')})",
        ],
        ["final validation loss", f"{release.number('metrics', 'eval_loss'):.3f}"],
        [
            "exact calls on validation samples, by step",
            ", ".join(f"{count(point['step'])}: {pct(point['exact_call_accuracy'])}" for point in curve),
        ],
    ]
    return markdown(["shipped router", ""], rows) + source(release)


def _first_stage(release: Result) -> list[list[str]]:
    """The training a continued router went on from, as its manifest's ``continued_from`` records it."""
    if "continued_from" not in release.data:
        return []
    first = ("continued_from",)
    return [
        [
            "continued from",
            f"`{release.get(*first, 'adapter')}`: {count(release.number(*first, 'metrics', 'steps'))} × "
            f"{count(release.number(*first, 'config', 'per_device_train_batch_size'))}, "
            f"{release.number(*first, 'config', 'learning_rate'):g} "
            f"({release.get(*first, 'config', 'lr_scheduler_type')}), "
            f"{release.number(*first, 'metrics', 'train_seconds') / 60:.0f} min, on data set sha256 "
            f"`{str(release.get(*first, 'dataset', 'sha256'))[:12]}…` "
            f"({count(release.number(*first, 'dataset', 'train'))} training records)",
        ]
    ]


def latency_table(results: Results) -> str:
    """Each stage of the pipeline on the bundled recordings, and the plain generate baseline beside it."""
    latency = results["latency"]
    stages = {
        "speech recognition": "stt_ms",
        "router, grammar-checked": "route_ms",
        "router without span markers (one grammar)": "route_ms_without_spans",
        "compiling the span grammar": "span_grammar_compile_ms",
        "end of speech → call ready for dispatch": "end_of_speech_to_dispatch_ms",
        "plain `generate` baseline": "baseline_generate_ms",
    }
    rates = {"router tokens per second": "router_tokens_per_s", "baseline tokens per second": "baseline_tokens_per_s"}
    rows = [["recording length", *(f"{latency.number('audio_seconds', p):.1f} s" for p in ("p50", "p95"))]]
    rows += [[name, *(ms(latency.number(key, p)) for p in ("p50", "p95"))] for name, key in stages.items()]
    rows += [[name, *(f"{latency.number(key, p):.1f}" for p in ("p50", "p95"))] for name, key in rates.items()]
    rows += [
        ["router speed-up over the baseline (p50s)", times(latency.number("router_speedup_p50")), ""],
        ["WER on the bundled commands", latency.pct("wer"), ""],
        [
            "calls as expected",
            f"{count(latency.number('calls_as_expected'))} of {count(latency.number('n_commands'))}",
            "",
        ],
        [
            "peak RSS: runtime / with the baseline loaded",
            f"{count(latency.number('peak_rss_mb_runtime'))} MB / "
            f"{count(latency.number('peak_rss_mb_with_baseline'))} MB",
            "",
        ],
    ]
    where = f"{machine(latency)}, {count(latency.number('repeats'))} repeats"
    return markdown(["stage", "p50", "p95"], rows) + source(latency, where=where)


def steps_table(results: Results) -> str:
    """Decode steps on the typed independent sets, and routing with guessed calls checked first, in one run."""
    steps = results["steps"]
    first_call = {
        "route start → first call, decoded a token at a time": "to_first_call_ms",
        "route start → first call, guesses checked first": "drafted_to_first_call_ms",
    }
    rows = [[name, ms(steps.number(key, "p50")), ms(steps.number(key, "p95"))] for name, key in first_call.items()]
    rows += [
        ["ratio of the p50s", times(steps.number("drafted_ratio_p50")), ""],
        ["the same calls both ways", f"{count(steps.number('same_calls'))} of {count(steps.number('utterances'))}", ""],
        ["tokens taken from checked guesses", steps.pct("drafted_tokens_share"), ""],
        ["tokens decoded per command", f"{steps.number('tokens_per_call'):.1f}", ""],
        ["of them forced by the grammar", steps.pct("forced_share"), ""],
    ]
    where = f"load average {steps.load('load_average')}"
    return markdown(["measure", "p50", "p95"], rows) + source(steps, where=where)


def realtime_table(results: Results) -> str:
    """The listening loops fed recordings in real time: last word → first skill called."""
    realtime = results["realtime"]
    rows = []
    for loop in realtime.table("summary"):

        def get(key: str, loop: str = loop) -> float:
            return realtime.number("summary", loop, key)

        rows.append(
            [
                f"`{loop}`",
                count(get("measured")),
                ms(get("p50_ms")),
                ms(get("p95_ms")),
                ms(get("max_ms")),
                times(get("p50_ratio_to_today")),
                f"{count(get('premature'))} of {count(get('with_pause'))}",
                count(get("answered_part")),
                pct(get("wer")),
                f"{count(get('correct'))} of {count(get('n'))}",
                f"{count(get('same_action'))} of {count(get('n'))}",
                f"{count(get('misses_misheard'))} of {count(get('n') - get('same_action'))}",
            ]
        )
    header = [
        "loop",
        "n",
        "p50",
        "p95",
        "max",
        "p50 ÷ today",
        "cut off (paused)",
        "first part answered",
        "WER",
        "calls right",
        "same action",
        "misses misheard",
    ]
    return markdown(header, rows) + source(realtime, where=machine(realtime))


def turn_end_table(results: Results) -> str:
    """How often each judge calls a recording finished, whole and cut at a pause."""
    turn_end = results["turn-end"]
    summary = turn_end.table("summary")
    judges = list(turn_end.table("summary", next(iter(summary)))) if summary else []
    rows = [
        [
            TURN_END_CASES.get(case, case),
            count(turn_end.number("summary", case, judges[0], "n")),
            *(turn_end.pct("summary", case, judge, "share") for judge in judges),
        ]
        for case in summary
    ]
    timings = ", ".join(
        f"{name} {ms(turn_end.number('judgement_ms_p50', name))}" for name in turn_end.table("judgement_ms_p50")
    )
    return (
        markdown(["audio", "n", *judges], rows)
        + f"\n\nPer judgement p50: {timings}."
        + source(turn_end, where=machine(turn_end))
    )


def snips_table(results: Results) -> str:
    """SNIPS test scores, each intent's exact frames and the weakest slots."""
    snips = results["snips"]
    scores = [
        [
            snips.pct("intent_accuracy"),
            snips.pct("slot_precision"),
            snips.pct("slot_recall"),
            snips.pct("slot_f1"),
            snips.pct("exact_frame_accuracy"),
            count(snips.number("n")),
            count(snips.number("unparseable")),
        ]
    ]
    intents = [
        [name, count(snips.number("per_intent", name, "n")), snips.pct("per_intent", name, "exact_frame_accuracy")]
        for name in snips.table("per_intent")
    ]
    slots = sorted(snips.table("per_slot"), key=lambda name: (snips.number("per_slot", name, "f1"), name))
    weakest = [
        [
            f"`{name}`",
            snips.pct("per_slot", name, "f1"),
            *(
                count(snips.number("per_slot", name, key))
                for key in ("true_positives", "false_positives", "false_negatives")
            ),
        ]
        for name in slots[:WEAKEST_SLOTS]
    ]
    return (
        markdown(["intent", "slot precision", "slot recall", "slot F1", "exact frame", "n", "unparseable"], scores)
        + "\n\n"
        + markdown(["intent", "n", "exact frame"], intents)
        + "\n\n"
        + markdown(["weakest slots", "F1", "right", "wrong", "missed"], weakest)
        + source(snips)
    )


def barista_table(results: Results) -> str:
    """Command acceptance on the recorded coffee orders, clean and per kitchen SNR, beside the published engines."""
    barista = results["barista"]
    conditions = list(barista.table("conditions"))
    noisy = [condition for condition in conditions if condition != "clean"]
    header = ["engine", *(condition.removeprefix("kitchen ") for condition in conditions), "kitchen mean"]
    parts = {"all": f"voxroute, all {count(barista.number('recordings'))}", "report": "voxroute, four fifths"}
    rows = [
        [
            label,
            *(barista.with_interval("conditions", condition, part, "rate") for condition in conditions),
            barista.pct("kitchen_mean", part),
        ]
        for part, label in parts.items()
    ]
    published = barista.table("published_kitchen")
    snrs = [condition.removeprefix("kitchen ").removesuffix(" dB") for condition in noisy]
    for engine in published:
        rates = barista.numbers("published_kitchen", engine)
        by_snr = dict(zip(["6", "9", "12", "15", "18", "21", "24"], rates, strict=True))
        rows.append([engine, "", *(f"{by_snr[snr]} %" for snr in snrs), f"{sum(rates) / len(rates):.1f} %"])
    blame = [
        [
            condition,
            count(barista.number("conditions", condition, "all", "errors")),
            count(barista.number("conditions", condition, "all", "recogniser_errors")),
            count(barista.number("conditions", condition, "all", "instant")),
        ]
        for condition in conditions
    ]
    settings = barista.table("settings")
    note = (
        f"Recogniser context {settings.get('stt_context')!s}, vocabulary prompt "
        f"{'on' if settings.get('stt_vocabulary') else 'off'}"
        + (
            f" (trusted from a mean log-probability of {settings['stt_prompt_floor']:g})"
            if settings.get("stt_vocabulary") and "stt_prompt_floor" in settings
            else ""
        )
        + "; per recording p50 recognition "
        f"{ms(barista.number('stt_ms_p50'))}, routing "
        + " and ".join(f"{ms(barista.number('route_ms_p50', path))} ({path})" for path in barista.table("route_ms_p50"))
        + ". Noise alone: "
        f"{count(barista.number('noise_only', 'orders'))} orders from {count(barista.number('noise_only', 'clips'))} "
        "clips."
    )
    return (
        markdown(header, rows)
        + "\n\n"
        + markdown(
            ["condition", "errors", "the recogniser's (a slot phrase not heard)", "answered by the pack's sentences"],
            blame,
        )
        + "\n\n"
        + note
        + source(barista, where=machine(barista))
    )


def barista_settings_table(results: Results) -> str:
    """The variants tried on the fixed fifth of the recordings that settings are chosen on."""
    tried = results["barista-settings"]
    variants = list(tried.table("variants"))
    if not variants:
        raise ReportError(f"{tried.name}: no variants")
    measured = {variant: tried.table("variants", variant, "conditions") for variant in variants}
    conditions = list(dict.fromkeys(condition for each in measured.values() for condition in each))
    rows = []
    for variant in variants:
        rows.append(
            [
                variant,
                *(
                    tried.with_interval("variants", variant, "conditions", c, "settings", "rate")
                    if c in measured[variant]
                    else ""
                    for c in conditions
                ),
                ms(tried.number("variants", variant, "stt_ms_p50")),
                tried.load("variants", variant, "machine", "load_average_before"),
            ]
        )
    header = ["router, recogniser", *conditions, "recognition p50", "load average"]
    return markdown(header, rows) + source(tried)


def barista_paired_table(results: Results) -> str:
    """Pairs of recogniser settings on the same recordings: the paired difference per condition."""
    paired = results["barista-paired"]
    rows = []
    for pair in paired.table("comparisons"):
        note = paired.table("comparisons", pair).get("note")
        label = f"`{paired.get('comparisons', pair, 'first')}` - `{paired.get('comparisons', pair, 'second')}`"
        for condition in paired.table("comparisons", pair, "conditions"):
            measured = ("comparisons", pair, "conditions", condition)
            low, high = paired.numbers(*measured, "difference_ci95")
            first_ms, second_ms = paired.numbers(*measured, "stt_ms_p50")
            rows.append(
                [
                    label + (f" ({note})" if note else ""),
                    condition,
                    count(paired.number(*measured, "n")),
                    f"{100 * paired.number(*measured, 'difference'):+.1f} points",
                    f"{100 * low:+.1f} to {100 * high:+.1f}",
                    f"{ms(first_ms)} / {ms(second_ms)}",
                ]
            )
    header = ["first - second", "condition", "recordings", "difference", "95 % interval", "recognition p50, each"]
    return markdown(header, rows) + source(paired)


def barista_quiet_table(results: Results) -> str:
    """Clips where no whole order was said, with the vocabulary prompt (as shipped, and always trusted) and
    without it: orders given."""
    quiet = results["barista-quiet"]
    rows = [
        [
            kind,
            count(quiet.number("summary", kind, "clips")),
            *(
                f"{count(quiet.number('summary', kind, variant, 'orders'))} "
                f"({count(quiet.number('summary', kind, variant, 'heard_words'))})"
                for variant in ("prompt", "trusted prompt", "no prompt")
            ),
        ]
        for kind in quiet.table("summary")
    ]
    header = [
        "clips",
        "n",
        "orders with the prompt (words heard)",
        "the prompt always trusted",
        "orders without it (words heard)",
    ]
    return markdown(header, rows) + source(quiet, where=machine(quiet))


def readings_table(results: Results) -> str:
    """Spoken commands for the default pack, heard with Whisper's best reading alone and with the pack's sentences
    choosing among its beam's readings, per set: turns that do what was asked, and talk acted on."""
    readings = results["readings"]
    rows, lines, machines = [], [], []
    for which in ("validation", "independent"):
        if which not in readings.data:
            continue
        n, talk = readings.number(which, "n"), readings.number(which, "talk")
        for name in readings.table(which, "variants"):
            rows.append(
                [
                    which,
                    name,
                    f"{count(readings.number(which, 'variants', name, 'same_action'))} of {count(n)}",
                    f"{count(readings.number(which, 'variants', name, 'acted_on_talk'))} of {count(talk)}",
                    readings.pct(which, "variants", name, "wer"),
                ]
            )
        low, high = readings.numbers(which, "difference_ci95")
        lines.append(
            f"{which}: {readings.number(which, 'difference') * 100:+.1f} points "
            f"({low * 100:+.1f} to {high * 100:+.1f}, 95 %, paired)"
        )
        machines.append(f"{which}: {machine(Result(readings.name, readings.table(which)))}")
    table = markdown(["commands", "readings", "same action", "acted on talk", "WER"], rows)
    return (
        table
        + "\n\nMore turns right with the readings: "
        + "; ".join(lines)
        + "."
        + source(readings, where="; ".join(machines))
    )


def soak_table(results: Results) -> str:
    """The soak run's turns per kind against each kind's limit, its memory and what it wrote."""
    soak = results["soak"]
    rows = [
        [
            kind,
            count(soak.number("per_kind", kind, "turns")),
            count(soak.number("per_kind", kind, "failures")),
            *(seconds(soak.number("per_kind", kind, key)) for key in ("p50_s", "p95_s", "max_s", "limit_s")),
        ]
        for kind in soak.table("per_kind")
    ]
    rows.append(
        [
            "all",
            count(soak.number("turns")),
            count(soak.number("failures")),
            seconds(soak.number("p50_s")),
            seconds(soak.number("p95_s")),
            "",
            "",
        ]
    )
    outside = soak.get("written_outside_data_folder")
    if not isinstance(outside, list) or not all(isinstance(entry, str) for entry in outside):
        raise ReportError(f"{soak.name}: written_outside_data_folder is not a list of strings")
    names = [Path(entry.rsplit(" ", 2)[0]).name for entry in outside]  # each entry: path, size, modification time
    memory = (
        f"RSS {count(soak.number('rss_mb', 'start_after_warmup'))} MB after "
        f"{count(soak.number('rss_mb', 'warmup_turns'))} warm-up turns, peak "
        f"{count(soak.number('rss_mb', 'peak'))} MB ({soak.pct('rss_mb', 'growth_after_warmup')} growth). "
        f"Files written outside the data folder: {', '.join(f'`{name}`' for name in names) or 'none'}."
    )
    return (
        markdown(["kind", "turns", "failures", "p50", "p95", "max", "limit"], rows)
        + "\n\n"
        + memory
        + source(soak, where=machine(soak))
    )


def training_table(results: Results) -> str:
    """Training throughput of trl's plain step and voxroute's, in one process, and the physical floor."""
    training = results["training"]
    variants = training.get("results")
    if not isinstance(variants, list) or not all(isinstance(row, dict) for row in variants):
        raise ReportError(f"{training.name}: results is not a list of objects")
    rows = [
        [
            str(row["variant"]),
            count(row["steps"]),
            seconds(row["seconds_per_step"]),
            f"{row['examples_per_second']:.2f}",
            f"{row['validation_loss']:.2f}",
        ]
        for row in variants
    ]
    floor = ("floor",)
    line = (
        f"voxroute's step: {times(training.number('ratio'))} the plain step's examples per second. Floor: "
        f"{training.number(*floor, 'tokens_per_example'):.0f} tokens an example, "
        f"{training.number(*floor, 'gflop_per_example_labelled_only'):.1f} GFLOP with the output layer at the "
        f"call's positions only, at {training.number(*floor, 'measured_gflops'):.0f} GFLOP/s measured: "
        f"{training.number(*floor, 'floor_examples_per_second'):.1f} examples per second."
    )
    return (
        markdown(["step", "steps", "per step", "examples/s", "validation loss"], rows)
        + "\n\n"
        + line
        + source(training, where=machine(training))
    )


def learn_table(results: Results) -> str:
    """Two new skills: their held-out phrasings at once and after ``voxroute learn``, and every set before and after."""
    learn = results["learn"]
    instant, learned = ("instant_before_learning",), ("heldout_after", "new_skills")
    rows = [
        [
            f"the new skills' held-out phrasings (n={count(learn.number(*instant, 'n'))})",
            f"{learn.pct(*instant, 'accuracy')} ({interval(learn.numbers(*instant, 'ci95'))}), instant path",
            f"**{learn.pct(*learned, 'accuracy')}** ({interval(learn.numbers(*learned, 'ci95'))})",
        ]
    ]
    for name in learn.table("sets"):
        before, after = (
            learn.with_interval("sets", name, side, "resolved_call_accuracy") for side in ("before", "after")
        )
        relabelled = learn.number("sets", name, "relabelled_for_the_new_skills")
        note = f", {count(relabelled)} relabelled for the new skills" if relabelled else ""
        shown = SET_NAMES.get(SET_FILES.get(name, name), name)
        rows.append([f"{shown} (n={count(learn.number('sets', name, 'after', 'n'))}{note})", before, after])
    line = f"`voxroute learn` on the two example files took {learn.number('learn_s') / 60:.1f} minutes, wall clock."
    return markdown(["set", "before", "after learning"], rows) + "\n\n" + line + source(learn, where=machine(learn))


TABLES: dict[str, Callable[[Results], str]] = {
    "headline": headline_table,
    "router": router_table,
    "dialogue": dialogue_table,
    "test-split": test_split_table,
    "release": release_table,
    "latency": latency_table,
    "steps": steps_table,
    "realtime": realtime_table,
    "turn-end": turn_end_table,
    "snips": snips_table,
    "barista": barista_table,
    "barista-settings": barista_settings_table,
    "barista-paired": barista_paired_table,
    "barista-quiet": barista_quiet_table,
    "readings": readings_table,
    "soak": soak_table,
    "training": training_table,
    "learn": learn_table,
}


def documents(root: Path) -> list[Path]:
    """The files whose blocks are written: the README and every page of docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def render(text: str, name: str, results: Results) -> str:
    """``text`` with every results block rewritten from the result files."""
    check_markers(text, name)

    def block(match: re.Match[str]) -> str:
        key = match.group(1)
        try:
            table = TABLES[key](results)
        except (KeyError, TypeError, ValueError, IndexError) as error:  # a field of another shape than the table's
            raise ReportError(f"{name}: results:{key}: the result files do not fit this table ({error!r})") from None
        return f"<!-- results:{key} -->\n{table}\n<!-- /results:{key} -->"

    return BLOCK.sub(block, text)


def check_markers(text: str, name: str) -> None:
    """Every marker opens a known block that is closed before the next one opens."""
    open_key, open_line = None, 0
    for match in MARKER.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        closing, key = match.group(1) == "/", match.group(2)
        if not closing and key not in TABLES:
            raise ReportError(f"{name}:{line}: unknown results block {key!r}; known: {', '.join(TABLES)}")
        if not closing and open_key is not None:
            raise ReportError(f"{name}:{line}: results:{key} opens inside results:{open_key} (line {open_line})")
        if closing and key != open_key:
            raise ReportError(f"{name}:{line}: /results:{key} closes no open block")
        if not closing and not text.startswith("\n", match.end()):
            raise ReportError(f"{name}:{line}: results:{key} must end its line")
        open_key, open_line = (None, 0) if closing else (key, line)
    if open_key is not None:
        raise ReportError(f"{name}:{open_line}: results:{open_key} is never closed (<!-- /results:{open_key} -->)")


def stale_blocks(old: str, new: str) -> list[str]:
    """The names of the blocks whose text differs between two renderings of one document."""
    before = {match.group(1): match.group(2) for match in BLOCK.finditer(old)}
    return [match.group(1) for match in BLOCK.finditer(new) if before.get(match.group(1)) != match.group(2)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a document's tables differ from the result files",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this one)")
    args = parser.parse_args(argv)
    results = Results(args.root)
    stale = []
    try:
        for path in documents(args.root):
            name = str(path.relative_to(args.root))
            try:
                old = read_small_text(path, MAX_DOCUMENT_BYTES)
            except ConfigError as error:  # names the file
                raise ReportError(str(error)) from None
            except FileNotFoundError:
                raise ReportError(f"{name}: missing") from None
            new = render(old, name, results)
            if new == old:
                continue
            if args.check:
                stale += [f"{name}: results:{key}" for key in stale_blocks(old, new)]
            else:
                write_atomically(path, new)
                print(f"{name}: tables written")
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # writing a document
        print(f"error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 2
    for block in stale:
        print(f"{block} differs from the result files; run {COMMAND}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
