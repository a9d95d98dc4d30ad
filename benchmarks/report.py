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

ROOT = Path(__file__).resolve().parent.parent
MAX_RESULTS_BYTES = 16 << 20  # 16 MiB; the largest result file (the real-time rows) has 290 kB
MAX_DOCUMENT_BYTES = 1 << 20  # a README or a page of docs/; the longest has about 40 kB
COMMAND = "python -m benchmarks.report"
BLOCK = re.compile(r"<!-- results:([a-z0-9-]+) -->\n(.*?)<!-- /results:\1 -->", re.DOTALL)
OPENING = re.compile(r"<!-- (/?)results:([^ ]*) -->")

# Result files, named by what they measure.
FILES = {
    "test": "models/router/eval.json",
    "release": "models/router/manifest.json",
    "dialogue": "benchmarks/dialogue/results.json",
    "latency": "benchmarks/latency/results.json",
    "realtime": "benchmarks/latency/results_realtime.json",
    "turn-end": "benchmarks/latency/results_turn_end.json",
    "snips": "benchmarks/snips/results.json",
    "soak": "benchmarks/soak/results.json",
    "training": "benchmarks/training/results.json",
}
# How the dialogue benchmark's sets are named for a reader.
SET_NAMES = {
    "single": "single commands",
    "single, after an unrelated turn": "single commands after an unrelated turn",
    "compound": "compound: 2-3 commands in one sentence",
    "follow-up": "follow-ups",
    "timers": "timer commands of every kind",
}
WEAKEST_SLOTS = 10  # SNIPS slots listed, lowest F1 first


class ReportError(Exception):
    """A result file or a document that cannot be used, told in one line naming it."""


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
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ReportError(f"{self.name}: {'.'.join(keys)} is {value!r}, not a number")
        return value

    def numbers(self, *keys: str) -> list[float]:
        value = self.get(*keys)
        if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  for v in value):
            raise ReportError(f"{self.name}: {'.'.join(keys)} is {value!r}, not a list of numbers")
        return value

    def table(self, *keys: str) -> dict[str, Any]:
        value = self.get(*keys)
        if not isinstance(value, dict):
            raise ReportError(f"{self.name}: {'.'.join(keys)} is not an object")
        return value


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


# Formatting: one way to write each kind of number.
def pct(share: float) -> str:
    return f"{100 * share:.1f} %"


def interval(pair: list[float]) -> str:
    return f"{100 * pair[0]:.1f}–{100 * pair[1]:.1f}"


def ms(value: float) -> str:
    return f"{value:,.0f} ms"


def times(value: float) -> str:
    return f"{value:.2f}×"


def count(value: float) -> str:
    return f"{value:,.0f}"


def load(values: list[float]) -> str:
    return f"{values[0]:.1f}"


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines)


def source(*keys: str, where: str = "") -> str:
    files = ", ".join(f"`{FILES[key]}`" for key in keys)
    return f"\n\n<sub>From {files}{'; ' + where if where else ''}. Written by `{COMMAND}`.</sub>"


def machine(result: Result) -> str:
    """The machine a result was measured on, from what the file records."""
    parts = [f"{count(result.number('machine', 'cpus'))} CPUs"]
    if "load_average_before" in result.table("machine"):
        before, after = result.numbers("machine", "load_average_before"), result.numbers("machine", "load_average_after")
        parts.append(f"load average {load(before)} → {load(after)}")
    elif isinstance(result.data, dict) and "load_average" in result.data:
        parts.append(f"load average {load(result.numbers('load_average'))}")
    elif "load_average" in result.table("machine"):
        parts.append(f"load average {load(result.numbers('machine', 'load_average'))}")
    return ", ".join(parts)


