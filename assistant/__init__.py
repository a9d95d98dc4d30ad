"""voxroute: a voice assistant whose requests a small fine-tuned model routes to Python skills.

What it takes to build and run one from Python::

    from assistant import build_assistant, load_config

    assistant = build_assistant(load_config())  # the shipped skills
    print(assistant.handle_text("what time is it in Tokyo").answer)

The package is laid out by concern: audio -> text in :mod:`assistant.voice`, text -> calls in
:mod:`assistant.routing`, calls -> skills in :mod:`assistant.runtime` (and the ``skills`` package).
Importing it loads no model library: :class:`Assistant` and :class:`Turn` are imported on first use
(their module imports the router's libraries), and the models load when the first turn needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from assistant.app import build_assistant
from assistant.config import Config, load_config
from assistant.errors import VoxrouteError
from assistant.runtime.pack import SkillPack, load_pack
from assistant.runtime.skill import Resolver, Span, skill

if TYPE_CHECKING:
    from assistant.pipeline import Assistant, Turn

__all__ = [
    "Assistant",
    "Config",
    "Resolver",
    "SkillPack",
    "Span",
    "Turn",
    "VoxrouteError",
    "build_assistant",
    "load_config",
    "load_pack",
    "skill",
]

_ON_FIRST_USE = {"Assistant": "assistant.pipeline", "Turn": "assistant.pipeline"}


def __getattr__(name: str) -> Any:
    """The names whose module imports the model libraries, imported when first asked for (PEP 562)."""
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_ON_FIRST_USE[name]), name)
    globals()[name] = value
    return value
