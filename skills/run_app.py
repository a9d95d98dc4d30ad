"""Open a desktop program by its spoken name, only from the config's allow-list.

What runs is never built from speech: the spoken name only selects an argv written in the config
file, which is started without a shell and detached from the assistant.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from typing import Annotated

from assistant.config import config_path, spoken_key
from assistant.runtime.context import current_context
from assistant.runtime.example_files import utterance_key
from assistant.runtime.names import closest_name
from assistant.runtime.skill import Resolver, Span, skill

# Words people put around a program's name: "open my email client thunderbird", "the calculator app".
FILLER = re.compile(r"\b(the|my|a|an|app|apps|application|program|programme|please|for me)\b")


def find_program(spoken: str) -> str | None:
    """The allow-list entry a spoken program name means: exact, else by spelling or sound
    (:func:`~assistant.runtime.names.closest_name`); None if none is close."""
    allow = current_context().config.apps.allow
    key = spoken_key(spoken)
    if key in allow:
        return key
    bare = " ".join(FILLER.sub(" ", utterance_key(key)).split())
    if bare in allow:
        return bare
    return closest_name(bare, allow)


@skill
def run_app(
    program: Annotated[
        str,
        Span(),
        Resolver(
            find_program,
            "Which program? I may not open '{value}': programs are allowed "
            "under [apps.allow] in the config file (voxroute config shows it).",
        ),
    ],
) -> str:
    """Open a program on this computer, like Firefox or the calculator."""
    context = current_context()
    name, entry = " ".join(program.split()), find_program(program)
    if entry is None:
        return f"I'm not allowed to open {name}. To allow it, add it under [apps.allow] in {config_path()}."
    argv = context.config.apps.allow[entry]
    executable = shutil.which(os.path.expanduser(argv[0]))
    if executable is None:
        return f"I can't find the program {argv[0]} to open {name}: is it installed and on the PATH?"
    if context.config.apps.confirm and not context.confirm(f"Open {name}?"):
        return f"Okay, I won't open {name}."
    try:
        _launch([executable, *(os.path.expanduser(arg) for arg in argv[1:])])
    except OSError as error:
        return f"I couldn't open {name}: {error.strerror or error}."
    return f"Opening {name}."


def _launch(argv: list[str]) -> None:
    """Start a program detached from us (its own session or process group), without a shell."""
    quiet = subprocess.DEVNULL
    if sys.platform == "win32":  # os.name == "nt", spelt so mypy knows the Windows-only flags
        detach = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
        process = subprocess.Popen(argv, shell=False, stdin=quiet, stdout=quiet, stderr=quiet, creationflags=detach)
    else:
        process = subprocess.Popen(argv, shell=False, stdin=quiet, stdout=quiet, stderr=quiet, start_new_session=True)
    # Reap it when it exits, so it leaves no zombie behind.
    threading.Thread(target=process.wait, daemon=True).start()
