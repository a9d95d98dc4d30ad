"""Writing files and folders so that nothing is ever half-written: readers see the old one or the new one.

Each write goes to a staging file or folder next to its target, named ``.<target>.<pid>.<random>``,
and is renamed over the target only when complete. A writer killed midway (kill -9 cannot be
caught) leaves its staging behind; the next write to the same target removes the staging of
writers whose process is gone.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def write_atomically(path: str | Path, text: str, check: Callable[[Path], object] | None = None) -> None:
    """Write ``text`` to ``path``, fsynced; ``check`` may read the staged file and raise to keep the old one."""
    with staged_file(path) as temp:
        with temp.open("w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if check is not None:
            check(temp)


@contextmanager
def staged_file(path: str | Path) -> Iterator[Path]:
    """A temp file next to ``path`` to write; it replaces ``path`` (keeping its mode, else 0644) when the block ends."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path)
    descriptor, name = tempfile.mkstemp(prefix=_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(descriptor)
    temp = Path(name)
    try:
        yield temp
        os.chmod(temp, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


@contextmanager
def staged_folder(target: str | Path) -> Iterator[Path]:
    """An empty folder next to ``target`` to fill; renamed to ``target`` when the block ends.

    When another process completed ``target`` first, its folder is kept and this one dropped.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(target)
    staging = Path(tempfile.mkdtemp(prefix=_prefix(target), dir=target.parent))
    try:
        yield staging
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
        _fsync_folder(target.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}."


def _remove_orphans(target: Path) -> None:
    """Remove staging left next to ``target`` by writers whose process no longer runs."""
    start = f".{target.name}."
    for entry in target.parent.iterdir():
        pid = entry.name[len(start) :].split(".", 1)[0] if entry.name.startswith(start) else ""
        if pid.isdigit() and not _running(int(pid)):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OverflowError:
        return False
    return True


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
