"""The barista benchmark: Picovoice's 619 recorded coffee orders through voxroute's voice path.

Each recording goes through :meth:`Assistant.handle_audio`, the recogniser, its vocabulary prompt and
the router that ``voxroute run`` uses, clean and mixed with the benchmark's kitchen noise at 6 to
24 dB (:mod:`benchmarks.barista.mix`), and is scored as the benchmark scores
(:mod:`benchmarks.barista.score`). Settings are chosen on a fixed fifth of the recordings
(``--part settings``; a recording's fifth is its name's CRC-32 modulo 5); the report gives the other
four fifths and all. Noise alone (kitchen noise cut into clips) must give no order.

Rows are appended to ``runs/barista-bench/`` as they are scored, so a run that is stopped goes on
where it stopped. Prints a table beside the published engines and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

from assistant import Assistant, build_assistant, load_pack
from assistant.config import (
    ALWAYS_TRUSTED,
    CHOICES_AS_HEARD,
    MAX_READINGS,
    MIN_CHOICE_SPELLING,
    Config,
    RouterConfig,
    VoiceConfig,
)
from assistant.files import write_atomically
from assistant.runtime.pack import REPO_ROOT
from assistant.timing import percentile
from assistant.voice.audio import half_scale, read_wav
from assistant.voice.stt import transcript_normalizer
from benchmarks import machine
from benchmarks.barista.mix import mix
from benchmarks.barista.score import Label, accepted, heard_every_slot, inference, share
from finetune.metrics import wilson

HERE = Path(__file__).resolve().parent
PICOVOICE = REPO_ROOT.parent / "shared" / "data" / "picovoice"
ROWS = REPO_ROOT / "runs" / "barista-bench"
ADAPTER = REPO_ROOT / yaml.safe_load((HERE / "router-smollm2-cpu.yaml").read_text())["output_dir"]  # bench-barista's
OUT = HERE / "results.json"
SETTINGS_OUT = HERE / "results_settings.json"  # one entry per variant tried on the settings fifth
SNRS = (6, 9, 12, 15, 18, 21, 24)
NOISE_CLIP_S = 6.0  # a noise-only clip: about as long as a short recording
MAX_NOISE_LENGTH_S = 600.0  # the kitchen noise is 123 s
# Command acceptance (%) on kitchen noise at 6, 9, ..., 24 dB: the benchmark's src/plot.py (see SOURCES.md).
PUBLISHED = {
    "Picovoice Rhino": (96, 97, 98, 99, 99, 99, 99),
    "Microsoft LUIS": (86, 89, 90, 91, 92, 93, 93),
    "IBM Watson": (72, 84, 89, 93, 95, 95, 96),
    "Amazon Lex": (80, 84, 85, 87, 87, 87, 88),
    "Google Dialogflow": (70, 78, 78, 80, 81, 82, 83),
}


@dataclass(frozen=True)
class Recording:
    name: str
    label: Label

    @property
    def in_settings_fifth(self) -> bool:
        return zlib.crc32(self.name.encode()) % 5 == 0


def recordings(folder: Path) -> list[Recording]:
    """The labelled recordings present (label.json also lists six the benchmark removed), by name."""
    labels = json.loads((folder / "label.json").read_text())
    return [Recording(path.name, Label.of(labels[path.name])) for path in sorted((folder / "wav").glob("*.wav"))]


def condition_name(snr: float | None) -> str:
    return "clean" if snr is None else f"kitchen {snr:g} dB"


def noise_clips(noise: np.ndarray, count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """``count`` clips of the noise alone from seeded starts, at the level a mix leaves them (half scale)."""
    length = int(NOISE_CLIP_S * 16000)
    rng = np.random.default_rng(seed)
    for _ in range(count):
        start = int(rng.integers(0, noise.size - length))
        yield half_scale(noise[start : start + length])


class RowLog:
    """Scored rows appended one JSON line at a time (a torn last line is read as not done)."""

    def __init__(self, path: Path):
        self.path = path
        self.rows = self.read(path) if path.exists() else {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a")

    @staticmethod
    def read(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
        """The rows written so far, by (recording, condition)."""
        rows = {}
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            rows[row["name"], row["condition"]] = row
        return rows

    def add(self, row: dict[str, Any]) -> None:
        self.rows[row["name"], row["condition"]] = row
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())


def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(args.data)
    chosen = [r for r in recordings(folder) if args.part == "report" or r.in_settings_fifth][: args.limit]
    settings = {
        "adapter": str(args.adapter),
        "stt_model": args.stt_model,
        "stt_context": args.context,
        "stt_vocabulary": not args.no_vocabulary,
        "stt_prompt_floor": args.prompt_floor,
        "choice_spelling": args.choice_spelling,
        "stt_readings": args.readings,
    }
    assistant = barista_assistant(
        RouterConfig(adapter=str(args.adapter), follow_up_s=0, choice_spelling=args.choice_spelling),
        VoiceConfig(
            stt_model=args.stt_model,
            stt_context=args.context,
            stt_vocabulary=not args.no_vocabulary,
            stt_prompt_floor=args.prompt_floor,
            stt_readings=args.readings,
        ),
    )
    pack = assistant.pack
    normalize = transcript_normalizer()
    noise = read_wav(folder / "kitchen.wav", MAX_NOISE_LENGTH_S)
    key = f"{Path(args.adapter).name}-{args.context}-{'prompt' if settings['stt_vocabulary'] else 'plain'}"
    if settings["stt_vocabulary"] and args.prompt_floor != VoiceConfig().stt_prompt_floor:
        key += f"-floor{args.prompt_floor:g}"
    if args.stt_model:
        key += f"-{Path(args.stt_model).name}"
    if args.choice_spelling != RouterConfig().choice_spelling:
        key += f"-spelling{args.choice_spelling:g}"
    if args.readings != VoiceConfig().stt_readings:
        key += f"-readings{args.readings}"
    log = RowLog(ROWS / f"{key}.jsonl")
    snrs: list[float | None] = [None, *args.snrs]
    console = Console(stderr=True)
    load_before = os.getloadavg()
    started = time.perf_counter()
    for snr in snrs:
        condition = condition_name(snr)
        todo = [r for r in chosen if (r.name, condition) not in log.rows]
        console.print(f"{condition}: {len(chosen) - len(todo)} done, {len(todo)} to go")
        for recording in todo:
            clean = read_wav(folder / "wav" / recording.name)
            audio = clean if snr is None else mix(clean, noise, snr, recording.name)
            turn = assistant.handle_audio(audio)
            calls = [pack.parse(text) for text in turn.calls]
            log.add(
                {
                    "name": recording.name,
                    "condition": condition,
                    "transcript": turn.transcript,
                    "calls": turn.calls,
                    "accepted": accepted(recording.label, inference(calls)),
                    "heard": heard_every_slot(recording.label, turn.transcript, normalize),
                    "stt_ms": turn.timings.get("stt_ms"),
                    "route_ms": turn.timings.get("route_ms"),
                    "path": turn.path,
                }
            )
    orders = []
    for clip in noise_clips(noise, args.noise_clips):
        turn = assistant.handle_audio(clip)
        if any(call.startswith("orderDrink(") for call in turn.calls):
            orders.append(turn.transcript)
    result = summary(chosen, snrs, log, args.part)
    result.update(
        settings=settings,
        noise_only={"clips": args.noise_clips, "seconds": NOISE_CLIP_S, "orders": len(orders), "heard": orders},
        minutes=(time.perf_counter() - started) / 60,
        machine=machine(load_before),
    )
    return result


def barista_assistant(router: RouterConfig, voice: VoiceConfig) -> Assistant:
    """The barista pack's voice path, loaded (every turn should stand alone: ``router.follow_up_s = 0``)."""
    config = Config(router=router, voice=voice)
    assistant = build_assistant(config, load_pack("benchmarks.barista.skills", HERE / "examples"))
    assistant.load()
    return assistant


