"""Atomic writes for real: a writer killed with SIGKILL leaves the old file whole, and its staging is cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.files import staged_folder, write_atomically

KILLED_WRITER = """
import sys, time
from pathlib import Path
from assistant.files import write_atomically
write_atomically(
    Path(sys.argv[1]), "new text\\n" * 100_000, check=lambda temp: (print("staged", flush=True), time.sleep(60))
)
"""


def staging(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir() if entry.name.startswith("."))


def test_a_writer_killed_midway_leaves_the_old_file_and_its_staging_is_removed_later(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    target.write_text("old text\n", encoding="utf-8")
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(target)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert writer.stdout is not None  # stdout=subprocess.PIPE
    assert writer.stdout.readline().strip() == "staged"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert target.read_text(encoding="utf-8") == "old text\n"
    (left,) = staging(tmp_path)
    assert left.startswith(f".data.json.{writer.pid}.") and (tmp_path / left).stat().st_size > 500_000
    write_atomically(target, "newer text\n")
    assert target.read_text(encoding="utf-8") == "newer text\n" and staging(tmp_path) == []


def test_a_failed_check_keeps_the_old_file_and_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o600)

    def refuse(temp: Path) -> None:
        raise ValueError(f"{temp.name} is not good enough")

    with pytest.raises(ValueError):
        write_atomically(target, "bad\n", check=refuse)
    assert target.read_text(encoding="utf-8") == "old\n" and staging(tmp_path) == []
    write_atomically(target, "good\n")
    assert target.read_text(encoding="utf-8") == "good\n" and target.stat().st_mode & 0o777 == 0o600


def test_a_staged_folder_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "model"
    with pytest.raises(RuntimeError), staged_folder(target) as folder:
        (folder / "config.json").write_text("{}", encoding="utf-8")
        raise RuntimeError("conversion failed")
    assert not target.exists() and staging(tmp_path) == []
    orphan = tmp_path / ".model.999999999.abc"  # a writer that no longer runs
    orphan.mkdir()
    with staged_folder(target) as folder:
        (folder / "config.json").write_text("{}", encoding="utf-8")
    assert (target / "config.json").is_file() and staging(tmp_path) == []