# The tables, by block name.
def router_table(results: Results) -> str:
    """The shipped router on the test split and on the independent sets, the router before several commands too."""
    test, dialogue = results["test"], results["dialogue"]
    rows = [["test split (written single commands)", count(test.number("n")),
             f"**{pct(test.number('resolved_call_accuracy'))}** ({interval(test.numbers('resolved_call_accuracy_ci95'))})",
             pct(test.number("exact_call_accuracy")), pct(test.number("per_call_accuracy"))]]
    for key in dialogue.table("results"):
        label, _, name = key.partition(" | ")
        row = dialogue.table("results", key)
        title = SET_NAMES.get(name, name)
        if label == "before":
            title = f"{title}: the router before several commands and follow-ups (same run)"
        elif label != "this router":
            title = f"{title} ({label})"
        rows.append([title, count(dialogue.number("results", key, "n")),
                     f"**{pct(row_number(dialogue, key, 'resolved_call_accuracy'))}** "
                     f"({interval(dialogue.numbers('results', key, 'resolved_call_accuracy_ci95'))})",
                     pct(row_number(dialogue, key, "exact_call_accuracy")),
                     pct(row_number(dialogue, key, "per_call_accuracy"))])
    header = ["set", "n", "all calls right, resolved (95 % interval)", "exact", "per call"]
    return markdown(header, rows) + source("test", "dialogue", where=machine_of_dialogue(dialogue))


def row_number(dialogue: Result, key: str, metric: str) -> float:
    return dialogue.number("results", key, metric)


def machine_of_dialogue(dialogue: Result) -> str:
    return f"{count(dialogue.number('machine', 'cpus'))} CPUs, load average {load(dialogue.numbers('machine', 'load_average'))}"


def headline_table(results: Results) -> str:
    """One line per benchmark: the number a newcomer asks for first."""
    test, dialogue, latency = results["test"], results["dialogue"], results["latency"]
    realtime, snips, soak, training = results["realtime"], results["snips"], results["soak"], results["training"]
    talk = test.table("confusion", "other")
    talk_n = sum(talk.values())
    acted = talk_n - talk.get("other", 0)
    new_loop = next(name for name in realtime.table("summary") if name != "today")
    growth = soak.number("rss_mb", "growth_after_warmup")
    rows = [
        ["talk not meant for the assistant acted on (test split)",
         f"{pct(test.number('false_activation_rate'))} ({count(acted)} of {count(talk_n)})", "test"],
        ["whole commands called finished / cut ones called unfinished",
         f"{pct(dialogue.number('finished', 'whole_called_finished'))} of {count(dialogue.number('finished', 'whole_n'))}"
         f" / {pct(dialogue.number('finished', 'cut_called_unfinished'))} of "
         f"{count(dialogue.number('finished', 'cut_n'))}", "dialogue"],
        ["routing with the previous turn, against without (p50)",
         times(dialogue.number("latency_with_previous_turn", "ratio_p50")), "dialogue"],
        ["end of speech → call ready (bundled recordings, p50)",
         ms(latency.number("end_of_speech_to_dispatch_ms", "p50")), "latency"],
        ["last word → first skill called, listening ahead (p50)",
         f"{ms(realtime.number('summary', new_loop, 'p50_ms'))}, "
         f"{times(realtime.number('summary', new_loop, 'p50_ratio_to_today'))} the waiting loop's", "realtime"],
        ["SNIPS test: intent / slot F1 / exact frame",
         f"{pct(snips.number('intent_accuracy'))} / {pct(snips.number('slot_f1'))} / "
         f"{pct(snips.number('exact_frame_accuracy'))}", "snips"],
        ["soak: turns, failures, memory growth after warm-up",
         f"{count(soak.number('turns'))}, {count(soak.number('failures'))}, {pct(growth)}", "soak"],
        ["training step, examples per second against trl's plain step", times(training.number("ratio")), "training"],
    ]
    return markdown(["measure", "result", "file"], [[name, value, f"`{FILES[key]}`"] for name, value, key in rows]) + \
        f"\n\n<sub>Written by `{COMMAND}`.</sub>"


