"""The one base of voxroute's errors that a user is told as one line.

Each such error's message is whole on its own and names the file, setting or value at fault, so a command
prints it alone (the traceback only with ``-v``) and ends with exit status 2. An error class keeps its
older base beside this one (``class ConfigError(VoxrouteError, ValueError)``), so code that catches the
older base still catches it. Exceptions whose message is only part of a sentence (a skill's network read
that failed, a timer board that is full) are signals to the code that catches them, not errors of this kind.
"""

from __future__ import annotations


class VoxrouteError(Exception):
    """An error the user gets as one line: its message says what is wrong and names the input at fault."""
