"""voxroute's benchmarks: each a ``python -m benchmarks.<name>`` command that prints a table and writes JSON."""

from __future__ import annotations

import os
import platform
from typing import Any

# The independent sets of benchmarks/router, by the name a table gives them: {name: file stem}.
INDEPENDENT_SETS = {"single": "fresh_utterances", "compound": "compound", "follow-up": "followups", "timers": "timers"}


def machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    """The machine a run measured on, with its load average before and now, after the run."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
    }
