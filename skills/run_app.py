"""Open a desktop program by its spoken name, only from the config's allow-list.

What runs is never built from speech: the spoken name only selects an argv written in the config
file, which is started without a shell and detached from the assistant.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

from assistant.config import config_path, spoken_key
from assistant.context import current_context
from assistant.skill import skill


@skill
def run_app(program: str) -> str:
    """Open a program on this computer, like Firefox or the calculator."""
    context = current_context()
    name = " ".join(program.split())
    argv = context.config.apps.allow.get(spoken_key(program))
    if argv is None:
        return f"I'm not allowed to open {name}. To allow it, add it under [apps.allow] in {config_path()}."
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
    if os.name == "nt":
        detach = {"creationflags": subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP}
    else:
        detach = {"start_new_session": True}
    quiet = subprocess.DEVNULL
    process = subprocess.Popen(argv, shell=False, stdin=quiet, stdout=quiet, stderr=quiet, **detach)
    # Reap it when it exits, so it leaves no zombie behind.
    threading.Thread(target=process.wait, daemon=True).start()
