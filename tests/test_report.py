"""benchmarks.report: the README's and docs' tables are the result files' numbers, never copies."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.report import BLOCK, FILES, ROOT, TABLES, documents, main

README_MAX_LINES = 250  # issue #34: a README a newcomer reads, the rest in docs/

EVAL = {
    "n": 20,
    "exact_call_accuracy": 0.8,
    "resolved_call_accuracy": 0.85,
    "resolved_call_accuracy_ci95": [0.6, 0.95],
    "per_call_accuracy": 0.85,
}
DIALOGUE = {
    "machine": {"cpus": 4, "load_average": [2.5, 2.0, 1.5]},
    "results": {
        "this router | single": {
            "n": 10,
            "exact_call_accuracy": 0.7,
            "resolved_call_accuracy": 0.75,
            "resolved_call_accuracy_ci95": [0.45, 0.92],
            "per_call_accuracy": 0.72,
        },
        "before | single": {
            "n": 10,
            "exact_call_accuracy": 0.4,
            "resolved_call_accuracy": 0.5,
            "resolved_call_accuracy_ci95": [0.2, 0.8],
            "per_call_accuracy": 0.5,
        },
    },
}
SNIPS = {
    "intent_accuracy": 0.9,
    "slot_precision": 0.8,
    "slot_recall": 0.7,
    "slot_f1": 0.7466666,
    "exact_frame_accuracy": 0.6,
    "n": 30,
    "unparseable": 1,
    "per_intent": {"PlayMusic": {"n": 30, "exact_frame_accuracy": 0.6}},
    "per_slot": {
        "artist": {"true_positives": 9, "false_positives": 1, "false_negatives": 0, "f1": 0.947},
        "album": {"true_positives": 1, "false_positives": 3, "false_negatives": 2, "f1": 0.2857},
        "playlist": {"true_positives": 5, "false_positives": 2, "false_negatives": 2, "f1": 0.714},
    },
}
ROUTER_TABLE = """\
<!-- results:router -->
| set | n | all calls right, resolved (95 % interval) | exact | per call |
| --- | --- | --- | --- | --- |
| test split (written single commands) | 20 | **85.0 %** (60.0–95.0) | 80.0 % | 85.0 % |
| single commands | 10 | **75.0 %** (45.0–92.0) | 70.0 % | 72.0 % |
| single commands: the router before several commands and follow-ups (same run) | 10 | **50.0 %** (20.0–80.0) \
| 40.0 % | 50.0 % |

<sub>From `models/router/eval.json`, `benchmarks/dialogue/results.json`; 4 CPUs, load average 2.5. \
Written by `python -m benchmarks.report`.</sub>
<!-- /results:router -->"""


def write_json(root: Path, key: str, data: object) -> None:
    path = root / FILES[key]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture
def made_up(tmp_path: Path) -> Path:
    """A repository of three made-up result files and a README with two blocks, one of them stale."""
    write_json(tmp_path, "test", EVAL)
    write_json(tmp_path, "dialogue", DIALOGUE)
    write_json(tmp_path, "snips", SNIPS)
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(
        "# made up\n\nProse stays as it is.\n\n<!-- results:router -->\nan old table\n<!-- /results:router -->\n\n"
        "Between the tables.\n\n<!-- results:snips -->\n<!-- /results:snips -->\n\nThe end.\n",
        encoding="utf-8",
    )
    return tmp_path


def test_the_committed_documents_hold_what_the_result_files_give() -> None:
    """The check a contributor runs, as a real process: no table in README.md or docs/ differs from its JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.report", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_the_readme_is_short_and_its_prose_copies_no_measurement() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    prose = BLOCK.sub("", text)
    assert not re.findall(r"\d[\d,.]*(?:\s?%|\s?ms\b|×)", prose)  # shares, times, ratios (0.8 × a limit is a rule)


