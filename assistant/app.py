"""Build an assistant from a config: the skill pack, the router and the recogniser, ready for turns.

The command line (:mod:`assistant.cli`), the benchmarks and the tests build theirs here. Nothing heavy is
imported until an assistant is built, and its models load on first use (or at :meth:`Assistant.load`), so
what is missing or misnamed is told in one line before minutes go into loading.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.config import Config
from assistant.errors import VoxrouteError
from assistant.runtime.pack import DEFAULT_MODULE, SkillPack, load_pack

if TYPE_CHECKING:
    from assistant.pipeline import Assistant
    from assistant.routing.router import Router


log = logging.getLogger(__name__)


class SetupError(VoxrouteError):
    """Something named on the command line or in the config is missing or unusable: one line, exit status 2."""


def load_skills(module: str, examples: str | Path | None = None) -> SkillPack:
    """The skill pack, with its example files in ``examples`` (the default pack's own when None); a module or
    folder that is not there is one line, not an import traceback."""
    if examples is not None and not Path(examples).is_dir():
        raise SetupError(f"no example folder {str(examples)!r} (--examples)")
    try:
        return load_pack(module, examples)
    except ModuleNotFoundError as error:
        if error.name is None or not (module == error.name or module.startswith(f"{error.name}.")):
            raise  # the pack is there but imports something that is not: its own bug, worth a traceback
        raise SetupError(f"no skill pack module {module!r} (--skills): {error}") from error
    except ValueError as error:  # a module without @skill functions, or two skills of one name
        raise SetupError(f"skill pack {module!r} (--skills): {error}") from error


def router_factory(pack: SkillPack, config: Config) -> Callable[[], Router]:
    """How to build the router, behind the instant path where ``[router] instant`` is on; the adapter folder is
    checked now, before minutes go into loading."""
    trained = trained_router_factory(pack, config)
    if not config.router.instant:
        return trained

    def instant() -> Router:
        from assistant.routing.instant import InstantMatcher, InstantRouter
        from assistant.runtime.example_files import ExamplesError

        router = trained()
        try:
            return InstantRouter(router, InstantMatcher.for_pack(pack))
        except ExamplesError as error:  # the router still serves; the first problem is said, in one line
            more = f" (and {len(error.problems) - 1} more)" if len(error.problems) > 1 else ""
            log.warning("no instant path ([router] instant): %s%s", error.problems[0], more)
            return router

    return instant


def trained_router_factory(pack: SkillPack, config: Config) -> Callable[[], Router]:
    """How to build the trained router (local or an endpoint); its adapter folder is checked now."""
    from assistant.routing.router import (
        SHIPPED_ADAPTER,
        OpenAIRouter,
        is_trained_folder,
        load_local_router,
    )
    from assistant.web import NoAPIKey

    settings = config.router
    if settings.backend == "openai":

        def endpoint() -> Router:
            try:
                return OpenAIRouter(pack, settings)
            except NoAPIKey as error:
                raise SetupError(f"the router's endpoint: {error}") from error

        return endpoint
    adapter = Path(settings.adapter).expanduser() if settings.adapter else SHIPPED_ADAPTER
    if not is_trained_folder(adapter):
        problem = (
            "neither an adapter (adapter_config.json) nor a model folder (config.json)"
            if adapter.is_dir()
            else "no such folder"
        )
        raise SetupError(f"router adapter {adapter}: {problem} ([router] adapter or --adapter)")
    return lambda: load_local_router(
        pack, adapter, engine=settings.engine, threads=settings.threads, deadline_s=settings.timeout_s
    )


def build_assistant(
    config: Config, skills: str | SkillPack = DEFAULT_MODULE, on_stage: Callable[[str], None] = lambda stage: None
) -> Assistant:
    """An assistant for ``config`` and ``skills`` (a skill pack, or the name of its module), its router and
    recogniser as ``[router]`` and ``[voice]`` say (the adapter is ``[router] adapter``); ``on_stage`` is told
    what each turn is doing ("transcribing", "thinking", "running weather"). A SetupError when the pack or the
    router's folder cannot be used; the models load at :meth:`Assistant.load` or on first use."""
    from assistant.pipeline import Assistant
    from assistant.voice.stt import configured_transcriber

    pack = load_skills(skills) if isinstance(skills, str) else skills
    return Assistant(
        pack,
        config,
        router_factory(pack, config),
        lambda: configured_transcriber(config.voice, pack),
        on_stage,
    )
