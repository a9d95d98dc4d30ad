"""Reading dataset records: the ``-t`` JSON array, or any JSON/JSONL of {user, call} objects.

``call`` holds one to three calls separated by ``"; "``. A follow-up record also carries the turn
before it: ``"context": [{"user": ..., "call": ...}]`` (the last item is the one the router sees),
with ``"asked"`` where the assistant asked a question in reply. A file is read only if it is a regular
file of at most MAX_RECORDS_BYTES.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from assistant.config import ConfigError, read_small_text
from assistant.dialogue import Exchange, first_question
from assistant.routing.calls import CallError, Calls
from assistant.runtime.pack import SkillPack
from assistant.runtime.resolution import question

MAX_RECORDS_BYTES = 64 << 20  # 64 MiB; the shipped data set (16,357 records) has 3.7 MB


@dataclass(frozen=True)
class Record:
    user: str
    calls: Calls
    split: str
    context: Exchange | None = None


def read_records(path: str | Path, pack: SkillPack, split: str | None = None) -> list[Record]:
    """Records of ``path`` (all, or those of one split), each call validated against the pack.

    A record without a ``split`` field is an evaluation record: a plain list of {user, call} (an
    independent set) is read whole for any held-out split ("validation" or "test").
    """
    path = Path(path)
    try:
        text = read_small_text(path, MAX_RECORDS_BYTES)
    except FileNotFoundError:
        raise ValueError(f"{path}: cannot be read: no such file") from None
    except ConfigError as error:  # names the file
        raise ValueError(str(error)) from None
    stripped = text.lstrip()
    rows: list[tuple[int, object]]
    if stripped.startswith("["):
        try:
            rows = list(enumerate(json.loads(text), start=1))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{error.lineno}: not valid JSON: {error.msg}") from None
        except RecursionError:  # json recurses once per nested array or object
            raise ValueError(f"{path}: not valid JSON: arrays or objects nested too deeply") from None
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                rows.extend([(number, json.loads(line))] if line.strip() else [])
            except json.JSONDecodeError as error:  # its lineno counts within the line: name the file's line
                raise ValueError(f"{path}:{number}: not valid JSONL: {error.msg}") from None
            except RecursionError:
                raise ValueError(f"{path}:{number}: not valid JSONL: arrays or objects nested too deeply") from None
    records, problems = [], []
    where = "record" if stripped.startswith("[") else "line"
    for number, row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("user"), str) or not isinstance(row.get("call"), str):
            problems.append(f"{path}: {where} {number}: expected an object with string fields 'user' and 'call'")
            continue
        try:
            calls = pack.parse_calls(row["call"])
            context = _context(row.get("context"), pack)
        except (CallError, ValueError) as error:
            problems.append(f"{path}: {where} {number}: {error}")
            continue
        record = Record(row["user"], calls, str(row.get("split", "")), context)
        if split is None or record.split == split or (not record.split and split != "train"):
            records.append(record)
    if problems:
        raise ValueError("\n".join(problems))
    return records


def _context(value: object, pack: SkillPack) -> Exchange | None:
    """The previous turn of a follow-up record: the last of a list of {user, call} objects.

    The assistant's question in reply is ``asked`` where the record names it (a skill that asks
    for itself, "What should the note say?"), else the one its calls' arguments raise, if any.
    """
    if value is None or value == []:
        return None
    last = value[-1] if isinstance(value, list) else None
    if (
        not isinstance(last, dict)
        or not isinstance(last.get("user"), str)
        or not isinstance(last.get("call"), str)
        or not isinstance(last.get("asked", ""), str)
    ):
        raise ValueError("'context' must be a list of objects with string fields 'user' and 'call' (and 'asked')")
    calls = pack.parse_calls(last["call"])
    return Exchange(last["user"], calls, first_question(last["asked"]) if "asked" in last else question(pack, calls))


def context_record(exchange: Exchange) -> list[dict[str, str]]:
    """The previous turn as a record's ``context``; its question is written only where it asked one."""
    return [
        {"user": exchange.user, "call": str(exchange.calls), **({"asked": exchange.asked} if exchange.asked else {})}
    ]


def file_sha256(path: str | Path) -> str:
    """The file's SHA-256, read in chunks: a data set need not fit in memory twice."""
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
