"""Where no whole order was said: the vocabulary prompt priced on silence, noise, babble, other speech
and cut-off orders. ``python -m benchmarks.barista.quiet``

A Whisper told a prompt can hear the prompt where nobody said it (faster-whisper issue 853), and a
prompt full of coffee words could complete an order that was cut off. Every clip goes through the
barista pack's voice path (:meth:`Assistant.handle_audio`, as ``voxroute run``) three times in one run:
with the vocabulary prompt as shipped (a reading Whisper is unsure of is read again without it:
``[voice] stt_prompt_floor``), with the prompt always trusted, and without it; a clip that gives an
order is a false activation:

- silence: digital silence, and a faint hiss at -60 dBFS;
- noise: the benchmark's kitchen noise alone (the clips of :func:`benchmarks.barista.noise_clips`);
- babble: six recordings (six files; the benchmark does not name speakers) over each other at seeded offsets;
- other speech: the latency benchmark's spoken commands for the default pack (espeak-ng voices);
- cut-off orders: recordings cut at the middle of their voiced span: an order that comes out acts
  on half a request.

``--seed`` draws other clips (other noise, babble and recordings): the prompt floor was chosen on seed 0
(``--floors`` tries others beside it), and seed 1 reports it. Prints a table and writes JSON (``results_quiet.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from assistant.config import ALWAYS_TRUSTED, RouterConfig, VoiceConfig
from assistant.files import write_atomically
from assistant.voice.audio import SAMPLE_RATE, half_scale, read_wav
from benchmarks import machine
from benchmarks.barista.__main__ import (
    ADAPTER,
    HERE,
    MAX_NOISE_LENGTH_S,
    PICOVOICE,
    barista_assistant,
    noise_clips,
    recordings,
)
from benchmarks.barista.score import INTENT
from benchmarks.latency import recordings as spoken_commands

OUT = HERE / "results_quiet.json"
SILENCE_S = 4.0
HISS_DBFS = -60.0
BABBLE_TALKERS = 6
BABBLE_OFFSET_S = 1.5  # each talker starts within this much of the clip's start
KINDS = ("silence", "noise", "babble", "other speech", "cut-off orders")


def silence_clips(count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Half digital silence, half a faint white hiss (seeded)."""
    rng = np.random.default_rng(seed)
    length = int(SILENCE_S * SAMPLE_RATE)
    for index in range(count):
        if index % 2 == 0:
            yield np.zeros(length, dtype=np.float32)
        else:
            yield (rng.standard_normal(length) * 10 ** (HISS_DBFS / 20)).astype(np.float32)


