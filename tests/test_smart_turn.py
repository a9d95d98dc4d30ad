"""Smart Turn v3 on real espeak-ng speech: it loads from the pipecat-ai wheel and answers a probability.

espeak's flat prosody makes "finished scores higher than cut off" unreliable, so only what holds
for any audio is tested: a probability for speech and for silence, the 8 s window, determinism.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.voice import smart_turn
from assistant.voice.smart_turn import SmartTurn, SmartTurnError
from tests.audio_fixtures import silence, speak_to_array

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model() -> SmartTurn:
    return SmartTurn()


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    return speak_to_array("What is the weather like in Berlin?", tmp_path_factory.mktemp("speech"))


def test_speech_and_silence_give_probabilities(model: SmartTurn, speech: np.ndarray) -> None:
    for audio in (speech, speech[: speech.size // 2], silence(1.0), silence(0.0)):
        probability = model.complete(audio)
        assert isinstance(probability, float) and 0.0 <= probability <= 1.0


def test_only_the_last_eight_seconds_are_heard(model: SmartTurn, speech: np.ndarray) -> None:
    long = np.concatenate([speech] * 8)
    assert long.size > 8 * 16000
    assert model.complete(long) == model.complete(long[-8 * 16000 :])


def test_the_same_audio_gets_the_same_answer(model: SmartTurn, speech: np.ndarray) -> None:
    assert model.complete(speech) == model.complete(speech.copy())


def test_a_missing_wheel_is_one_line_saying_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SmartTurnError, match=r"pip install --no-deps pipecat-ai$"):
        smart_turn.model_path()


def test_the_model_is_found_without_importing_pipecat() -> None:
    path = smart_turn.model_path()
    assert path.name == "smart-turn-v3.2-cpu.onnx" and Path(path).stat().st_size > 1_000_000
    assert "pipecat" not in sys.modules
