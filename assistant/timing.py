"""Timing a stage and summarising the times: one way everywhere (turns, evaluation, benchmarks)."""

from __future__ import annotations

import time


def elapsed_ms(start: float) -> float:
    """Milliseconds since ``start``, a ``time.perf_counter()`` reading."""
    return (time.perf_counter() - start) * 1000


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank value at ``fraction`` (0.5: the median, 0.95: p95) of ``values``; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]
