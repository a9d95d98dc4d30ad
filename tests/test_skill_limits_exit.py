"""A skill the assistant stopped waiting for never holds the process: a real Python process must exit at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from assistant.runtime.dispatch import MAX_SKILL_THREADS, Dispatcher
from assistant.runtime.pack import SkillPack
from assistant.runtime.skill import Skill

REPO = Path(__file__).resolve().parent.parent

# The dispatcher on a pack whose skills sleep for a minute (one in a thread, one in its own process),
# with a 1 s time limit; the script prints both answers and ends.
SCRIPT = textwrap.dedent(
    """
    import time

    from assistant.runtime.dispatch import Dispatcher
    from assistant.runtime.pack import SkillPack
    from assistant.runtime.skill import Skill


    def nap() -> str:
        \"\"\"Sleeps for a minute.\"\"\"
        time.sleep(60)
        return "awake"


    def isolated_nap() -> str:
        \"\"\"Sleeps for a minute in its own process.\"\"\"
        time.sleep(60)
        return "awake"


    pack = SkillPack.from_skills([Skill.from_function(nap), Skill.from_function(isolated_nap, isolated=True)])
    dispatcher = Dispatcher(pack, timeout_s=1.0)
    for name in ("nap", "isolated_nap"):
        print(dispatcher.run(pack.parse(f"{name}()")).answer, flush=True)
    """
)


def test_the_process_exits_soon_after_its_last_answer_though_a_skill_still_sleeps() -> None:
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "The nap skill took longer than 1 seconds, so I stopped waiting.",
        "The isolated_nap skill took longer than 1 seconds, so I stopped it.",
    ]
    assert time.monotonic() - start < 30  # the sleeping worker thread held it for the whole minute


def test_busy_workers_refuse_a_call_within_its_time_limit_and_free_their_place_when_done() -> None:
    release = threading.Event()

    def wait() -> str:
        """Waits until the test lets it go."""
        release.wait(30)
        return "let go"

    def greet() -> str:
        """Answers at once."""
        return "hello"

    pack = SkillPack.from_skills([Skill.from_function(wait), Skill.from_function(greet)])
    dispatcher = Dispatcher(pack, timeout_s=0.2)
    for _ in range(MAX_SKILL_THREADS):
        assert dispatcher.run(pack.parse("wait()")).error == "timeout"
    start = time.monotonic()
    refused = dispatcher.run(pack.parse("greet()"))
    assert refused.error == "timeout" and time.monotonic() - start < 10
    release.set()
    deadline = time.monotonic() + 10
    while (answer := dispatcher.run(pack.parse("greet()"))).failed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert answer.answer == "hello"
