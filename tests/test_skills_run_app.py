"""Opening programs: a real, harmless launch, and every refusal."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import pytest

from assistant.config import AppsConfig, Config, config_path
from skills.run_app import run_app


def marker_program(path: Path) -> list[str]:
    """A program that only writes a file: proof that it ran."""
    return [sys.executable, "-c", f"open({str(path)!r}, 'w').write('ok')"]


def wait_for(path: Path, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text() == "ok":
            return True
        time.sleep(0.02)
    return False


def test_launches_an_allowed_program_after_confirmation(skill_context, tmp_path: Path) -> None:
    launched = tmp_path / "launched"
    questions: list[str] = []
    apps = AppsConfig(allow={"Marker  Program": marker_program(launched)})

    def confirm(question: str) -> bool:
        questions.append(question)
        return True

    skill_context(Config(apps=apps), confirm=confirm)
    assert run_app("marker   PROGRAM") == "Opening marker PROGRAM."
    assert questions == ["Open marker PROGRAM?"]
    assert wait_for(launched)


def test_launches_without_asking_when_confirmation_is_off(skill_context, tmp_path: Path) -> None:
    launched = tmp_path / "launched"
    apps = AppsConfig(confirm=False, allow={"marker": marker_program(launched)})
    skill_context(Config(apps=apps), confirm=lambda question: False)
    assert run_app("marker") == "Opening marker."
    assert wait_for(launched)


def test_refused_confirmation_launches_nothing(skill_context, tmp_path: Path) -> None:
    launched = tmp_path / "launched"
    apps = AppsConfig(allow={"marker": marker_program(launched)})
    skill_context(Config(apps=apps), confirm=lambda question: False)
    assert run_app("Marker") == "Okay, I won't open Marker."
    assert not launched.exists()


def test_no_terminal_means_no(skill_context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    launched = tmp_path / "launched"
    skill_context(Config(apps=AppsConfig(allow={"marker": marker_program(launched)})))
    assert run_app("marker") == "Okay, I won't open marker."


def test_program_not_on_the_allow_list(skill_context) -> None:
    skill_context(Config(apps=AppsConfig(allow={})), confirm=lambda question: True)
    assert run_app("rm -rf /") == (
        f"I'm not allowed to open rm -rf /. To allow it, add it under [apps.allow] in {config_path()}."
    )


def test_program_missing_from_path(skill_context) -> None:
    apps = AppsConfig(allow={"ghost": ["voxroute-no-such-program-4711", "--flag"]})
    skill_context(Config(apps=apps), confirm=lambda question: True)
    assert run_app("ghost") == (
        "I can't find the program voxroute-no-such-program-4711 to open ghost: is it installed and on the PATH?"
    )
