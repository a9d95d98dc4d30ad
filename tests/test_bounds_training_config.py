"""finetune.py's YAML config is bounded before trl loads it: only a regular file of at most 1 MiB, with no
aliases (they expand to gigabytes) and nested at most MAX_YAML_DEPTH deep; each refusal is one line."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from assistant.config import MAX_CONFIG_BYTES
from finetune.config import MAX_YAML_DEPTH, parse_args

BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def refused(path: Path | str, capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line of parse_args on this config file, which must stop with status 2 within 10 s."""
    started = time.monotonic()
    with pytest.raises(SystemExit) as stopped:
        parse_args(["--config", str(path)])
    assert stopped.value.code == 2 and time.monotonic() - started < 10
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("finetune.py: error: ")]
    assert len(errors) == 1 and err.endswith(errors[0] + "\n") and "Traceback" not in err
    return errors[0].removeprefix("finetune.py: error: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &a [x, x]\n" + BOMB + "env: {X: *i}\n", "YAML aliases (*a) are not allowed"),
        ("lora_target_modules: " + "[" * 5000 + "]" * 5000 + "\n", f"nested more than {MAX_YAML_DEPTH} deep"),
    ],
)
def test_aliases_and_deep_nesting_are_refused_before_loading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "router.yaml"
    path.write_text(text, encoding="utf-8")
    assert refused(path, capsys) == f"{path}: {message}"


def test_invalid_yaml_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "router.yaml"
    path.write_text("learning_rate: [1\n", encoding="utf-8")
    assert f'in "{path}", line 2' in refused(path, capsys)


def test_only_a_regular_file_of_at_most_a_mib_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # no writer: reading it would block forever
    assert refused(fifo, capsys) == f"{fifo}: not a regular file"
    assert refused("/dev/zero", capsys) == "/dev/zero: not a regular file"
    big = tmp_path / "big.yaml"
    big.write_text("# x\n" * (MAX_CONFIG_BYTES // 4 + 1), encoding="utf-8")
    assert refused(big, capsys) == f"{big}: larger than {MAX_CONFIG_BYTES:,} bytes, the most such a file may be"
