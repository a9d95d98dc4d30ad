"""Random bytes as a recording, a config file and an example file (#37): each is read into what it should be,
or refused with the reader's own error, one line naming the file, within a time and memory bound. Never another
exception, never a hang.

Every input is a real file; hypothesis draws the same examples on every run (derandomized), 200 per target.
"""

from __future__ import annotations

import os
import struct
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.config import DAY_S, MAX_CONFIG_BYTES, MAX_RETRIES, ConfigError, load_config
from assistant.runtime.example_files import ExamplesError, read_example_file
from assistant.runtime.pack import SkillPack, load_pack
from assistant.voice.audio import SAMPLE_RATE, WAV_MAX_RATE, WAV_MIN_RATE, AudioError, read_wav

CALL_LIMIT_S = 10.0  # one read of a few kB takes milliseconds; a hang is what this catches
MEMORY_LIMIT = 200 << 20  # bytes Python and numpy may hold at the peak of one read (#37: 200 MB)
FUZZ = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,  # read() bounds each call itself
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def pack() -> SkillPack:
    return load_pack()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the module: hypothesis runs many examples per test, each writes its file anew."""
    return tmp_path_factory.mktemp("fuzz")


def read(function: Callable[[], Any], error: type[Exception] | tuple[type[Exception], ...]) -> Any:
    """What ``function()`` returned, or the ``error`` it raised: run in a thread that must end within
    CALL_LIMIT_S, holding at most MEMORY_LIMIT bytes. Any other exception fails the test as it is."""
    done: Future[Any] = Future()

    def run() -> None:
        try:
            done.set_result(function())
        except BaseException as raised:  # handed to the test
            done.set_exception(raised)

    tracemalloc.start()
    try:
        threading.Thread(target=run, daemon=True).start()
        try:
            result = done.result(timeout=CALL_LIMIT_S)
        except error as refused:
            result = refused
        except TimeoutError:
            pytest.fail(f"the read took longer than {CALL_LIMIT_S:g} s")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= MEMORY_LIMIT, f"the read held {peak:,} bytes at its peak"
    return result


def one_line_naming(message: str, path: Path) -> None:
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(str(path)), message


# Recordings -------------------------------------------------------------------------------------------------------


def wav_header(format_tag: int, channels: int, rate: int, bits: int, data_bytes: int) -> bytes:
    """The 44-byte RIFF/WAVE header with whatever fields it is given, however absurd (sizes wrap as 32 bits do)."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", format_tag, channels, rate, rate * block % 2**32, block % 2**16, bits)
    return (
        b"RIFF"
        + struct.pack("<I", (36 + data_bytes) % 2**32)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", data_bytes % 2**32)
    )


GOOD_HEADER = wav_header(1, 1, SAMPLE_RATE, 16, 2 * SAMPLE_RATE)
u16, u32 = st.integers(0, 2**16 - 1), st.integers(0, 2**32 - 1)
recordings = st.one_of(
    st.binary(max_size=4096),
    st.binary(max_size=8192).map(lambda body: GOOD_HEADER + body),
    st.builds(
        wav_header,
        st.sampled_from([1, 3, 0xFFFE]) | u16,
        st.integers(0, 16) | u16,
        st.sampled_from([0, 1, WAV_MIN_RATE, SAMPLE_RATE, 48000, WAV_MAX_RATE, WAV_MAX_RATE + 1]) | u32,
        st.sampled_from([8, 16, 24, 32]) | u16,
        u32,
    ).flatmap(lambda header: st.binary(max_size=4096).map(lambda body: header + body)),
)


