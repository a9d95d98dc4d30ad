"""Files that ship with voxroute: prompt templates, the shipped router, the default examples, the sample recordings.

They live at the top of the repository (``prompts/``, ``models/router/``, ``examples/``,
``assets/samples/``); ``assistant/data/`` links to them, and a wheel carries them there as
package data. Found through :mod:`importlib.resources`, so an installed voxroute finds them as a
checkout does.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def bundled(name: str) -> Path:
    """The folder ``name`` (prompts, router, examples, samples) of voxroute's bundled files."""
    return Path(str(files("assistant") / "data" / name))
