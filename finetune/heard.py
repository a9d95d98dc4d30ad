"""Training records as the recogniser hears them (issue #32 item 5).

    python -m finetune.heard --data dataset/training_data.json --out dataset/heard.jsonl --count 2400 --seed 0

The router is trained on written utterances but, by voice, reads Whisper's transcripts: "10 minutes" for
"ten minutes", "ice mocha" for "iced mocha". This speaks a seeded, per-skill stratified sample of the
data set's single-turn training records with several espeak-ng voices and speeds, lays noise under two
thirds of them (``--noise``, else the Picovoice kitchen noise where ``../shared/data/picovoice`` has it,
else generated pink or white noise: ``--generated-noise`` for a pack judged over the kitchen noise,
which must not train on the noise it is tested in), transcribes them with the recogniser
``voxroute run`` builds, and keeps each call with its copied values re-found in the transcript: the same
words case and punctuation aside, else the same after Whisper's normalizer, else the closest words of about the
same length (rapidfuzz ratio >= 85, the same numbers). A choice said as written stays as it is, but must
be re-found the same way ("ice mocha" says "iced mocha", "mid copy" does not say "drip coffee"). A
record whose value cannot be re-found is dropped, and so is one whose other values (a math expression:
kept as they are) hold a number said but not heard; the summary counts the reasons.

Each line of the output is ``{"user", "call", "source", "spoken", "split"}``: the transcript, the
relabelled calls, ``heard:<voice>:<wpm>:<SNR>dB`` or ``...:clean``, the written utterance, and
``"train"`` (the records come from the training split, and :func:`finetune.records.read_records` reads
a record without a split as an evaluation record). Exit codes: 0 ok, 1 bad input.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track

from assistant.config import Config
from assistant.errors import VoxrouteError
from assistant.files import write_atomically
from assistant.routing.calls import Call, CallError, Calls, Literal_
from assistant.routing.spans import is_span, quotable
from assistant.runtime.example_files import utterance_key
from assistant.runtime.pack import DEFAULT_MODULE, REPO_ROOT, SkillPack, load_pack
from assistant.voice.audio import SAMPLE_RATE, AudioError, mix, read_wav
from assistant.voice.stt import (
    Transcriber,
    configured_transcriber,
    transcript_normalizer,
    without_closing_punctuation,
)
from assistant.voice.tts import TTSError, synthesize_wav
from finetune.records import Record, read_records

OK, BAD_INPUT = 0, 1
MAX_COUNT = 20000  # records to speak at most: about 3 hours on 2 cores
# espeak-ng's English voices with its voice variants (f: female, m: male); `espeak-ng --voices=en` lists them.
VOICES = ("en-us", "en-gb", "en-gb-x-rp", "en-us+f3", "en-gb+m3", "en-us+f4", "en-gb-scotland", "en-us-nyc+f2")
WPM = (120, 170)  # words a minute; espeak-ng's default 175 is often misheard by tiny.en
SNR_DB = (6, 24)  # the barista benchmark's range over kitchen noise
NOISY_SHARE = 2 / 3
MIN_RATIO = 85  # rapidfuzz ratio (0-100) of a misheard value to the words it was heard as
DEFAULT_NOISE = REPO_ROOT.parent / "shared" / "data" / "picovoice" / "kitchen.wav"
MAX_NOISE_S = 600.0
GENERATED = ("pink", "white")
_WORD = re.compile(r"\w+")
_DIGITS = re.compile(r"\d+")
console = Console(stderr=True)


class HeardError(VoxrouteError, ValueError):
    """Input that cannot be used; the message names the file or value."""


@dataclass(frozen=True)
class Condition:
    """How one record is spoken and heard: voice, speed, and the SNR of the noise under it (None: clean)."""

    voice: str
    wpm: int
    snr_db: int | None

    @property
    def source(self) -> str:
        return f"heard:{self.voice}:{self.wpm}:{'clean' if self.snr_db is None else f'{self.snr_db}dB'}"


@dataclass
class Summary:
    """What became of the records spoken: kept, dropped by reason, how values were re-found."""

    kept: int = 0
    changed: int = 0  # kept records whose transcript differs from the written utterance after normalization
    dropped: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)  # copied values by how they were re-found

    def lines(self) -> list[str]:
        spoken = self.kept + sum(self.dropped.values())
        share = f"{100 * self.changed / self.kept:.1f} %" if self.kept else "-"
        lines = [f"spoken {spoken}, kept {self.kept}, transcript differs (normalised) in {self.changed} ({share})"]
        lines += [f"dropped {count}: {reason}" for reason, count in self.dropped.most_common()]
        lines += [f"values re-found {how}: {count}" for how, count in self.found.most_common()]
        return lines


def eligible(records: Sequence[Record]) -> list[Record]:
    """Single-turn records with calls: a follow-up needs its previous turn, and an unfinished one its cut."""
    return [record for record in records if record.context is None and not record.calls.unfinished]


def stratified_sample(records: Sequence[Record], count: int, rng: random.Random) -> list[Record]:
    """``count`` records, each skill (the first call's) in proportion to its records and at least once."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        groups[record.calls[0].name].append(record)
    if count >= len(records):
        return list(records)
    if count < len(groups):
        raise HeardError(f"--count {count}: fewer than the {len(groups)} skills of the data set")
    names = sorted(groups)
    exact = {name: count * len(groups[name]) / len(records) for name in names}
    shares = {name: max(1, int(exact[name])) for name in names}
    by_remainder = sorted(names, key=lambda name: (int(exact[name]) - exact[name], name))
    for name in by_remainder[: max(0, count - sum(shares.values()))]:
        shares[name] += 1
    while sum(shares.values()) > count:  # the skills raised to one record are paid for by the largest
        shares[max(names, key=lambda name: (shares[name], name))] -= 1
    chosen = [record for name in names for record in rng.sample(groups[name], min(shares[name], len(groups[name])))]
    rng.shuffle(chosen)
    return chosen


def draw_condition(rng: random.Random) -> Condition:
    snr = rng.randint(*SNR_DB) if rng.random() < NOISY_SHARE else None
    return Condition(rng.choice(VOICES), rng.randint(*WPM), snr)


def generated_noise(size: int, rng: np.random.Generator, kind: str) -> np.ndarray:
    """``size`` samples of white noise, or pink (power falling as 1/f) shaped from it."""
    white = rng.standard_normal(size)
    if kind == "white":
        return white.astype(np.float32)
    spectrum = np.fft.rfft(white)
    frequencies = np.arange(spectrum.size, dtype=np.float64)
    frequencies[0] = 1.0
    return np.fft.irfft(spectrum / np.sqrt(frequencies), n=size).astype(np.float32)


def noisy(speech: np.ndarray, noise: np.ndarray | None, snr_db: int, name: str, rng: np.random.Generator) -> np.ndarray:
    """``speech`` mixed as the barista benchmark mixes, over ``noise`` (repeated when shorter) or generated noise."""
    if noise is None:
        noise = generated_noise(speech.size + SAMPLE_RATE, rng, GENERATED[int(rng.integers(len(GENERATED)))])
    elif noise.size <= speech.size:
        noise = np.tile(noise, speech.size // noise.size + 2)
    return mix(speech, noise, snr_db, name)


class ValueFinder:
    """Re-finds a value copied from the written utterance among the words of a transcript."""

    def __init__(self, normalize: Callable[[str], str]) -> None:
        self._normalize = normalize
        self._normalized: dict[str, str] = {}

    def normalized(self, text: str) -> str:
        if text not in self._normalized:
            self._normalized[text] = self._normalize(text)
        return self._normalized[text]

    def find(self, value: str, transcript: str) -> tuple[str, str] | None:
        """The words of ``transcript`` that say ``value``, and how they were found; None when none do.

        Candidates are runs of whole words (so each is a span of the transcript); the first that
        equals the value case and punctuation aside wins, else the first equal after Whisper's
        normalizer, else the closest of about the same length with the same numbers.
        """
        from rapidfuzz import fuzz

        line = quotable(transcript)
        words = [(match.start(), match.end()) for match in _WORD.finditer(line)]
        size = len(_WORD.findall(value))
        if not size:
            return None
        candidates = [
            line[words[first][0] : words[last][1]]
            for first in range(len(words))
            for last in range(first, min(len(words), first + 2 * size + 3))
        ]
        key = utterance_key(value)
        for candidate in candidates:
            if utterance_key(candidate) == key:
                return candidate, "as written"
        normalized = self.normalized(value)
        same = [candidate for candidate in candidates if normalized and self.normalized(candidate) == normalized]
        if same:  # the fewest words: "um 10 minutes" normalises as "10 minutes" does
            return min(same, key=lambda candidate: len(_WORD.findall(candidate))), "normalised"
        numbers = _DIGITS.findall(normalized)
        best: tuple[float, str] | None = None
        for candidate in candidates:
            if abs(len(_WORD.findall(candidate)) - size) > 1 or not 0.75 <= len(candidate) / len(value) <= 4 / 3:
                continue
            if _DIGITS.findall(self.normalized(candidate)) != numbers:
                continue
            ratio = max(fuzz.ratio(utterance_key(candidate), key), fuzz.ratio(self.normalized(candidate), normalized))
            if ratio >= MIN_RATIO and (best is None or ratio > best[0]):
                best = (ratio, candidate)
        return (best[1], "fuzzy") if best else None


def copied_arguments(call: Call, said: str, pack: SkillPack) -> set[str]:
    """The arguments of ``call`` whose values are words of ``said``: span arguments, and free text without
    a resolver that copies the utterance (``ask``'s question); a math expression or a choice is not."""
    parameters = {parameter.name: parameter for parameter in pack.skills[call.name].parameters}
    return {
        name
        for name, value in call.args
        if isinstance(value, str)
        and (
            parameters[name].span
            or (parameters[name].resolver is None and parameters[name].choices is None and is_span(value, said))
        )
    }


def said_choices(call: Call, said: str, pack: SkillPack) -> set[str]:
    """The arguments of ``call`` that are choices said as written in ``said``: such a value stays as it is,
    but only where the transcript says it, closely enough."""
    parameters = {parameter.name: parameter for parameter in pack.skills[call.name].parameters}
    return {
        name
        for name, value in call.args
        if isinstance(value, str) and parameters[name].choices is not None and is_span(value, said)
    }


def relabel(record: Record, transcript: str, pack: SkillPack, finder: ValueFinder) -> tuple[Calls, list[str]] | str:
    """The record's calls with their copied values re-found in ``transcript`` (and how each was found),
    validated against the pack with the transcript as what was said; else the reason to drop it. A value
    not copied (a math expression) is kept as it is, but not when a number said for it was not heard."""
    calls, how = [], []
    heard_numbers = set(_DIGITS.findall(finder.normalized(transcript)))
    for call in record.calls:
        copied = copied_arguments(call, record.user, pack)
        chosen = said_choices(call, record.user, pack)
        args: list[tuple[str, Literal_]] = []
        for name, value in call.args:
            if isinstance(value, str) and name not in copied:
                said = set(_DIGITS.findall(value)) & set(_DIGITS.findall(finder.normalized(record.user)))
                if not said <= heard_numbers:  # "subtract eight from a hundred" heard without the eight
                    return f"{call.name}.{name}: a number not heard"
            if name in copied or name in chosen:
                found = finder.find(str(value), transcript)
                if found is None:  # "mid copy" does not say "drip coffee"
                    return f"{call.name}.{name} not heard"
                if name in copied:  # a choice stays as written: "ice mocha" says "iced mocha"
                    value = found[0]
                    how.append(found[1])
            args.append((name, value))
        calls.append(Call(call.name, tuple(args)))
    try:
        return pack.parse_calls(str(Calls(calls)), said=transcript), how
    except CallError as error:
        return f"invalid call ({type(error).__name__})"


def runtime_transcriber(pack: SkillPack, config: Config | None = None) -> Transcriber:
    """The recogniser as ``voxroute run`` builds it (:func:`assistant.app.build_assistant`): the
    ``[voice]`` backend, model and encoder context, told the pack's vocabulary where the setting says."""
    return configured_transcriber((config or Config()).voice, pack)


def recognise(transcriber: Transcriber, audio: np.ndarray) -> str:
    """The transcript the router is given: the pipeline's :meth:`~assistant.pipeline.Assistant.recognise`."""
    return without_closing_punctuation(transcriber.transcribe(audio).strip())


def hear(
    records: Sequence[Record],
    pack: SkillPack,
    transcriber: Transcriber,
    noise: np.ndarray | None,
    seed: int,
    summary: Summary,
    known: Set[str],
    max_s: float = Config().voice.max_utterance_s,
) -> list[dict[str, str]]:
    """Speak, (maybe) noise, transcribe and relabel each record; the kept ones as output lines. A transcript
    whose key is ``known`` (a sentence of the data set, in any split) is no new reading: it is left out, as
    ``training_data.py --records`` would leave it out, so no file of heard sentences repeats a written one."""
    rng = random.Random(f"heard:{seed}")
    conditions = [draw_condition(rng) for _ in records]
    finder = ValueFinder(transcript_normalizer())
    kept = []
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        for index, (record, condition) in enumerate(
            track(list(zip(records, conditions, strict=True)), description="hearing", console=console)
        ):
            try:
                synthesize_wav(record.user, wav, voice=condition.voice, wpm=condition.wpm)
            except (TTSError, subprocess.TimeoutExpired):
                summary.dropped["espeak-ng failed"] += 1
                continue
            try:
                audio = read_wav(wav, max_s)
            except AudioError:
                summary.dropped[f"spoken longer than {max_s:g} s"] += 1
                continue
            if condition.snr_db is not None:
                audio = noisy(audio, noise, condition.snr_db, f"{seed}:{index}", np.random.default_rng([seed, index]))
            transcript = recognise(transcriber, audio)
            if not transcript:
                summary.dropped["heard nothing"] += 1
                continue
            if utterance_key(transcript) in known:
                summary.dropped["heard as a sentence of the data set"] += 1
                continue
            result = relabel(record, transcript, pack, finder)
            if isinstance(result, str):
                summary.dropped[result] += 1
                continue
            calls, how = result
            summary.kept += 1
            summary.found.update(how)
            summary.changed += finder.normalized(transcript) != finder.normalized(record.user)
            kept.append(
                {
                    "user": transcript,
                    "call": str(calls),
                    "source": condition.source,
                    "spoken": record.user,
                    "split": "train",
                }
            )
    return kept


def load_noise(path: Path | None, generated: bool = False) -> np.ndarray | None:
    """The noise to mix: ``path``, else the kitchen noise where it is, else (or if ``generated``) None: generated."""
    if generated:
        return None
    if path is None:
        path = DEFAULT_NOISE if DEFAULT_NOISE.is_file() else None
    return None if path is None else read_wav(path, MAX_NOISE_S)


def _count(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{value} is outside 1-{MAX_COUNT}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m finetune.heard", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the data set (training_data.json)")
    parser.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    parser.add_argument("--count", type=_count, default=2400, help=f"records to speak, 1-{MAX_COUNT} (%(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample, voices, speeds and noise")
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("--noise", type=Path, help=f"a WAV file of noise (default: {DEFAULT_NOISE} if there)")
    noise.add_argument(
        "--generated-noise", action="store_true", help="generated pink and white noise, never a recorded one"
    )
    parser.add_argument("--skills", default=DEFAULT_MODULE, help="module of the skill pack (default: %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="a traceback on errors")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        pack = load_pack(args.skills)
        data = read_records(args.data, pack)
        records = eligible([record for record in data if record.split == "train"])
        if not records:
            raise HeardError(f"{args.data}: no single-turn training records")
        chosen = stratified_sample(records, args.count, random.Random(args.seed))
        noise = load_noise(args.noise, args.generated_noise)
        summary = Summary()
        known = {utterance_key(record.user) for record in data}
        kept = hear(chosen, pack, runtime_transcriber(pack), noise, args.seed, summary, known)
        write_atomically(args.out, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in kept))
    except (VoxrouteError, ValueError, ImportError, OSError) as error:
        if args.verbose:
            raise
        lines = str(error).splitlines() or [type(error).__name__]
        more = f" (and {len(lines) - 1} more problems)" if len(lines) > 1 else ""
        console.print(f"error: {lines[0]}{more}", style="red", markup=False, highlight=False, soft_wrap=True)
        return BAD_INPUT
    print("\n".join(summary.lines()))
    print(f"noise: {'generated pink/white' if noise is None else args.noise or DEFAULT_NOISE}")
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    return OK


if __name__ == "__main__":
    sys.exit(main())
