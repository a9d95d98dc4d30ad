"""Argument values copied from the utterance: what counts as a span, for the decoder and the parser.

A span is a run of whole chunks of the utterance, where a chunk is a run of letters and digits,
a run of whitespace, or one other character (llguidance's ``substring_words`` splits text the
same way), that neither starts nor ends with whitespace. So "St. Louis" and "Paris" are spans of
"weather in St. Louis, Paris?", "Pari" and " Paris" are not. Case is kept as said: the speech
recogniser's capitals are the words' own, and resolvers compare values case-insensitively.
Double quotes and backslashes never enter a span: the value sits inside a JSON-style string. A
span holds at least one letter or digit: punctuation alone is no value (Whisper ends a command
cut off at a pause with a full stop, "Set a timer for.", which is not a duration).

A follow-up may copy from the previous turn's words too: ``said`` then holds both utterances on
separate lines, and a span lies within one line.
"""

from __future__ import annotations

import json
import re

_CHUNK = re.compile(r"\w+|\s+|[^\w\s]")
_UNQUOTABLE = re.compile(r'["\\\x00-\x1f\x7f]')
_WORDY = re.compile(r"\w")


def quotable(text: str) -> str:
    """The utterance as spans are taken from it: characters a string literal would escape become spaces."""
    return _UNQUOTABLE.sub(" ", text)


def is_span(value: str, said: str) -> bool:
    """Whether ``value`` is a span of the utterance ``said`` (see the module docstring)."""
    if value != value.strip() or not _WORDY.search(value):
        return False
    return any(_in_line(value, quotable(line)) for line in said.split("\n"))


def _in_line(value: str, said: str) -> bool:
    bounds = {0, *(match.end() for match in _CHUNK.finditer(said))}
    start = said.find(value)
    while start >= 0:
        if start in bounds and start + len(value) in bounds:
            return True
        start = said.find(value, start + 1)
    return False


def span_terminal(name: str, said: str) -> str:
    """Lark terminals (llguidance syntax), ``name`` matching exactly the spans of ``said``'s lines."""
    lines = said.split("\n")
    parts = [f"{name}_{index}" for index in range(len(lines))]
    terminals = [f"{name}: {' | '.join(parts)}"]
    for part, line in zip(parts, lines, strict=True):
        chunks = json.dumps({"substring_words": quotable(line)}, ensure_ascii=False)
        terminals.append(f"{part}: %regex {chunks} & /[^\\s](.*[^\\s])?/ & /.*\\w.*/")
    return "\n".join(terminals)
