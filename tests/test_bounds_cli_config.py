"""`voxroute` with a config file it must not read, or numbers out of range: one line and exit status 2, at
once, in a real process (before: 5.4 GB then MemoryError for /dev/zero, a hang on a FIFO, a segmentation fault
for threads = 1000000, every skill failing for skill_timeout_s = 1e300)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("/dev/zero", "/dev/zero: not a regular file"),
        ("fifo", "{path}: not a regular file"),
        ("[router]\nthreads = 1000000\n", "{path}: router.threads must be from 1 to 64, got 1000000"),
        (
            "[router]\nskill_timeout_s = 1e300\n",
            "{path}: router.skill_timeout_s must be greater than 0 and at most 86400, got 1e+300",
        ),
    ],
)
def test_an_unreadable_or_absurd_config_stops_at_once_with_one_line(tmp_path: Path, kind: str, message: str) -> None:
    path = Path(kind) if kind.startswith("/") else tmp_path / "config.toml"
    if kind == "fifo":
        os.mkfifo(path)  # no writer: opening it for reading would block forever
    elif not kind.startswith("/"):
        path.write_text(kind, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "say", "--config", str(path), "what time is it"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert done.returncode == 2
    assert done.stdout.strip().splitlines() == [message.format(path=path)] and "Traceback" not in done.stderr