def babble_clips(wavs: list[Path], count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """``count`` clips of :data:`BABBLE_TALKERS` recordings each, by different files, at seeded offsets."""
    rng = np.random.default_rng(1 + seed)
    for _ in range(count):
        talkers = [read_wav(wavs[i]) for i in rng.choice(len(wavs), BABBLE_TALKERS, replace=False)]
        starts = [int(rng.integers(0, int(BABBLE_OFFSET_S * SAMPLE_RATE))) for _ in talkers]
        clip = np.zeros(max(start + t.size for start, t in zip(starts, talkers, strict=True)), dtype=np.float64)
        for start, talker in zip(starts, talkers, strict=True):
            clip[start : start + talker.size] += talker / max(np.abs(talker).max(), 1e-6)
        yield half_scale(clip)


def cut_off(audio: np.ndarray) -> np.ndarray:
    """The recording up to the middle of its voiced span."""
    frames = np.flatnonzero(spoken_commands.voiced(audio))
    if frames.size == 0:
        return audio
    middle = (frames[0] + frames[-1] + 1) // 2
    return audio[: middle * spoken_commands.HOP]


def clips(count: int, seed: int = 0) -> Iterator[tuple[str, str, np.ndarray]]:
    """(kind, name, audio) of every kind, ``count`` of each; another ``seed``, other clips (the spoken
    commands and the cut recordings are every n-th, from the seed-th on)."""
    for index, audio in enumerate(silence_clips(count, seed)):
        yield "silence", f"silence-{index}", audio
    noise = read_wav(PICOVOICE / "kitchen.wav", MAX_NOISE_LENGTH_S)
    for index, audio in enumerate(noise_clips(noise, count, seed)):
        yield "noise", f"kitchen-{index}", audio
    orders = recordings(PICOVOICE)
    wavs = [PICOVOICE / "wav" / r.name for r in orders]
    for index, audio in enumerate(babble_clips(wavs, count, seed)):
        yield "babble", f"babble-{index}", audio
    commands = spoken_commands.generate()
    for index in range(count):
        command = commands[(index * len(commands) // count + seed) % len(commands)]
        yield "other speech", Path(command.path).stem, read_wav(command.path)
    for index in range(count):
        order = orders[(index * len(orders) // count + seed) % len(orders)]
        yield "cut-off orders", order.name, cut_off(read_wav(PICOVOICE / "wav" / order.name))


def run(adapter: str, count: int, seed: int, floors: list[float]) -> dict[str, Any]:
    router = RouterConfig(adapter=adapter, follow_up_s=0)
    variants = {
        "prompt": barista_assistant(router, VoiceConfig(stt_vocabulary=True)),
        **{
            f"prompt from {floor:g}": barista_assistant(router, VoiceConfig(stt_prompt_floor=floor))
            for floor in floors
            if floor != VoiceConfig().stt_prompt_floor
        },
        "trusted prompt": barista_assistant(router, VoiceConfig(stt_vocabulary=True, stt_prompt_floor=ALWAYS_TRUSTED)),
        "no prompt": barista_assistant(router, VoiceConfig(stt_vocabulary=False)),
    }
    load_before = os.getloadavg()
    started = time.perf_counter()
    rows = []
    for kind, name, audio in clips(count, seed):
        row: dict[str, Any] = {"kind": kind, "name": name}
        for variant, assistant in variants.items():
            turn = assistant.handle_audio(audio)
            row[variant] = {
                "transcript": turn.transcript,
                "calls": turn.calls,
                "order": any(call.startswith(f"{INTENT}(") for call in turn.calls),
            }
        rows.append(row)
    summary = {
        kind: {
            "clips": sum(row["kind"] == kind for row in rows),
            **{
                variant: {
                    "orders": sum(row[variant]["order"] for row in rows if row["kind"] == kind),
                    "heard_words": sum(bool(row[variant]["transcript"]) for row in rows if row["kind"] == kind),
                }
                for variant in variants
            },
        }
        for kind in KINDS
    }
    return {
        "summary": summary,
        "adapter": adapter,
        "seed": seed,
        "prompt_floor": VoiceConfig().stt_prompt_floor,
        "minutes": (time.perf_counter() - started) / 60,
        "machine": machine(load_before),
        "rows": rows,
    }


def show(result: dict[str, Any]) -> None:
    table = Table(title="Barista pack where no whole order was said: clips that gave an order (clips with words heard)")
    variants = list(next(iter(result["summary"].values())))[1:]  # after "clips"
    for column in ("clips", "kind", *variants):
        table.add_column(column, justify="right" if column != "kind" else "left")
    for kind, scored in result["summary"].items():
        cells = [f"{scored[v]['orders']} ({scored[v]['heard_words']})" for v in variants]
        table.add_row(str(scored["clips"]), kind, *cells)
    Console().print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.barista.quiet", description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapter", default=str(ADAPTER), help="the barista router (default: %(default)s)")
    parser.add_argument("--count", type=int, default=60, help="clips of each kind (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=OUT, help="results JSON (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="which clips (default: %(default)s; 0 chose the floor)")
    parser.add_argument(
        "--floors", type=float, nargs="*", default=[], help="prompt floors to try beside the configured one"
    )
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error(f"--count must be at least 1, not {args.count}")
    if not all(ALWAYS_TRUSTED <= floor <= 0 for floor in args.floors):
        parser.error(f"--floors must be from {ALWAYS_TRUSTED:g} to 0, not {args.floors}")
    if args.seed < 0:
        parser.error(f"--seed must be 0 or more, not {args.seed}")
    result = run(args.adapter, args.count, args.seed, args.floors)
    show(result)
    write_atomically(args.out, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