@FUZZ
@given(data=recordings)
def test_random_bytes_as_a_wav_file_are_read_or_refused_in_one_line(folder: Path, data: bytes) -> None:
    path = folder / "fuzz.wav"
    path.write_bytes(data)
    audio = read(lambda: read_wav(path), AudioError)
    if isinstance(audio, AudioError):
        one_line_naming(str(audio), path)
    else:  # mono 16 kHz, no more than the file held: at most a frame a byte, at WAV_MIN_RATE or more
        assert audio.dtype == np.float32 and audio.ndim == 1
        assert 0 < audio.size <= len(data) * SAMPLE_RATE / WAV_MIN_RATE
        assert np.all(np.abs(audio) <= 1.01)  # PCM in [-1, 1], give or take the resampler's ringing


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_a_wav_path_that_is_no_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    """A FIFO nobody writes to would block wave.open for ever."""
    path = {"fifo": tmp_path / "pipe.wav", "device": Path("/dev/zero"), "folder": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    refused = read(lambda: read_wav(path), AudioError)
    assert isinstance(refused, AudioError)
    one_line_naming(str(refused), path)


# Config files -----------------------------------------------------------------------------------------------------

NUMBER_KEYS = [
    ("router", "skill_timeout_s"),
    ("router", "max_retries"),
    ("router", "max_utterance_chars"),
    ("voice", "max_utterance_s"),
    ("news", "timeout_s"),
    ("llm", "max_new_tokens"),
    ("weather", "timeout_s"),
]
toml_values = st.one_of(
    st.integers(-5, 200).map(str),
    st.integers(-(2**70), 2**70).map(str),
    st.floats().map(repr),  # inf, nan and 1e+300 are TOML too
    st.sampled_from(["1e999", "-1e999", "nan", "inf", "0", "-0.0", "1_000", "0x7fffffffffffffff", "true", '""', "[]"]),
    st.text(max_size=40).map(lambda text: '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'),
)
toml_like = st.text(alphabet="[]{}=\"'.,#-+_: \n\tabcdefxyz0123456789eE\\", max_size=400)


def config_text(section: str, key: str, value: str) -> str:
    return f"[{section}]\n{key} = {value}\n"


configs = st.one_of(
    st.binary(max_size=2048),
    toml_like.map(str.encode),
    st.sampled_from(NUMBER_KEYS).flatmap(lambda key: toml_values.map(lambda value: config_text(*key, value).encode())),
)


@FUZZ
@given(data=configs)
def test_random_bytes_as_a_config_file_load_or_are_refused_in_one_line(folder: Path, data: bytes) -> None:
    path = folder / "config.toml"
    path.write_bytes(data)
    loaded = read(lambda: load_config(path), ConfigError)
    if isinstance(loaded, ConfigError):
        one_line_naming(str(loaded), path)
    else:  # whatever loaded lies within the declared ranges
        assert 0 < loaded.router.skill_timeout_s <= DAY_S and 0 <= loaded.router.max_retries <= MAX_RETRIES


def test_a_config_number_of_thousands_of_digits_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(config_text("router", "max_retries", "9" * 5000))
    refused = read(lambda: load_config(path), (ConfigError, ValueError))
    assert isinstance(refused, ConfigError), f"{type(refused).__name__}: {refused}"
    one_line_naming(str(refused), path)


@pytest.mark.parametrize(
    "text",
    ['"a\\nb" = 1\n', '[router]\n"x\\ny" = 1\n', '[apps.allow]\n"x\\ny" = 3\n'],
    ids=["section", "key", "table-key"],
)
def test_a_key_with_a_line_break_is_named_in_one_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    refused = read(lambda: load_config(path), ConfigError)
    assert isinstance(refused, ConfigError)
    one_line_naming(str(refused), path)


def test_a_config_file_over_its_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    with path.open("wb") as file:
        file.truncate(50 * MAX_CONFIG_BYTES)  # sparse: 50 MiB of NUL
    refused = read(lambda: load_config(path), ConfigError)
    assert isinstance(refused, ConfigError) and f"larger than {MAX_CONFIG_BYTES:,} bytes" in str(refused)
    one_line_naming(str(refused), path)


# Example files ----------------------------------------------------------------------------------------------------


SMALL_FILE_BYTES = 8000  # the shipped example files this small (the timer ones) are read 200 times over


@pytest.fixture(scope="module")
def shipped(pack: SkillPack) -> list[list[str]]:
    """The lines of the small shipped example files, templates among them: what the fuzz changes."""
    files = [
        path.read_text(encoding="utf-8").split("\n")
        for path in pack.example_files()
        if path.stat().st_size <= SMALL_FILE_BYTES
    ]
    assert files and any("#### Templates:" in lines for lines in files)
    return files


def edited(files: list[list[str]]) -> st.SearchStrategy[bytes]:
    """A shipped file with up to three lines replaced by random text, cut, or with random text put in."""
    edit = st.tuples(st.integers(0, 10**6), st.integers(0, 300), st.text(max_size=30))

    def apply(lines: list[str], edits: list[tuple[int, int, str]]) -> bytes:
        lines = list(lines)
        for row, cut, text in edits:
            lines[row % len(lines)] = lines[row % len(lines)][:cut] + text
        return "\n".join(lines).encode()

    return st.builds(apply, st.sampled_from(files), st.lists(edit, max_size=3))


def shuffled(files: list[list[str]]) -> st.SearchStrategy[bytes]:
    """Lines of the shipped files and random ones, in any order."""
    line = st.sampled_from([line for lines in files for line in lines])
    return st.lists(line | st.text(max_size=80), max_size=60).map(lambda rows: "\n".join(rows).encode())


@FUZZ
@given(data=st.data())
def test_random_bytes_as_an_example_file_are_read_or_refused_line_by_line(
    folder: Path, pack: SkillPack, shipped: list[list[str]], data: Any
) -> None:
    path = folder / "fuzz_examples.txt"
    path.write_bytes(data.draw(st.binary(max_size=4096) | edited(shipped) | shuffled(shipped)))
    read_back = read(lambda: read_example_file(path, pack), ExamplesError)
    if isinstance(read_back, ExamplesError):
        assert read_back.problems
        for problem in read_back.problems:
            one_line_naming(problem, path)
    else:
        assert read_back.path == path and read_back.skill in pack.skills


def template_file(pack: SkillPack, utterance: str) -> str:
    """A valid example file whose one template says ``utterance``."""
    return (
        "#### Prompt:\n" + pack.skills["news"].prompt_line() + "\n\n#### Examples:\n\n### User: read the news\n"
        "### Assistant: news()\n\n#### Templates:\n\n### User: " + utterance + "\n### Assistant: news()\n"
    )


def write_lines(path: Path, lines: Iterator[str]) -> Path:
    with path.open("w", encoding="utf-8") as file:
        file.writelines(lines)
    return path


@pytest.mark.parametrize("case", ["nested-brackets", "nested-parentheses", "nul", "50-mb-line"])
def test_a_hostile_example_file_is_refused_in_one_line_per_problem(tmp_path: Path, pack: SkillPack, case: str) -> None:
    path = tmp_path / "news_examples.txt"
    if case == "nested-brackets":
        path.write_text(template_file(pack, "read " + "[" * 500 + "the " + "]" * 500 + "news"))
    elif case == "nested-parentheses":
        path.write_text(template_file(pack, "(" * 500 + "news" + ")" * 500))
    elif case == "nul":
        path.write_text(template_file(pack, "read the\x00 news"))
    else:
        write_lines(path, iter([template_file(pack, "news"), "### User: " + "a" * 50_000_000, "\n"]))
    refused = read(lambda: read_example_file(path, pack), ExamplesError)
    assert isinstance(refused, ExamplesError)
    for problem in refused.problems:
        one_line_naming(problem, path)


def test_the_file_the_hostile_ones_are_made_from_is_read(tmp_path: Path, pack: SkillPack) -> None:
    """So that what refuses them is the hostile part."""
    path = tmp_path / "news_examples.txt"
    path.write_text(template_file(pack, "read [the] (news|headlines)"))
    assert len(read_example_file(path, pack).templates) == 1