def summary(chosen: list[Recording], snrs: list[float | None], log: RowLog, part: str) -> dict[str, Any]:
    """Per condition and per part of the recordings: accepted, its interval, and the recogniser's errors."""
    parts = {"all": chosen}
    if part == "report":
        parts["report"] = [r for r in chosen if not r.in_settings_fifth]
    parts["settings"] = [r for r in chosen if r.in_settings_fifth]
    conditions: dict[str, Any] = {}
    for snr in snrs:
        condition = condition_name(snr)
        conditions[condition] = {}
        for name, members in parts.items():
            scored = share(log.rows[r.name, condition] for r in members)
            scored["rate"] = scored["accepted"] / scored["n"] if scored["n"] else None
            scored["rate_ci95"] = wilson(scored["accepted"], scored["n"])
            conditions[condition][name] = scored
    noisy = [condition_name(snr) for snr in snrs if snr is not None]
    rows = [log.rows[r.name, c] for r in chosen for c in conditions]
    return {
        "recordings": len(chosen),
        "conditions": conditions,
        "kitchen_mean": {
            name: float(np.mean([conditions[c][name]["rate"] for c in noisy])) if noisy else None for name in parts
        },
        "stt_ms_p50": percentile([row["stt_ms"] for row in rows if row["stt_ms"] is not None], 0.5),
        "route_ms_p50": {
            path: percentile([row["route_ms"] for row in rows if row["path"] == path], 0.5)
            for path in sorted({row["path"] for row in rows if row["path"] is not None})
        },
        "errors": [row for row in rows if not row["accepted"]],
        "published_kitchen": {engine: list(rates) for engine, rates in PUBLISHED.items()},
    }


