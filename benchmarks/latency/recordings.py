"""Spoken commands for the real-time latency benchmark: ``python -m benchmarks.latency.recordings``.

Made with espeak-ng (several voices, 140-190 words a minute) and sox, 16 kHz mono 16-bit WAV,
from the independent commands of ``benchmarks/router/fresh_utterances.jsonl``. Half of them pause
400-600 ms inside the command, which is where an end-of-turn detector can cut a speaker off:

- "unfinished": the pause comes right before the last argument value, after words that cannot
  end a request ("set a timer for ... ten minutes", "what's the time in ... Tokyo");
- "looks finished": the pause comes before the prepositional phrase that carries that value, after
  words that are a request by themselves ("what's the weather ... in Rome", "set a timer ... for
  ten minutes").

The two parts are synthesized apart, cut to their voiced frames and joined with the pause. A
third of the recordings are mixed with pink noise (numpy, seeded) at 10-20 dB SNR, measured
against the power of the voiced frames; the pause then holds the noise floor. ``speech_end_s`` is
the end of the last voiced 20 ms frame (within 40 dB of the loudest), taken before noise is added;
``resume_s`` the start of the speech after the pause.

Everything is seeded; files are named by what they contain, so a second run reuses them and
writes only what is missing, then the manifest (one JSON record a line).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from assistant.files import staged_file, write_atomically
from assistant.routing.calls import parse_calls
from assistant.runtime.pack import REPO_ROOT
from assistant.voice.audio import SAMPLE_RATE, read_wav, write_wav
from assistant.voice.tts import synthesize_wav

FOLDER = REPO_ROOT / "runs" / "recordings"
UTTERANCES = REPO_ROOT / "benchmarks" / "router" / "fresh_utterances.jsonl"
MANIFEST = "manifest.jsonl"
COUNT = 240

VOICES = ("en-us", "en-gb", "en-us+f3", "en-us+m3", "en-gb+f2", "en-gb-x-rp")
WPM = (140, 190)
SNR_DB = (10.0, 20.0)
PAUSE_S = (0.4, 0.6)
LEAD_S, TAIL_S = 0.3, 1.0
HOP = SAMPLE_RATE // 50  # 20 ms frames
BELOW_PEAK_DB = 40.0
# Kinds in turn, so that any count mixes them: half pause (both kinds equally), half speak in one go.
CYCLE = ("unfinished", "looks finished", None, None)

# Words after which a request cannot be over.
OPEN_WORDS = {
    "in",
    "for",
    "at",
    "on",
    "about",
    "to",
    "of",
    "into",
    "like",
    "the",
    "a",
    "an",
    "my",
    "this",
    "that",
    "called",
    "named",
    "me",
    "up",
    "is",
    "and",
    "or",
    "with",
    "um",
    "uh",
}
PREPOSITIONS = {"in", "for", "at", "on", "about", "to", "into"}
MAX_WORDS_AFTER_VALUE = 2  # "... Tokyo right now" still ends with the value's phrase


@dataclass(frozen=True)
class Recording:
    """One manifest record; ``resume_s`` is where the speech after the pause starts (None without a pause)."""

    path: str
    text: str
    call: str
    voice: str
    wpm: int
    snr_db: float | None
    pause_s: float | None
    pause_kind: str | None
    speech_end_s: float
    resume_s: float | None


@dataclass(frozen=True)
class Plan:
    """What one recording says and how: ``parts`` are the text before and after the pause (one part: no pause)."""

    parts: tuple[str, ...]
    call: str
    voice: str
    wpm: int
    snr_db: float | None
    pause_s: float | None
    pause_kind: str | None
    seed: int

    def name(self) -> str:
        digest = hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]
        return f"{digest}.wav"


def _words(text: str) -> list[str]:
    return [word.strip("?,.!").casefold() for word in text.split()]


def splits(text: str, call: str) -> dict[str, tuple[str, str]]:
    """The pause points of a command, by kind: before the argument value said last, or before its phrase."""
    values = [_words(value) for raw in parse_calls(call) for _key, value in raw.keywords if isinstance(value, str)]
    words, said = text.split(), _words(text)
    found_at = []  # (word index, length) of each value's last occurrence
    for wanted in values:
        at = [i for i in range(len(said) - len(wanted) + 1) if wanted and said[i : i + len(wanted)] == wanted]
        if at:
            found_at.append((at[-1], len(wanted)))
    if not found_at:
        return {}
    start, length = max(found_at)
    if start < 2 or len(said) - start - length > MAX_WORDS_AFTER_VALUE:
        return {}
    found = {}
    if said[start - 1] in OPEN_WORDS:
        found["unfinished"] = (" ".join(words[:start]), " ".join(words[start:]))
    phrase = start - 1  # the value's prepositional phrase, after a request that stands alone without it
    if said[phrase] in PREPOSITIONS and phrase >= 2 and said[phrase - 1] not in OPEN_WORDS:
        found["looks finished"] = (" ".join(words[:phrase]), " ".join(words[phrase:]))
    return found


def load_commands(path: Path = UTTERANCES) -> list[tuple[str, str]]:
    """(text, expected calls) of the commands espeak can say: not the bracketed noise markers."""
    commands = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            text, call = record["user"], record["call"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a record with user and call ({error})") from None
        if not re.search(r"[\[\]]", text):
            commands.append((text, call))
    return commands


def plan(count: int = COUNT, seed: int = 0, commands: list[tuple[str, str]] | None = None) -> list[Plan]:
    """``count`` recordings, the same for the same arguments."""
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    commands = commands if commands is not None else load_commands()
    rng = np.random.default_rng(seed)
    pools: dict[str | None, list[tuple[tuple[str, ...], str]]] = {None: [((text,), call) for text, call in commands]}
    kind: str | None  # a pause kind; None: the whole command
    for text, call in commands:
        for kind, parts in splits(text, call).items():
            pools.setdefault(kind, []).append((parts, call))
    orders = {kind: list(rng.permutation(len(pool))) for kind, pool in pools.items()}
    plans = []
    for index in range(count):
        kind = CYCLE[index % len(CYCLE)]
        order = orders[kind]
        parts, call = pools[kind][order[(index // len(CYCLE)) % len(order)]]
        plans.append(
            Plan(
                parts=parts,
                call=call,
                voice=str(rng.choice(VOICES)),
                wpm=int(rng.integers(WPM[0], WPM[1] + 1)),
                snr_db=round(float(rng.uniform(*SNR_DB)), 1) if index % 3 == 2 else None,
                pause_s=round(float(rng.uniform(*PAUSE_S)), 2) if kind else None,
                pause_kind=kind,
                seed=int(rng.integers(2**31)),
            )
        )
    return plans


def voiced(audio: np.ndarray) -> np.ndarray:
    """Which 20 ms frames are voiced: RMS within 40 dB of the loudest frame."""
    usable = audio.size // HOP * HOP
    rms = np.sqrt(np.mean(np.square(audio[:usable].reshape(-1, HOP), dtype=np.float64), axis=1))
    return rms > max(rms.max(initial=0.0) * 10 ** (-BELOW_PEAK_DB / 20), 1e-6)


def _speak(text: str, voice: str, wpm: int) -> np.ndarray:
    """espeak-ng speech of ``text`` cut to its voiced frames."""
    with tempfile.TemporaryDirectory() as folder:
        audio = read_wav(synthesize_wav(text, Path(folder) / "part.wav", voice=voice, wpm=wpm))
    frames = np.flatnonzero(voiced(audio))
    if frames.size == 0:
        raise ValueError(f"espeak-ng said nothing audible for {text!r} (voice {voice})")
    return audio[frames[0] * HOP : (frames[-1] + 1) * HOP]


def pink_noise(samples: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with power falling as 1/f (white noise shaped in the frequency domain), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1))
    noise = np.fft.irfft(spectrum, samples)
    return noise / np.sqrt(np.mean(np.square(noise)))


def render(item: Plan) -> tuple[np.ndarray, float, float | None]:
    """The recording's audio, the end of its speech and the start of the speech after the pause, in seconds."""
    pieces = [np.zeros(round(LEAD_S * SAMPLE_RATE), dtype=np.float32)]
    resume_s = None
    for number, part in enumerate(item.parts):
        if number:
            pieces.append(np.zeros(round((item.pause_s or 0.0) * SAMPLE_RATE), dtype=np.float32))
            resume_s = sum(piece.size for piece in pieces) / SAMPLE_RATE
        pieces.append(_speak(part, item.voice, item.wpm))
    pieces.append(np.zeros(round(TAIL_S * SAMPLE_RATE), dtype=np.float32))
    clean = np.concatenate(pieces)
    loud = voiced(clean)
    speech_end_s = (np.flatnonzero(loud)[-1] + 1) * HOP / SAMPLE_RATE
    if item.snr_db is None:
        return clean, speech_end_s, resume_s
    speech_power = np.mean(np.square(clean[: loud.size * HOP].reshape(-1, HOP)[loud], dtype=np.float64))
    noise = pink_noise(clean.size, np.random.default_rng(item.seed)) * np.sqrt(speech_power / 10 ** (item.snr_db / 10))
    mixed = clean + noise
    peak = np.abs(mixed).max()
    return (mixed * (0.95 / peak) if peak > 0.95 else mixed).astype(np.float32), speech_end_s, resume_s


