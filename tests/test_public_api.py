"""The public API (``import assistant``): an assistant built and run from Python, a package that imports no
model library, and the one base of the errors a user is told in one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import assistant
from assistant import Config, SkillPack, VoxrouteError, build_assistant, load_pack
from assistant.app import SetupError
from assistant.config import ConfigError, RouterConfig, VoiceConfig
from assistant.dialogue import after_wake_word, without_wake_word
from assistant.models import ModelNotFound, UnusableModel
from assistant.routing.calls import CallError, NotSaid, UnknownSkill
from assistant.routing.router import EndpointFailed
from assistant.runtime.example_files import ExamplesError
from assistant.runtime.templates import TemplateError
from assistant.voice.audio import AudioError
from assistant.voice.smart_turn import SmartTurnError
from assistant.voice.tts import TTSError
from assistant.voice.whisper_convert import ConversionError
from assistant.web import NoAPIKey, ReplyTooLarge
from finetune.eval import EvalError
from finetune.generate import GenerationFailed

MODEL_LIBRARIES = ("torch", "transformers", "faster_whisper", "ctranslate2", "whisper", "openai", "peft")
PACK = "tests.packs.mini_pack"


def test_importing_the_package_loads_no_model_library() -> None:
    code = f"import json, sys, assistant; print(json.dumps([n for n in {MODEL_LIBRARIES!r} if n in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout) == []


def test_every_public_name_is_there() -> None:
    from assistant.pipeline import Assistant, Turn

    assert sorted(assistant.__all__) == assistant.__all__
    assert all(getattr(assistant, name) is not None for name in assistant.__all__)
    assert (assistant.Assistant, assistant.Turn) == (Assistant, Turn)
    with pytest.raises(AttributeError, match="no attribute 'Asistant'"):
        _ = assistant.Asistant


@pytest.mark.parametrize(
    ("error", "older"),
    [
        (ConfigError, ValueError),
        (UnusableModel, ConfigError),
        (ModelNotFound, RuntimeError),
        (AudioError, RuntimeError),
        (ExamplesError, ValueError),
        (TemplateError, ValueError),
        (CallError, ValueError),
        (UnknownSkill, CallError),
        (NotSaid, CallError),
        (SetupError, Exception),
        (NoAPIKey, ValueError),
        (ReplyTooLarge, Exception),
        (EndpointFailed, Exception),
        (TTSError, RuntimeError),
        (SmartTurnError, RuntimeError),
        (ConversionError, RuntimeError),
        (EvalError, RuntimeError),
        (GenerationFailed, RuntimeError),
    ],
)
def test_one_line_errors_share_one_base_and_keep_their_own(error: type[Exception], older: type[Exception]) -> None:
    assert issubclass(error, VoxrouteError) and issubclass(error, older)


def test_a_pack_that_is_not_there_is_one_line_before_anything_loads() -> None:
    with pytest.raises(SetupError, match=r"^no skill pack module 'no_such_pack' "):
        build_assistant(Config(), "no_such_pack")


def test_an_adapter_folder_that_is_not_there_is_named_before_loading(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(SetupError, match=f"^router adapter {re.escape(str(missing))}: no such folder"):
        build_assistant(Config(router=RouterConfig(adapter=str(missing))), PACK)


def test_an_assistant_built_from_python_routes_and_answers(http_server: Any, skill_context: Any) -> None:
    """A pack and a config from the API, the endpoint router on a real server: the turn runs the pack's skill."""
    skill_context()

    def answer(request: Any) -> tuple[int, str, bytes]:
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"location": "Oslo"}'},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1705312800,
            "model": "test-model",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": None, "message": message}],
        }
        return 200, "application/json", json.dumps(body).encode()

    server = http_server({"/v1/chat/completions": answer})
    config = Config(
        router=RouterConfig(
            backend="openai", base_url=f"{server.url}/v1", model="test-model", timeout_s=5.0, max_retries=0
        ),
        voice=VoiceConfig(wake_word="computer"),
    )
    pack = load_pack(PACK)
    built = build_assistant(config, pack)
    assert isinstance(built.pack, SkillPack) and built.pack is pack
    turn = built.handle_text("Computer, what's the weather in Oslo")
    assert (turn.calls, turn.answer, turn.error, turn.failed) == (
        ['weather(location="Oslo")'],
        "weather in Oslo today",
        None,
        False,
    )
    unaddressed = build_assistant(config, PACK).handle_text("what's the weather in Oslo")
    assert unaddressed.calls == ["other()"] and unaddressed.error == "no wake word 'computer': ignored"
    assert [json.loads(r.body)["messages"][-1]["content"] for r in server.requests] == ["what's the weather in Oslo"]


@pytest.mark.parametrize(
    ("said", "command"),
    [
        ("hey voxroute set a timer", "set a timer"),
        ("Okay computer, what's the time", "what's the time"),
        ("Voxroute... add a note", "add a note"),
        ("hey voxroute", "hey voxroute"),  # nothing after it: the example's words as they are
        ("computers are great", "computers are great"),
        ("set a timer", "set a timer"),
    ],
)
def test_examples_lose_the_wake_word_as_the_runtime_does(said: str, command: str) -> None:
    assert without_wake_word(said) == command
    if command != said:
        assert any(after_wake_word(said, wake) == command for wake in ("hey voxroute", "okay computer", "voxroute"))