def dialogue_table(results: Results) -> str:
    """Every independent set with both accuracies, their intervals and the routing time."""
    dialogue = results["dialogue"]
    rows = []
    for key in dialogue.table("results"):
        label, _, name = key.partition(" | ")
        rows.append([label, SET_NAMES.get(name, name), count(row_number(dialogue, key, "n")),
                     f"{pct(row_number(dialogue, key, 'exact_call_accuracy'))} "
                     f"({interval(dialogue.numbers('results', key, 'exact_call_accuracy_ci95'))})",
                     f"{pct(row_number(dialogue, key, 'resolved_call_accuracy'))} "
                     f"({interval(dialogue.numbers('results', key, 'resolved_call_accuracy_ci95'))})",
                     pct(row_number(dialogue, key, "per_call_accuracy")),
                     ms(row_number(dialogue, key, "latency_ms_p50")), ms(row_number(dialogue, key, "latency_ms_p95"))])
    header = ["router", "set", "n", "exact (95 %)", "resolved (95 %)", "per call", "route p50", "route p95"]
    cost = "latency_with_previous_turn"
    lines = [
        f"Asked whether a request is finished: {pct(dialogue.number('finished', 'whole_called_finished'))} of "
        f"{count(dialogue.number('finished', 'whole_n'))} whole commands called finished "
        f"({interval(dialogue.numbers('finished', 'whole_ci95'))}), "
        f"{pct(dialogue.number('finished', 'cut_called_unfinished'))} of {count(dialogue.number('finished', 'cut_n'))}"
        f" cut before their last spoken value called unfinished ({interval(dialogue.numbers('finished', 'cut_ci95'))}).",
        f"Routing a single command after its previous turn takes {times(dialogue.number(cost, 'ratio_p50'))} the time"
        f" of routing it alone ({times(dialogue.number(cost, 'ratio_p50_unprepared'))} without preparing the turn;"
        f" median of {count(dialogue.number(cost, 'pairs'))} pairs of {count(dialogue.number(cost, 'of'))}).",
    ]
    return markdown(header, rows) + "\n\n" + "\n".join(lines) + source("dialogue",
                                                                       where=machine_of_dialogue(dialogue))


def test_split_table(results: Results) -> str:
    """The test split's summary metrics, then each skill's."""
    test = results["test"]
    summary = [
        ["parse rate", pct(test.number("parse_rate"))],
        ["right skill", pct(test.number("skill_accuracy"))],
        ["exact call (95 %)", f"{pct(test.number('exact_call_accuracy'))} ({interval(test.numbers('exact_call_accuracy_ci95'))})"],
        ["resolved call (95 %)",
         f"{pct(test.number('resolved_call_accuracy'))} ({interval(test.numbers('resolved_call_accuracy_ci95'))})"],
        ["argument precision / recall / F1", f"{pct(test.number('argument_precision'))} / "
         f"{pct(test.number('argument_recall'))} / {pct(test.number('argument_f1'))}"],
        ["false activation (talk acted on)", pct(test.number("false_activation_rate"))],
        ["missed commands (taken for talk)", pct(test.number("missed_command_rate"))],
        ["routing p50 / p95", f"{ms(test.number('latency_ms_p50'))} / {ms(test.number('latency_ms_p95'))}"],
    ]
    skills = [[f"`{name}`", count(test.number("per_skill", name, "n")), pct(test.number("per_skill", name, "skill_accuracy")),
               pct(test.number("per_skill", name, "exact_call_accuracy")),
               pct(test.number("per_skill", name, "resolved_call_accuracy"))]
              for name in test.table("per_skill")]
    return (markdown([f"test split, {count(test.number('n'))} utterances", "result"], summary) + "\n\n"
            + markdown(["skill", "n", "skill", "exact", "resolved"], skills) + source("test"))


