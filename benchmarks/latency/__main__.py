"""Latency of the voice pipeline on this machine: ``python -m benchmarks.latency``.

For each bundled spoken command (assets/samples): speech recognition, routing, and end of speech
→ call ready for dispatch (recognition + routing; the recording has ended when it is handed
over). In the same run, the plain transformers ``generate`` baseline (same merged model, fp32,
whole prompt every time, no cache, no grammar) routes the same transcripts, so the speed-up is a
ratio measured side by side; so do the same router with its span markers dropped (one grammar
compiled once, values free), which prices the per-request span grammar, and the same router
decoding with one thread instead of two. Prints a table and writes JSON.

``--steps`` counts the decode steps the call grammar forces and times routing with and without checked
guesses (:mod:`benchmarks.latency.steps`).
``--realtime`` plays recordings in real time into the listening loops instead and measures last
word → first skill called (:mod:`benchmarks.latency.realtime`); ``--turn-end`` scores the judges
that may end a turn early (:mod:`benchmarks.latency.turn_end`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant import SkillPack, load_pack
from assistant.files import write_atomically
from assistant.routing.decoding import CallMatcher
from assistant.routing.router import (
    SHIPPED_ADAPTER,
    LocalRouter,
    RouterSpec,
    load_local_router,
    merged_model_dir,
)
from assistant.runtime.pack import REPO_ROOT
from assistant.timing import elapsed_ms, percentile
from assistant.voice.audio import read_wav
from assistant.voice.samples import load_samples
from assistant.voice.stt import load_transcriber, word_error_rate
from benchmarks import machine
from benchmarks.latency import realtime, steps, turn_end

OUT = Path(__file__).resolve().parent / "results.json"


def percentiles(values: list[float]) -> dict[str, float | None]:
    return {"p50": statistics.median(values), "p95": percentile(values, 0.95), "mean": statistics.fmean(values)}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def without_spans(router: LocalRouter) -> LocalRouter:
    """The same model, engine and guesses with every Span marker dropped: the grammar is compiled once, values are
    free."""
    skills = [
        dataclasses.replace(skill, parameters=tuple(dataclasses.replace(p, span=False) for p in skill.parameters))
        for skill in router.pack.skills.values()
    ]
    pack = SkillPack.from_skills(skills)
    return LocalRouter(
        pack,
        router.tokenizer,
        router.engine,
        CallMatcher(router.tokenizer, pack, router.template.lead),
        router.template,
        router.skill_lines is not None,
        router.max_new_tokens,
        drafter=router.drafter,
    )


def baseline_router(router: LocalRouter, model_dir: Path) -> Any:
    """Plain ``generate`` on the same merged model: full prompt, no prefix cache, no constraint."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    tokenizer = router.tokenizer

    def route(utterance: str) -> tuple[str, int, float]:
        start = time.perf_counter()
        ids = tokenizer(router.prompt(utterance), return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(
                **ids,
                max_new_tokens=router.max_new_tokens,
                do_sample=False,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.eos_token_id,
            )
        new = out[0, ids["input_ids"].shape[1] :]
        return tokenizer.decode(new, skip_special_tokens=True), len(new), (time.perf_counter() - start) * 1000

    return route


def run(adapter: Path, repeats: int) -> dict[str, Any]:
    load_before = os.getloadavg()
    pack = load_pack()
    samples = load_samples()
    audio = [read_wav(sample["file"]) for sample in samples]
    transcriber = load_transcriber("faster-whisper")
    router = load_local_router(pack, adapter)
    transcripts = [transcriber.transcribe(clip) for clip in audio[:2]]  # warm-up
    router.route(transcripts[0])
    free = without_spans(router)
    free.route(transcripts[0])
    one_thread = load_local_router(pack, adapter, threads=1)
    one_thread.route(transcripts[0])

    calls: list[str]
    stt_ms, route_ms, e2e_ms, tokens_per_s, transcripts, calls = [], [], [], [], [], []
    free_ms, one_thread_ms, compile_ms = [], [], []
    for _ in range(repeats):
        transcripts, calls = [], []
        for clip in audio:
            start = time.perf_counter()
            text = transcriber.transcribe(clip)
            heard = time.perf_counter()
            routed = router.route(text)
            done = time.perf_counter()
            stt_ms.append((heard - start) * 1000)
            route_ms.append(routed.latency_ms)
            e2e_ms.append((done - start) * 1000)
            tokens_per_s.append(routed.tokens / ((done - heard) or 1e-9))
            transcripts.append(text)
            calls.append(str(routed.calls))
            free_ms.append(free.route(text).latency_ms)
            one_thread_ms.append(one_thread.route(text).latency_ms)
            start = time.perf_counter()
            router.calls.fresh(" ".join(text.split()))
            compile_ms.append(elapsed_ms(start))
    rss_runtime = peak_rss_mb()

    baseline = baseline_router(router, merged_model_dir(RouterSpec.for_adapter(adapter).base_model, adapter))
    baseline(transcripts[0])
    baseline_ms, baseline_tokens = [], []
    for text in transcripts:
        _, tokens, ms = baseline(text)
        baseline_ms.append(ms)
        baseline_tokens.append(tokens / (ms / 1000))

    audio_s = [clip.size / 16000 for clip in audio]
    return {
        "machine": {**machine(load_before), "python": platform.python_version()},
        "n_commands": len(samples),
        "repeats": repeats,
        "audio_seconds": percentiles(audio_s),
        "stt_ms": percentiles(stt_ms),
        "route_ms": percentiles(route_ms),
        "route_ms_without_spans": percentiles(free_ms),
        "route_ms_one_thread": percentiles(one_thread_ms),
        "span_grammar_compile_ms": percentiles(compile_ms),
        "end_of_speech_to_dispatch_ms": percentiles(e2e_ms),
        "router_tokens_per_s": percentiles(tokens_per_s),
        "baseline_generate_ms": percentiles(baseline_ms),
        "baseline_tokens_per_s": percentiles(baseline_tokens),
        "router_speedup_p50": statistics.median(baseline_ms) / statistics.median(route_ms),
        "wer": word_error_rate([s["text"] for s in samples], transcripts),
        "calls_as_expected": sum(call == s["call"] for call, s in zip(calls, samples, strict=True)),  # one a sample
        "peak_rss_mb_runtime": rss_runtime,
        "peak_rss_mb_with_baseline": peak_rss_mb(),
    }


def show(result: dict[str, Any]) -> None:
    table = Table(
        title=f"voxroute latency, {result['n_commands']} spoken commands x {result['repeats']} "
        f"({result['machine']['cpus']} CPUs)"
    )
    for column in ("stage", "p50", "p95", "mean"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for key, label in (
        ("stt_ms", "speech recognition (ms)"),
        ("route_ms", "router (ms)"),
        ("route_ms_without_spans", "router without span grammar (ms)"),
        ("route_ms_one_thread", "router with one thread (ms)"),
        ("span_grammar_compile_ms", "per-request span grammar compile (ms)"),
        ("end_of_speech_to_dispatch_ms", "end of speech → dispatch (ms)"),
        ("router_tokens_per_s", "router tokens/s"),
        ("baseline_generate_ms", "baseline: plain generate (ms)"),
        ("baseline_tokens_per_s", "baseline tokens/s"),
        ("audio_seconds", "command length (s)"),
    ):
        row = result[key]
        table.add_row(label, *(f"{row[p]:.1f}" for p in ("p50", "p95", "mean")))
    console = Console()
    console.print(table)
    console.print(
        f"router speed-up over plain generate (p50 ratio, same run): {result['router_speedup_p50']:.1f}x; "
        f"WER {100 * result['wer']:.1f}%; calls as expected {result['calls_as_expected']}/"
        f"{result['n_commands']}; peak RSS {result['peak_rss_mb_runtime']:.0f} MB "
        f"({result['peak_rss_mb_with_baseline']:.0f} MB with the baseline loaded); load average "
        f"{result['machine']['load_average_before'][0]:.1f} -> {result['machine']['load_average_after'][0]:.1f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapter", type=Path, default=SHIPPED_ADAPTER)
    parser.add_argument("--repeats", type=int, default=3, help="passes over the recordings (default 3)")
    parser.add_argument(
        "--out", type=Path, help=f"JSON results (default: {OUT.name}, {realtime.OUT.name} with --realtime)"
    )
    parser.add_argument("--realtime", action="store_true", help="play recordings in real time into the listening loops")
    parser.add_argument(
        "--loops",
        default="today,new",
        help="with --realtime: today, new, new:<turn_end> (router, smart-turn, both, silence), unguessed "
        "(new without the router's checked guesses), comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--turn-end",
        action="store_true",
        help="score the end-of-turn judges (router, Smart Turn, both) on the recordings, offline",
    )
    parser.add_argument(
        "--limit", type=int, help="with --realtime or --turn-end: this many recordings, spread over all"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=realtime.TIME_LIMIT_S,
        help="with --realtime: seconds a loop may stay busy after a recording ends (default: %(default)s)",
    )
    parser.add_argument(
        "--steps",
        action="store_true",
        help="count the decode steps the grammar forces on the independent sets, and time the first call",
    )
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be at least 1, not {args.limit}")
    if args.steps:
        result = steps.run(args.adapter, REPO_ROOT / "benchmarks" / "router", args.limit)
        steps.show(result)
        write_atomically(args.out or steps.OUT, json.dumps(result, indent=2) + "\n")
        return
    if args.turn_end:
        result = turn_end.run(args.adapter, args.limit)
        turn_end.show(result)
        write_atomically(args.out or turn_end.OUT, json.dumps(result, indent=2) + "\n")
        return
    if not args.realtime:
        result = run(args.adapter, args.repeats)
        show(result)
        write_atomically(args.out or OUT, json.dumps(result, indent=2) + "\n")
        return
    if args.time_limit <= 0:
        parser.error(f"--time-limit must be positive, not {args.time_limit:g}")
    try:
        loops = realtime.parse_loops(args.loops)
    except ValueError as error:
        parser.error(str(error))
    result = realtime.run(loops, args.limit, args.adapter, args.time_limit)
    realtime.show(result)
    write_atomically(args.out or realtime.OUT, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
