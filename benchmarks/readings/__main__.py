"""Which of Whisper's readings: the skill pack's sentences choosing among its beam's. ``python -m benchmarks.readings``

Recognition offers the readings of Whisper's beam that it holds nearly as likely as its best (``[voice]
stt_readings``), and the assistant takes one that is a sentence of its pack where the best is none
(:meth:`assistant.pipeline.Assistant.recognise`). This runs spoken commands for the default pack through
:meth:`Assistant.handle_audio` twice in one run, with the best reading alone (``stt_readings = 1``) and as
shipped, and counts the turns that do what was asked (the same action, as the real-time benchmark judges
it), with the 95 % interval of the paired difference, and the turns that act on speech not meant for the
assistant (``other()`` expected, anything but ``other()`` or ``cant_do()`` answered).

``--set validation`` speaks the data set's validation split (where settings are chosen); ``--set independent``
the real-time benchmark's recordings (``benchmarks.latency.recordings``: the independent single commands). Both
are espeak-ng voices at 140-190 words a minute, a third in pink noise, half with a pause inside. Prints a table
and writes JSON (``results.json``, one entry per set).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant import Config, build_assistant
from assistant.config import MAX_READINGS, VoiceConfig
from assistant.files import write_atomically
from assistant.runtime.pack import REPO_ROOT
from assistant.voice.audio import read_wav
from assistant.voice.stt import word_error_rate
from benchmarks import machine
from benchmarks.latency import recordings
from benchmarks.latency.realtime import DryDispatcher, same_action
from finetune.metrics import paired_difference

OUT = Path(__file__).resolve().parent / "results.json"
DATASET = REPO_ROOT / "dataset" / "training_data.json"
VALIDATION_FOLDER = REPO_ROOT / "runs" / "recordings-validation"
VALIDATION_SEED = 11  # not the real-time benchmark's 0: other voices, speeds and noise
NOT_ACTING = ("other()", "cant_do()")


def validation_commands(path: Path = DATASET) -> list[tuple[str, str]]:
    """(text, calls) of the data set's validation split that stand alone: one call, no previous turn, no
    bracketed noise marker."""
    records = json.loads(path.read_text(encoding="utf-8"))
    return [
        (record["user"], record["call"])
        for record in records
        if record.get("split") == "validation"
        and "context" not in record
        and not record["skill"].startswith("(")
        and "[" not in record["user"]
    ]


def clips(which: str, count: int) -> list[recordings.Recording]:
    if which == "validation":
        return recordings.generate(VALIDATION_FOLDER, count, VALIDATION_SEED, validation_commands())
    return recordings.generate(count=count)


def run(which: str, count: int, readings: int) -> dict[str, Any]:
    load_before = os.getloadavg()
    chosen = clips(which, count)
    variants = {"best reading alone": 1, f"{readings} readings": readings}
    rows: dict[str, list[dict[str, Any]]] = {}
    for name, most in variants.items():
        assistant = build_assistant(Config(voice=VoiceConfig(stt_readings=most)))
        assistant.dispatcher = DryDispatcher(assistant.pack)
        assistant.load()
        rows[name] = []
        for clip in chosen:
            assistant.memory.forget()  # separate commands, not one conversation
            turn = assistant.handle_audio(read_wav(clip.path))
            calls = "; ".join(turn.calls)
            rows[name].append(
                {
                    "recording": Path(clip.path).stem,
                    "text": clip.text,
                    "call": clip.call,
                    "transcript": turn.transcript,
                    "calls": calls,
                    "same_action": bool(turn.calls) and same_action(assistant.pack, [calls], clip.call),
                    "acted_on_talk": clip.call == "other()" and bool(turn.calls) and calls not in NOT_ACTING,
                    "stt_ms": turn.timings.get("stt_ms"),
                }
            )
    base, new = (rows[name] for name in variants)
    difference, low, high, n = paired_difference(
        {row["recording"]: row["same_action"] for row in new}, {row["recording"]: row["same_action"] for row in base}
    )
    return {
        "set": which,
        "n": len(chosen),
        "talk": sum(clip.call == "other()" for clip in chosen),
        "variants": {
            name: {
                "same_action": sum(row["same_action"] for row in variant_rows),
                "same_action_rate": sum(row["same_action"] for row in variant_rows) / len(variant_rows),
                "acted_on_talk": sum(row["acted_on_talk"] for row in variant_rows),
                "wer": word_error_rate(
                    [row["text"] for row in variant_rows], [row["transcript"] for row in variant_rows]
                ),
                "changed_transcripts": sum(
                    row["transcript"] != old["transcript"] for row, old in zip(variant_rows, base, strict=True)
                ),
            }
            for name, variant_rows in rows.items()
        },
        "difference": difference,
        "difference_ci95": [low, high],
        "paired": n,
        "machine": machine(load_before),
        "rows": rows,
    }


def show(result: dict[str, Any]) -> None:
    table = Table(
        title=f"{result['set']} commands: {result['n']} spoken ({result['talk']} not meant for the assistant)"
    )
    for column in ("readings", "same action", "acted on talk", "WER", "transcripts changed"):
        table.add_column(column)
    for name, variant in result["variants"].items():
        table.add_row(
            name,
            f"{variant['same_action']} of {result['n']}",
            f"{variant['acted_on_talk']} of {result['talk']}",
            f"{variant['wer']:.1%}",
            str(variant["changed_transcripts"]),
        )
    console = Console()
    console.print(table)
    low, high = result["difference_ci95"]
    console.print(
        f"Difference: {result['difference']:+.1%} (95 %: {low:+.1%} to {high:+.1%}); "
        f"load average {result['machine']['load_average_after'][0]:.1f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.readings", description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=("validation", "independent"), default="independent", dest="which")
    parser.add_argument("--count", type=int, default=recordings.COUNT, help="recordings (default: %(default)s)")
    parser.add_argument(
        "--readings",
        type=int,
        default=VoiceConfig().stt_readings,
        help="the variant's stt_readings (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="results JSON (default: %(default)s)")
    args = parser.parse_args(argv)
    if not 2 <= args.readings <= MAX_READINGS:
        parser.error(
            f"--readings must be from 2 to {MAX_READINGS} (1 is the run it is compared with), not {args.readings}"
        )
    try:
        result = run(args.which, args.count, args.readings)
    except ValueError as error:  # a count below 1, a manifest that is not one
        parser.exit(2, f"error: {error}\n")
    show(result)
    kept = json.loads(args.out.read_text()) if args.out.is_file() else {}
    kept[args.which] = result
    write_atomically(args.out, json.dumps(kept, indent=1) + "\n")


if __name__ == "__main__":
    main()