def release_table(results: Results) -> str:
    """How the shipped router was trained, as its manifest records it."""
    release = results["release"]
    curve = release.get("metrics", "accuracy_curve")
    if not isinstance(curve, list):
        raise ReportError(f"{release.name}: metrics.accuracy_curve is not a list")
    config = ("config",)
    rows = [
        ["base model, prompt template", f"{release.get('base_model')}, {release.get('template')}"],
        ["data set (sha256)", f"`{str(release.get('dataset', 'sha256'))[:12]}…`, "
         f"{count(release.number('dataset', 'train'))} training and "
         f"{count(release.number('dataset', 'validation'))} validation records"],
        ["LoRA", f"r={count(release.number(*config, 'lora_r'))}, alpha={count(release.number(*config, 'lora_alpha'))}, "
         f"dropout {release.number(*config, 'lora_dropout'):g}, {release.get(*config, 'lora_target_modules')}"],
        ["steps × batch, learning rate", f"{count(release.number('metrics', 'steps'))} × "
         f"{count(release.number(*config, 'per_device_train_batch_size'))}, "
         f"{release.number(*config, 'learning_rate'):g} ({release.get(*config, 'lr_scheduler_type')})"],
        ["training time", f"{release.number('metrics', 'train_seconds') / 60:.0f} min on "
         f"{count(release.number('machine', 'cpus'))} CPUs ({release.get('metrics', 'device')})"],
        ["final validation loss", f"{release.number('metrics', 'eval_loss'):.3f}"],
        ["exact calls on validation samples, by step",
         ", ".join(f"{count(point['step'])}: {pct(point['exact_call_accuracy'])}" for point in curve)],
    ]
    return markdown(["shipped router", ""], rows) + source("release")


def latency_table(results: Results) -> str:
    """Each stage of the pipeline on the bundled recordings, and the plain generate baseline beside it."""
    latency = results["latency"]
    stages = [
        ("speech recognition", "stt_ms"),
        ("router, grammar-checked", "route_ms"),
        ("router without span markers (one grammar)", "route_ms_without_spans"),
        ("compiling the span grammar", "span_grammar_compile_ms"),
        ("end of speech → call ready for dispatch", "end_of_speech_to_dispatch_ms"),
        ("plain `generate` baseline", "baseline_generate_ms"),
    ]
    rows = [["recording length", f"{latency.number('audio_seconds', 'p50'):.1f} s",
             f"{latency.number('audio_seconds', 'p95'):.1f} s"]]
    rows += [[name, ms(latency.number(key, "p50")), ms(latency.number(key, "p95"))] for name, key in stages]
    rows += [
        ["router tokens per second", f"{latency.number('router_tokens_per_s', 'p50'):.1f}",
         f"{latency.number('router_tokens_per_s', 'p95'):.1f}"],
        ["baseline tokens per second", f"{latency.number('baseline_tokens_per_s', 'p50'):.1f}",
         f"{latency.number('baseline_tokens_per_s', 'p95'):.1f}"],
        ["router speed-up over the baseline (p50s)", times(latency.number("router_speedup_p50")), ""],
        ["WER on the bundled commands", pct(latency.number("wer")), ""],
        ["calls as expected", f"{count(latency.number('calls_as_expected'))} of {count(latency.number('n_commands'))}",
         ""],
        ["peak RSS: runtime / with the baseline loaded", f"{count(latency.number('peak_rss_mb_runtime'))} MB / "
         f"{count(latency.number('peak_rss_mb_with_baseline'))} MB", ""],
    ]
    where = f"{machine(latency)}, {count(latency.number('repeats'))} repeats"
    return markdown(["stage", "p50", "p95"], rows) + source("latency", where=where)


def realtime_table(results: Results) -> str:
    """The listening loops fed recordings in real time: last word → first skill called."""
    realtime = results["realtime"]
    rows = []
    for loop in realtime.table("summary"):
        get = lambda key, loop=loop: realtime.number("summary", loop, key)  # noqa: E731
        rows.append([f"`{loop}`", count(get("measured")), ms(get("p50_ms")), ms(get("p95_ms")), ms(get("max_ms")),
                     times(get("p50_ratio_to_today")), f"{count(get('premature'))} of {count(get('with_pause'))}",
                     count(get("answered_part")), pct(get("wer")),
                     f"{count(get('correct'))} of {count(get('n'))}"])
    header = ["loop", "n", "p50", "p95", "max", "p50 ÷ today", "cut off (paused)", "first part answered", "WER",
              "calls right"]
    return markdown(header, rows) + source("realtime", where=machine(realtime))