def test_every_table_and_result_file_is_used_by_a_committed_document() -> None:
    used = {match.group(1) for path in documents(ROOT) for match in BLOCK.finditer(path.read_text(encoding="utf-8"))}
    assert used == set(TABLES)
    assert all((ROOT / name).is_file() for name in FILES.values())


def test_tables_are_written_from_made_up_results_and_prose_is_kept(made_up: Path, capsys) -> None:
    assert main(["--root", str(made_up), "--check"]) == 1  # the old table differs
    assert "README.md: results:router differs" in capsys.readouterr().err
    assert "an old table" in (made_up / "README.md").read_text(encoding="utf-8")  # --check writes nothing

    assert main(["--root", str(made_up)]) == 0
    text = (made_up / "README.md").read_text(encoding="utf-8")
    assert ROUTER_TABLE in text
    assert text.startswith("# made up\n\nProse stays as it is.\n\n<!-- results:router -->\n")
    assert "\n<!-- /results:router -->\n\nBetween the tables.\n\n<!-- results:snips -->\n" in text
    assert text.endswith("<!-- /results:snips -->\n\nThe end.\n")
    assert "| 90.0 % | 80.0 % | 70.0 % | 74.7 % | 60.0 % | 30 | 1 |" in text
    weakest = [line.split(" | ")[0] for line in text.splitlines() if line.startswith("| `")]
    assert weakest == ["| `album`", "| `playlist`", "| `artist`"]  # lowest F1 first
    assert main(["--root", str(made_up), "--check"]) == 0

    changed = dict(EVAL, resolved_call_accuracy=0.9)
    write_json(made_up, "test", changed)
    assert main(["--root", str(made_up), "--check"]) == 1
    assert capsys.readouterr().err.splitlines()[-1].startswith("README.md: results:router differs")
    assert main(["--root", str(made_up)]) == 0
    assert "| 20 | **90.0 %** (60.0–95.0) |" in (made_up / "README.md").read_text(encoding="utf-8")


def test_a_page_of_docs_is_written_too(made_up: Path) -> None:
    page = made_up / "docs" / "results.md"
    page.write_text("<!-- results:router -->\n<!-- /results:router -->\n", encoding="utf-8")
    assert main(["--root", str(made_up)]) == 0
    assert page.read_text(encoding="utf-8") == ROUTER_TABLE + "\n"


