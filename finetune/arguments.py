"""Command-line value types that refuse a bad value in one line naming it (argparse shows it after the option)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    """``int`` or ``float`` values greater than 0."""

    def parse(text: str) -> float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its error: "invalid int value"
    return parse


def fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value