def show(result: dict[str, Any], part: str) -> None:
    table = Table(title=f"Barista: command acceptance (%), {part} recordings; kitchen noise")
    conditions = list(result["conditions"])
    table.add_column("engine")
    for condition in conditions:
        table.add_column(condition.removeprefix("kitchen "), justify="right")
    table.add_column("kitchen mean", justify="right")
    rates = [result["conditions"][c][part]["rate"] for c in conditions]
    mean = result["kitchen_mean"][part]
    table.add_row("voxroute", *(f"{100 * r:.1f}" for r in rates), "" if mean is None else f"{100 * mean:.1f}")
    for engine, published in PUBLISHED.items():
        cells = ["" if c == "clean" else str(published[SNRS.index(int(c.split()[1]))]) for c in conditions]
        table.add_row(engine, *cells, f"{np.mean(published):.1f}")
    Console().print(table)
    for condition in conditions:
        scored = result["conditions"][condition][part]
        print(
            f"{condition}: {scored['accepted']}/{scored['n']} accepted, "
            f"{scored['recogniser_errors']} of {scored['errors']} errors the recogniser's"
        )
    print(f"noise alone: {result['noise_only']['orders']} orders from {result['noise_only']['clips']} clips")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.barista", description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapter", default=str(ADAPTER), help="the barista router (default: %(default)s)")
    parser.add_argument("--data", default=str(PICOVOICE), help="the benchmark's folder (default: %(default)s)")
    parser.add_argument(
        "--part",
        choices=("report", "settings"),
        default="report",
        help="all recordings, or the fifth to choose settings on",
    )
    parser.add_argument(
        "--context", choices=("audio", "30s"), default=VoiceConfig().stt_context, help="the recogniser's context"
    )
    parser.add_argument("--no-vocabulary", action="store_true", help="recognise without the pack's vocabulary prompt")
    parser.add_argument(
        "--prompt-floor",
        type=float,
        default=VoiceConfig().stt_prompt_floor,
        help="trust the prompted reading from this mean log-probability up (-10: always; default: %(default)s)",
    )
    parser.add_argument(
        "--stt-model", default=None, help="a Whisper model folder (CTranslate2) instead of the bundled tiny.en"
    )
    parser.add_argument(
        "--choice-spelling",
        type=float,
        default=RouterConfig().choice_spelling,
        help=f"write words spelt almost as a choice as the choice from this ratio ({CHOICES_AS_HEARD:g}: never; "
        "default: %(default)s)",
    )
    parser.add_argument(
        "--readings",
        type=int,
        default=VoiceConfig().stt_readings,
        help="readings of Whisper's beam the pack's sentences may choose from (1: the best alone; "
        "default: %(default)s)",
    )
    parser.add_argument("--snrs", type=float, nargs="*", default=list(SNRS), help="kitchen noise levels in dB")
    parser.add_argument("--noise-clips", type=int, default=60, help="noise-only clips that must give no order")
    parser.add_argument("--limit", type=int, default=None, help="only the first N recordings (a quick look)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results JSON (default: results.json; a settings run adds its variant to results_settings.json)",
    )
    args = parser.parse_args(argv)
    if not ALWAYS_TRUSTED <= args.prompt_floor <= 0:
        parser.error(f"--prompt-floor must be from {ALWAYS_TRUSTED:g} to 0, not {args.prompt_floor:g}")
    if not MIN_CHOICE_SPELLING <= args.choice_spelling <= CHOICES_AS_HEARD:
        parser.error(
            f"--choice-spelling must be from {MIN_CHOICE_SPELLING:g} to {CHOICES_AS_HEARD:g}, "
            f"not {args.choice_spelling:g}"
        )
    if not 1 <= args.readings <= MAX_READINGS:
        parser.error(f"--readings must be from 1 to {MAX_READINGS}, not {args.readings}")
    result = run(args)
    result["command"] = " ".join(["python -m benchmarks.barista", *(sys.argv[1:] if argv is None else argv)])
    if args.part == "report":
        show(result, "report")
        write_atomically(args.out or OUT, json.dumps(result, indent=2) + "\n")
        return
    show(result, "settings")
    out = args.out or SETTINGS_OUT
    tried = json.loads(out.read_text()) if out.exists() else {"variants": {}}
    tried["variants"][variant_name(result["settings"])] = result
    write_atomically(out, json.dumps(tried, indent=2) + "\n")


def variant_name(settings: dict[str, Any]) -> str:
    """How results_settings.json keys one variant tried on the settings fifth."""
    prompt = "prompt" if settings["stt_vocabulary"] else "no prompt"
    floor = settings.get("stt_prompt_floor", ALWAYS_TRUSTED)  # runs before the floor trusted the prompt always
    if settings["stt_vocabulary"] and floor != VoiceConfig().stt_prompt_floor:
        prompt += " always trusted" if floor <= ALWAYS_TRUSTED else f" trusted from {floor:g}"
    others = f", {Path(settings['stt_model']).name}" if settings.get("stt_model") else ""
    spelling = settings.get("choice_spelling", CHOICES_AS_HEARD)  # runs before choices were spelt took them as heard
    if spelling != RouterConfig().choice_spelling:
        others += ", choices as heard" if spelling >= CHOICES_AS_HEARD else f", choices spelt from {spelling:g}"
    readings = settings.get("stt_readings", VoiceConfig().stt_readings)  # runs before readings were offered: not said
    if readings != VoiceConfig().stt_readings:
        others += ", the best reading alone" if readings == 1 else f", {readings} readings"
    return f"{Path(settings['adapter']).name}, {settings['stt_context']} context, {prompt}{others}"


if __name__ == "__main__":
    main()