@pytest.mark.parametrize(
    ("readme", "error"),
    [
        (
            "text\n<!-- results:nonsense -->\n<!-- /results:nonsense -->\n",
            "README.md:2: unknown results block 'nonsense'",
        ),
        ("\n\n<!-- results:router -->\nno end\n", "README.md:3: results:router is never closed"),
        ("<!-- results:router -->\n<!-- results:snips -->\n", "README.md:2: results:snips opens inside results:router"),
        ("<!-- /results:router -->\n", "README.md:1: /results:router closes no open block"),
        ("<!-- results:router --> text\n<!-- /results:router -->\n", "README.md:1: results:router must end its line"),
        ("<!-- results:latency -->\n<!-- /results:latency -->\n", "benchmarks/latency/results.json: missing"),
    ],
)
def test_a_bad_document_is_one_line_naming_it(made_up: Path, capsys, readme: str, error: str) -> None:
    (made_up / "README.md").write_text(readme, encoding="utf-8")
    assert main(["--root", str(made_up)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {error}") and err.count("\n") == 1
    assert (made_up / "README.md").read_text(encoding="utf-8") == readme


@pytest.mark.parametrize(
    ("key", "content", "error"),
    [
        ("test", '{\n  "n": 20,\n  oops\n}', "models/router/eval.json:3: not valid JSON"),
        (
            "test",
            json.dumps({k: v for k, v in EVAL.items() if k != "per_call_accuracy"}),
            "models/router/eval.json: no field 'per_call_accuracy'",
        ),
        (
            "dialogue",
            json.dumps(dict(DIALOGUE, machine={"cpus": "four", "load_average": [1.0]})),
            "benchmarks/dialogue/results.json: machine.cpus is 'four', not a number",
        ),
        ("test", "[" * 100_000 + "]" * 100_000, "models/router/eval.json: not valid JSON: nested too deeply"),
    ],
)
def test_a_bad_result_file_is_one_line_naming_it(made_up: Path, capsys, key: str, content: str, error: str) -> None:
    (made_up / FILES[key]).write_text(content, encoding="utf-8")
    before = (made_up / "README.md").read_text(encoding="utf-8")
    assert main(["--root", str(made_up)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {error}") and err.count("\n") == 1
    assert (made_up / "README.md").read_text(encoding="utf-8") == before


def test_a_result_file_that_is_no_regular_file_is_refused_unread(made_up: Path, capsys) -> None:
    path = made_up / FILES["snips"]
    path.unlink()
    path.mkdir()
    assert main(["--root", str(made_up)]) == 2
    assert "benchmarks/snips/results.json: not a regular file" in capsys.readouterr().err


def share(right: int, n: int) -> dict[str, object]:
    return {"n": n, "right": right, "accuracy": right / n, "ci95": [0.5, 1.0]}


def test_the_learn_table_names_each_set_and_what_was_relabelled(made_up: Path) -> None:
    after = dict(EVAL, resolved_call_accuracy=0.9, resolved_call_accuracy_ci95=[0.7, 0.97])
    learn = {
        "machine": {"cpus": 2, "load_average": [1.2, 1.0, 0.9]},
        "instant_before_learning": share(12, 40),
        "learn_s": 270.0,
        "heldout_after": {"new_skills": share(38, 40)},
        "sets": {"fresh_utterances": {"before": EVAL, "after": after, "relabelled_for_the_new_skills": 3}},
    }
    write_json(made_up, "learn", learn)
    page = made_up / "docs" / "learn.md"
    page.write_text("<!-- results:learn -->\n<!-- /results:learn -->\n", encoding="utf-8")
    assert main(["--root", str(made_up)]) == 0
    text = page.read_text(encoding="utf-8")
    assert (
        "| the new skills' held-out phrasings (n=40) | 30.0 % (50.0–100.0), instant path | **95.0 %** (50.0–100.0) |"
        in text
    )
    assert (
        "| single commands (n=20, 3 relabelled for the new skills) | 85.0 % (60.0–95.0) | 90.0 % (70.0–97.0) |" in text
    )
    assert "took 4.5 minutes, wall clock" in text and "2 CPUs, load average 1.2" in text


def test_the_steps_table_shows_routing_both_ways_and_whether_the_calls_agree(made_up: Path) -> None:
    spread = {"p50": 280.0, "p95": 470.0, "mean": 300.0}
    steps = {
        "utterances": 1180,
        "load_average": [1.5, 1.4, 1.3],
        "to_first_call_ms": spread,
        "drafted_to_first_call_ms": {"p50": 126.0, "p95": 400.0, "mean": 150.0},
        "drafted_ratio_p50": 0.45,
        "same_calls": 1180,
        "drafted_tokens_share": 0.631,
        "tokens_per_call": 10.8,
        "forced_share": 0.295,
    }
    write_json(made_up, "steps", steps)
    page = made_up / "docs" / "steps.md"
    page.write_text("<!-- results:steps -->\n<!-- /results:steps -->\n", encoding="utf-8")
    assert main(["--root", str(made_up)]) == 0
    text = page.read_text(encoding="utf-8")
    assert "| route start → first call, decoded a token at a time | 280 ms | 470 ms |" in text
    assert "| route start → first call, guesses checked first | 126 ms | 400 ms |" in text
    assert "| ratio of the p50s | 0.45× |  |" in text and "| the same calls both ways | 1,180 of 1,180 |  |" in text
    assert "| tokens taken from checked guesses | 63.1 % |  |" in text and "load average 1.5" in text


def test_a_continued_router_shows_the_training_it_went_on_from(made_up: Path) -> None:
    config = {"per_device_train_batch_size": 8, "learning_rate": 0.0008, "lr_scheduler_type": "cosine"}
    stage = {
        "config": config,
        "metrics": {"steps": 3000, "train_seconds": 4500.0},
        "dataset": {"sha256": "ab" * 32, "train": 23774},
    }
    release = {
        "base_model": "SmolLM2-135M-Instruct",
        "template": "chatml",
        "dataset": {"sha256": "cd" * 32, "train": 24581, "validation": 1033},
        "config": dict(config, lora_r=8, lora_alpha=16, lora_dropout=0.0, lora_target_modules="all-linear"),
        "metrics": {"steps": 1000, "train_seconds": 1650.0, "eval_loss": 0.064, "accuracy_curve": [], "device": "cpu"},
        "machine": {"cpus": 2},
        "continued_from": {"adapter": "models/router-candidate", **stage},
    }
    write_json(made_up, "release", release)
    page = made_up / "docs" / "release.md"
    page.write_text("<!-- results:release -->\n<!-- /results:release -->\n", encoding="utf-8")
    assert main(["--root", str(made_up)]) == 0
    continued = (
        "| continued from | `models/router-candidate`: 3,000 × 8, 0.0008 (cosine), 75 min, on data set sha256 "
        "`abababababab…` (23,774 training records) |"
    )
    assert continued in page.read_text(encoding="utf-8")
    del release["continued_from"]
    write_json(made_up, "release", release)
    assert main(["--root", str(made_up)]) == 0
    assert "continued from" not in page.read_text(encoding="utf-8")


def test_the_barista_comparisons_show_the_paired_difference_and_the_prompts_false_orders(made_up: Path) -> None:
    clean = {"difference": -0.008, "difference_ci95": [-0.02, 0.004], "n": 619, "stt_ms_p50": [310.0, 590.0]}
    paired = {
        "comparisons": {
            "barista-audio-prompt - barista-30s-prompt": {
                "first": "barista-audio-prompt",
                "second": "barista-30s-prompt",
                "note": "before the floor",
                "conditions": {"clean": clean},
            },
            "barista-audio-plain - barista-30s-plain": {
                "first": "barista-audio-plain",
                "second": "barista-30s-plain",
                "conditions": {"kitchen 6 dB": {**clean, "difference": 0.01}},
            },
        }
    }
    quiet = {
        "summary": {
            "babble": {
                "clips": 60,
                "prompt": {"orders": 1, "heard_words": 40},
                "trusted prompt": {"orders": 5, "heard_words": 41},
                "no prompt": {"orders": 0, "heard_words": 38},
            }
        },
        "machine": {"cpus": 2, "load_average_before": [1.5, 1, 1], "load_average_after": [1.8, 1, 1]},
    }
    write_json(made_up, "barista-paired", paired)
    write_json(made_up, "barista-quiet", quiet)
    page = made_up / "docs" / "barista.md"
    page.write_text(
        "<!-- results:barista-paired -->\n<!-- /results:barista-paired -->\n"
        "<!-- results:barista-quiet -->\n<!-- /results:barista-quiet -->\n",
        encoding="utf-8",
    )
    assert main(["--root", str(made_up)]) == 0
    text = page.read_text(encoding="utf-8")
    assert (
        "| `barista-audio-prompt` - `barista-30s-prompt` (before the floor) | clean | 619 | -0.8 points "
        "| -2.0 to +0.4 | 310 ms / 590 ms |"
    ) in text
    assert "| `barista-audio-plain` - `barista-30s-plain` | kitchen 6 dB | 619 | +1.0 points |" in text
    assert "| babble | 60 | 1 (40) | 5 (41) | 0 (38) |" in text and "load average 1.5 → 1.8" in text