def turn_end_table(results: Results) -> str:
    """How often each judge calls a recording finished, whole and cut at a pause."""
    turn_end = results["turn-end"]
    cases = {"whole": "whole command (finished is right)",
             "cut, unfinished": "cut before its last value (finished is premature)",
             "cut, looks finished": "cut before a phrase, the first part a request itself"}
    summary = turn_end.table("summary")
    judges = list(next(iter(summary.values()), {}))
    rows = []
    for case in summary:
        n = turn_end.number("summary", case, judges[0], "n") if judges else 0
        rows.append([cases.get(case, case), count(n),
                     *(pct(turn_end.number("summary", case, judge, "share")) for judge in judges)])
    judged = turn_end.table("judgement_ms_p50")
    line = "Per judgement p50: " + ", ".join(f"{name} {ms(turn_end.number('judgement_ms_p50', name))}"
                                             for name in judged) + "."
    return (markdown(["audio", "n", *judges], rows) + "\n\n" + line
            + source("turn-end", where=machine(turn_end)))


def snips_table(results: Results) -> str:
    """SNIPS test scores, each intent's exact frames and the weakest slots."""
    snips = results["snips"]
    summary = [[pct(snips.number("intent_accuracy")), pct(snips.number("slot_precision")),
                pct(snips.number("slot_recall")), pct(snips.number("slot_f1")),
                pct(snips.number("exact_frame_accuracy")), count(snips.number("n")), count(snips.number("unparseable"))]]
    intents = [[name, count(snips.number("per_intent", name, "n")),
                pct(snips.number("per_intent", name, "exact_frame_accuracy"))] for name in snips.table("per_intent")]
    slots = sorted(snips.table("per_slot"), key=lambda name: (snips.number("per_slot", name, "f1"), name))
    weakest = [[f"`{name}`", pct(snips.number("per_slot", name, "f1")),
                count(snips.number("per_slot", name, "true_positives")),
                count(snips.number("per_slot", name, "false_positives")),
                count(snips.number("per_slot", name, "false_negatives"))] for name in slots[:WEAKEST_SLOTS]]
    return (markdown(["intent", "slot precision", "slot recall", "slot F1", "exact frame", "n", "unparseable"], summary)
            + "\n\n" + markdown(["intent", "n", "exact frame"], intents)
            + "\n\n" + markdown(["weakest slots", "F1", "right", "wrong", "missed"], weakest) + source("snips"))


def soak_table(results: Results) -> str:
    """The soak run's turns per kind, against each kind's limit, and its memory."""
    soak = results["soak"]
    rows = [[kind, count(soak.number("per_kind", kind, "turns")), count(soak.number("per_kind", kind, "failures")),
             f"{soak.number('per_kind', kind, 'p50_s'):.2f} s", f"{soak.number('per_kind', kind, 'p95_s'):.2f} s",
             f"{soak.number('per_kind', kind, 'max_s'):.2f} s", f"{soak.number('per_kind', kind, 'limit_s'):.1f} s"]
            for kind in soak.table("per_kind")]
    rows.append(["all", count(soak.number("turns")), count(soak.number("failures")), f"{soak.number('p50_s'):.2f} s",
                 f"{soak.number('p95_s'):.2f} s", "", ""])
    outside = soak.get("written_outside_data_folder")
    memory = (f"RSS {count(soak.number('rss_mb', 'start_after_warmup'))} MB after "
              f"{count(soak.number('rss_mb', 'warmup_turns'))} warm-up turns, peak {count(soak.number('rss_mb', 'peak'))} MB"
              f" ({pct(soak.number('rss_mb', 'growth_after_warmup'))} growth); files written outside the data folder: "
              f"{count(len(outside) if isinstance(outside, list) else 0)}.")
    return (markdown(["kind", "turns", "failures", "p50", "p95", "max", "limit"], rows) + "\n\n" + memory
            + source("soak", where=machine(soak)))