def read_manifest(folder: Path) -> list[Recording]:
    """The manifest's records with ``path`` made absolute (the file holds names relative to ``folder``)."""
    path = folder / MANIFEST
    if not path.is_file():
        return []
    try:
        records = [
            Recording(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
    except (json.JSONDecodeError, TypeError) as error:
        raise ValueError(f"{path}: not a recordings manifest ({error}); delete it to regenerate") from None
    return [replace(record, path=str(folder / record.path)) for record in records]


def generate(
    folder: Path = FOLDER, count: int = COUNT, seed: int = 0, commands: list[tuple[str, str]] | None = None
) -> list[Recording]:
    """Make the planned recordings that ``folder`` lacks, write the manifest, return its records; ``commands``
    as :func:`plan` takes them."""
    known = {record.path: record for record in read_manifest(folder)}
    records = []
    for item in plan(count, seed, commands):
        path = folder / item.name()
        record = known.get(str(path))
        if record is None or not path.is_file():
            audio, speech_end_s, resume_s = render(item)
            with staged_file(path) as temp:
                write_wav(temp, audio)
            record = Recording(
                path=str(path),
                text=" ".join(item.parts),
                call=item.call,
                voice=item.voice,
                wpm=item.wpm,
                snr_db=item.snr_db,
                pause_s=item.pause_s,
                pause_kind=item.pause_kind,
                speech_end_s=round(float(speech_end_s), 3),
                resume_s=None if resume_s is None else round(resume_s, 3),
            )
        records.append(record)
    lines = [json.dumps({**asdict(r), "path": Path(r.path).name}, ensure_ascii=False) + "\n" for r in records]
    write_atomically(folder / MANIFEST, "".join(lines))
    return records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.latency.recordings", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, default=FOLDER, help="folder (default: %(default)s)")
    parser.add_argument("--count", type=int, default=COUNT, help="recordings (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        records = generate(args.out, args.count, args.seed)
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    kinds = Counter(record.pause_kind or "no pause" for record in records)
    noisy = sum(record.snr_db is not None for record in records)
    print(
        f"{len(records)} recordings in {args.out} ({MANIFEST}): "
        + ", ".join(f"{n} {k}" for k, n in kinds.items())
        + f"; {noisy} with noise at {SNR_DB[0]:g}-{SNR_DB[1]:g} dB SNR; voices {', '.join(VOICES)}"
    )


if __name__ == "__main__":
    main()
