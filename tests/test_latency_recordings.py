"""The real-time benchmark's recordings: made by espeak-ng and sox, described truly by their manifest, seeded."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.voice.audio import read_wav
from benchmarks.latency.recordings import MANIFEST, generate, read_manifest, splits

COUNT = 6  # unfinished, looks finished, two without a pause, unfinished, looks finished (two with noise)
HOP = 320


def longest_inner_quiet_s(audio: np.ndarray) -> float:
    """The longest run of 20 ms frames near the noise floor (the lead-in's level) between the first and last speech."""
    rms = np.sqrt(np.mean(np.square(audio[: audio.size // HOP * HOP].reshape(-1, HOP)), axis=1))
    floor = np.sqrt(np.mean(np.square(audio[:4000])))  # the first 0.25 s are silence or noise only
    quiet = rms < max(3 * floor, rms.max() * 0.01)
    loud = np.flatnonzero(~quiet)
    best = run = 0
    for frame in quiet[loud[0] : loud[-1]]:
        run = run + 1 if frame else 0
        best = max(best, run)
    return best * HOP / 16000


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    folder = tmp_path_factory.mktemp("recordings")
    return folder, generate(folder, COUNT, seed=0)


def test_files_and_manifest(made: tuple[Path, list]) -> None:
    folder, records = made
    assert [r.path for r in read_manifest(folder)] == [r.path for r in records]
    lines = [json.loads(line) for line in (folder / MANIFEST).read_text().splitlines()]
    assert len(lines) == COUNT
    assert set(lines[0]) == {
        "path",
        "text",
        "call",
        "voice",
        "wpm",
        "snr_db",
        "pause_s",
        "pause_kind",
        "speech_end_s",
        "resume_s",
    }
    assert [r.pause_kind for r in records] == [
        "unfinished",
        "looks finished",
        None,
        None,
        "unfinished",
        "looks finished",
    ]
    assert sum(r.snr_db is not None for r in records) == 2
    for record in records:
        with wave.open(record.path, "rb") as file:
            assert (file.getframerate(), file.getnchannels(), file.getsampwidth()) == (16000, 1, 2)
            seconds = file.getnframes() / 16000
        assert 0.3 < record.speech_end_s < seconds
        assert 140 <= record.wpm <= 190
        assert record.snr_db is None or 10 <= record.snr_db <= 20
        assert (record.pause_s is None) == (record.pause_kind is None) == (record.resume_s is None)
        if record.resume_s is not None:
            assert 0.3 + record.pause_s < record.resume_s < record.speech_end_s


def test_a_pause_is_a_quiet_stretch_of_400_to_600_ms_until_resume_s(made: tuple[Path, list]) -> None:
    for record in made[1]:
        if record.pause_s is not None:
            assert 0.4 <= record.pause_s <= 0.6
            audio = read_wav(record.path)
            assert 0.38 <= longest_inner_quiet_s(audio) <= 0.64, record
            resume = round(record.resume_s * 16000)
            level = [np.sqrt(np.mean(np.square(audio[start : start + 1600]))) for start in (resume - 1600, resume)]
            assert level[0] < 0.5 * level[1], record  # the pause ends where the manifest says


def test_speech_ends_where_the_manifest_says(made: tuple[Path, list]) -> None:
    for record in made[1]:
        audio = read_wav(record.path)
        end = round(record.speech_end_s * 16000)
        after, before = audio[end + HOP :], audio[end - 3 * HOP : end]
        assert np.sqrt(np.mean(np.square(after))) < 0.5 * np.sqrt(np.mean(np.square(before))), record


def test_the_same_seed_makes_the_same_recordings(made: tuple[Path, list], tmp_path: Path) -> None:
    _folder, records = made
    again = generate(tmp_path, COUNT, seed=0)
    assert [Path(r.path).name for r in again] == [Path(r.path).name for r in records]
    for first, second in zip(records, again, strict=True):
        assert Path(first.path).read_bytes() == Path(second.path).read_bytes()
        assert {**vars(first), "path": ""} == {**vars(second), "path": ""}


def test_a_second_run_writes_only_what_is_missing(made: tuple[Path, list]) -> None:
    folder, records = made
    Path(records[0].path).unlink()
    kept = Path(records[1].path).stat().st_mtime_ns
    assert generate(folder, COUNT, seed=0) == records
    assert Path(records[0].path).is_file() and Path(records[1].path).stat().st_mtime_ns == kept


def test_pause_points() -> None:
    call = 'timecheck(location="Tokyo")'
    assert splits("what's the time in Tokyo", call) == {
        "unfinished": ("what's the time in", "Tokyo"),
        "looks finished": ("what's the time", "in Tokyo"),
    }
    assert splits("set a timer for ten minutes please", 'timer(duration="ten minutes")') == {
        "unfinished": ("set a timer for", "ten minutes please"),
        "looks finished": ("set a timer", "for ten minutes please"),
    }
    assert splits("paint the kitchen yellow", "other()") == {}
