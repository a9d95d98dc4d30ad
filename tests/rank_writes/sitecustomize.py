"""Logs what each process of a distributed run writes under one folder (tests/test_finetune.py).

Put on PYTHONPATH, Python imports it at start-up; in a process that torchrun started (RANK is set)
and with WATCH_WRITES naming the folder, an audit hook appends to WATCH_LOG/rank<RANK>.txt one line
per file opened for writing, renamed into place, created or removed there, as "<event> <relative
path>". Native writers (safetensors, torch.save, tokenizers) escape it; every save that uses one
also writes a JSON file through Python, which it sees.
"""

from __future__ import annotations

import os
import sys
from typing import Any

WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
CHANGES = {"os.rename": 1, "os.mkdir": 0, "os.remove": 0, "os.rmdir": 0, "shutil.rmtree": 0, "shutil.copyfile": 1}


def watch(root: str, log: int) -> None:
    root = os.path.realpath(root) + os.sep

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            if not (
                (isinstance(mode, str) and set(mode) & set("wax+")) or (isinstance(flags, int) and flags & WRITING)
            ):
                return
        elif event in CHANGES:
            path = args[CHANGES[event]]
        else:
            return
        if isinstance(path, (str, bytes, os.PathLike)):
            full = os.path.realpath(os.fsdecode(path)) + os.sep
            if full.startswith(root):
                os.write(log, f"{event} {full[len(root) : -1]}\n".encode())

    sys.addaudithook(hook)


if "RANK" in os.environ and "WATCH_WRITES" in os.environ:
    watch(
        os.environ["WATCH_WRITES"],
        os.open(
            os.path.join(os.environ["WATCH_LOG"], f"rank{os.environ['RANK']}.txt"),
            os.O_WRONLY | os.O_CREAT | os.O_APPEND,
        ),
    )
