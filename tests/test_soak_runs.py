"""The soak runs as it is run by hand, a real process with the real models, over a few turns of every kind (#37)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.soak.__main__ import OUT, RSS_GROWTH_LIMIT_MB

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_a_short_soak_has_nothing_escape_a_turn_and_writes_only_its_report(tmp_path: Path) -> None:
    """Nothing escapes a turn and no turn ends otherwise than its kind must (a Broken failure); how long a turn took
    is the soak's own measure, on a machine of its own, so it is not asserted here."""
    committed = OUT.read_bytes()
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", "--turns", "80", "--warmup", "5", "--seed", "3", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    escaped = {failure: count for failure, count in result["failure_examples"].items() if ": took " not in failure}
    assert result["turns"] == 80 and not escaped
    assert {"recording", "hostile recording", "escapes", "hostile feed", "hostile endpoint"} <= set(result["per_kind"])
    assert result["written_outside_data_folder"] == []
    assert result["rss_mb"]["growth_limit"] == RSS_GROWTH_LIMIT_MB and result["rss_mb"]["models_loaded"] > 0
    assert "peak growth after warm-up" in done.stdout
    assert OUT.read_bytes() == committed