def training_table(results: Results) -> str:
    """Training throughput of trl's plain step and voxroute's, in one process, and the physical floor."""
    training = results["training"]
    variants = training.get("results")
    if not isinstance(variants, list) or not all(isinstance(row, dict) for row in variants):
        raise ReportError(f"{training.name}: results is not a list of objects")
    rows = [[str(row.get("variant")), count(row["steps"]), f"{row['seconds_per_step']:.2f} s",
             f"{row['examples_per_second']:.2f}", f"{row['validation_loss']:.2f}"] for row in variants]
    floor = ("floor",)
    line = (f"voxroute's step: {times(training.number('ratio'))} the plain step's examples per second. Floor: "
            f"{training.number(*floor, 'tokens_per_example'):.0f} tokens an example, "
            f"{training.number(*floor, 'gflop_per_example_labelled_only'):.1f} GFLOP with the output layer at the call's "
            f"positions only, at {training.number(*floor, 'measured_gflops'):.0f} GFLOP/s measured: "
            f"{training.number(*floor, 'floor_examples_per_second'):.1f} examples per second.")
    return (markdown(["step", "steps", "per step", "examples/s", "validation loss"], rows) + "\n\n" + line
            + source("training", where=machine(training)))


TABLES: dict[str, Callable[[Results], str]] = {
    "headline": headline_table,
    "router": router_table,
    "dialogue": dialogue_table,
    "test-split": test_split_table,
    "release": release_table,
    "latency": latency_table,
    "realtime": realtime_table,
    "turn-end": turn_end_table,
    "snips": snips_table,
    "soak": soak_table,
    "training": training_table,
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
        except (KeyError, TypeError, ValueError, IndexError) as error:  # a field of the wrong shape
            raise ReportError(f"{name}: results:{key}: the result files do not fit this table ({error!r})") from None
        return f"<!-- results:{key} -->\n{table}\n<!-- /results:{key} -->"

    return BLOCK.sub(block, text)


def check_markers(text: str, name: str) -> None:
    """Every marker opens a known block that is closed before the next one opens."""
    open_key, open_line = None, 0
    for match in OPENING.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        closing, key = match.group(1) == "/", match.group(2)
        if not closing and key not in TABLES:
            raise ReportError(f"{name}:{line}: unknown results block {key!r}; known: {', '.join(TABLES)}")
        if closing != (open_key is not None) or (closing and key != open_key):
            raise ReportError(f"{name}:{line}: results:{key} " + (
                f"opens inside results:{open_key} (opened at line {open_line})" if not closing
                else "closes a block that is not open"))
        open_key, open_line = (None, 0) if closing else (key, line)
    if open_key is not None:
        raise ReportError(f"{name}:{open_line}: results:{open_key} is never closed (<!-- /results:{open_key} -->)")


def stale_blocks(old: str, new: str) -> list[str]:
    """The names of the blocks whose text differs between two renderings of one document."""
    before = {match.group(1): match.group(2) for match in BLOCK.finditer(old)}
    return [match.group(1) for match in BLOCK.finditer(new) if before.get(match.group(1)) != match.group(2)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a document's tables differ from the result files")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this one)")
    args = parser.parse_args(argv)
    results = Results(args.root)
    stale = []
    try:
        for path in documents(args.root):
            name = str(path.relative_to(args.root))
            try:
                old = read_small_text(path, MAX_DOCUMENT_BYTES)
            except ConfigError as error:
                raise ReportError(str(error)) from None
            new = render(old, name, results)
            if new == old:
                continue
            if args.check:
                stale += [f"{name}: results:{key}" for key in stale_blocks(old, new)]
            else:
                write_atomically(path, new)
                print(f"{name}: tables written")
    except (ReportError, FileNotFoundError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for block in stale:
        print(f"{block} differs from the result files; run {COMMAND}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
