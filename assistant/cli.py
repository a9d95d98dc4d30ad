"""The ``voxroute`` command: listen, say, run, skills, devices, demo, config."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assistant.audio import AudioError, Microphone, list_devices
from assistant.config import Config, ConfigError, load_config
from assistant.context import SkillContext, ask_in_terminal, use_context
from assistant.endpoint import NoAPIKey
from assistant.pack import SkillPack, load_pack
from assistant.pipeline import Assistant, Turn
from assistant.router import SHIPPED_ADAPTER, OpenAIRouter, Router, load_local_router
from assistant.stt import BACKENDS, load_transcriber

console = Console()


def with_overrides(config: Config, args: argparse.Namespace) -> Config:
    """Flags win over the config file."""
    voice = {k: v for k, v in {"stt": args.stt, "stt_model": args.stt_model, "wake_word": args.wake_word,
                               "device": args.device, "push_to_talk": args.push_to_talk}.items() if v is not None}
    router = {k: v for k, v in {"adapter": args.adapter, "engine": args.engine, "backend": args.router}.items()
              if v is not None}
    general = {"speak": args.speak} if args.speak is not None else {}
    return dataclasses.replace(
        config,
        voice=dataclasses.replace(config.voice, **voice),
        router=dataclasses.replace(config.router, **router),
        general=dataclasses.replace(config.general, **general),
    )


def router_factory(pack: SkillPack, config: Config) -> Callable[[], Router]:
    settings = config.router
    if settings.backend == "openai":
        return lambda: OpenAIRouter(pack, settings)
    adapter = Path(settings.adapter).expanduser() if settings.adapter else SHIPPED_ADAPTER
    return lambda: load_local_router(pack, adapter, engine=settings.engine)


def build_assistant(args: argparse.Namespace, config: Config, on_stage: Callable[[str], None] = lambda s: None) -> Assistant:
    pack = load_pack(args.skills)
    voice = config.voice
    return Assistant(pack, config, router_factory(pack, config), lambda: load_transcriber(voice.stt, voice.stt_model),
                     on_stage)


def speaker(config: Config) -> Callable[[str], None]:
    """Speak answers when configured; a broken speech engine is reported once, then left off."""
    state = {"on": config.general.speak}

    def say(text: str) -> None:
        if not (state["on"] and text):
            return
        from assistant.tts import TTSError, speak

        try:
            speak(text, config.general.tts)
        except TTSError as error:
            console.print(f"[yellow]speech output off: {escape(str(error))}[/yellow]")
            state["on"] = False

    return say


def show_turn(turn: Turn, as_json: bool) -> None:
    if as_json:
        print(json.dumps(turn.as_dict(), ensure_ascii=False))
        return
    timings = "  ".join(f"{key[:-3]} {value:.0f} ms" for key, value in turn.timings.items())
    if turn.transcript:
        console.print(f"[bold]heard[/bold]  {escape(turn.transcript)}", highlight=False)
    if turn.call:
        console.print(f"[bold]call[/bold]   [cyan]{escape(turn.call)}[/cyan]", highlight=False)
    if turn.answer:
        console.print(f"[bold]answer[/bold] {escape(turn.answer)}", highlight=False)
    if turn.error:
        console.print(f"[yellow]note[/yellow]   {escape(turn.error)}", highlight=False)
    console.print(f"[dim]{timings}[/dim]")


def one_turn_each(args: argparse.Namespace, config: Config, inputs: list, handle: Callable[[Assistant], Callable]) -> int:
    """Handle each typed text or WAV file as one turn: show it and, if asked, speak the answer."""
    assistant = build_assistant(args, config)
    say = speaker(config)
    for item in inputs:
        turn = handle(assistant)(item)
        show_turn(turn, args.json)
        say(turn.answer)
    return 0


def cmd_say(args: argparse.Namespace, config: Config) -> int:
    return one_turn_each(args, config, args.text, lambda assistant: assistant.handle_text)


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    return one_turn_each(args, config, args.files, lambda assistant: assistant.handle_file)


def cmd_listen(args: argparse.Namespace, config: Config) -> int:
    if args.audio:
        return one_turn_each(args, config, args.audio, lambda assistant: assistant.handle_file)
    if args.text:
        return one_turn_each(args, config, args.text, lambda assistant: assistant.handle_text)
    status = console.status("loading models")
    assistant = build_assistant(args, config, lambda stage: status.update(stage))
    say = speaker(config)
    voice = config.voice
    microphone = Microphone(voice.device, push_to_talk=voice.push_to_talk, silence_s=voice.silence_s,
                            max_s=voice.max_utterance_s)
    wake = f' (say "{voice.wake_word} ..." first)' if voice.wake_word else ""
    console.print(f"voxroute is listening{wake}. Ctrl+C stops.")
    with status:
        assistant.load()
        try:
            status.update("listening")
            for audio in microphone.utterances():
                turn = assistant.handle_audio(audio)
                status.stop()
                show_turn(turn, False)
                say(turn.answer)
                status.start()
                status.update("listening")
        except AudioError as error:
            status.stop()
            console.print(f"[red]{escape(str(error))}[/red]")
            return 2
        except KeyboardInterrupt:
            status.stop()
            console.print("bye")
    return 0


def cmd_skills(args: argparse.Namespace, config: Config) -> int:
    """Each call with its arguments' types, choices and defaults on a line of its own (whole at any
    width, and greppable), the description indented below it."""
    pack = load_pack(args.skills)
    console.print(f"[bold]skills of {escape(args.skills)}[/bold] (an argument with a default may be left out)",
                  highlight=False)
    for skill in pack.skills.values():
        console.print(f"[cyan]{escape(skill.signature())}[/cyan]", highlight=False, soft_wrap=True)
        described = textwrap.fill(skill.description, console.width, initial_indent="    ", subsequent_indent="    ")
        console.print(escape(described), highlight=False, soft_wrap=True)
    return 0


def cmd_devices(args: argparse.Namespace, config: Config) -> int:
    try:
        console.print(list_devices(), highlight=False)
    except AudioError as error:
        console.print(f"[red]{escape(str(error))}[/red]")
        return 2
    return 0


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    """The bundled recordings through the whole pipeline; notes go to a temporary file."""
    from assistant.samples import load_samples

    scratch = Path(tempfile.mkdtemp(prefix="voxroute-demo-"))
    config = dataclasses.replace(
        config,
        notes=dataclasses.replace(config.notes, path=str(scratch / "notes.sqlite3")),
        general=dataclasses.replace(config.general, speak=False),
    )
    samples = load_samples()
    with console.status("loading models (the first run converts and caches them)"):
        assistant = build_assistant(args, config)
        assistant.load()
    table = Table(title="voxroute demo: bundled recordings → Whisper → router → skill")
    for column in ("recording", "heard", "call", "ok", "answer", "stt ms", "route ms", "skill ms"):
        table.add_column(column, justify="right" if column.endswith("ms") else "left", overflow="fold")
    matches, route_ms = 0, []
    with use_context(SkillContext(config, confirm=lambda question: False, announce=lambda text: None)):
        for sample in samples:
            turn = assistant.handle_file(sample["file"])
            ok = turn.call == sample["call"]
            matches += ok
            route_ms.append(turn.timings.get("route_ms", 0.0))
            answer = turn.answer if len(turn.answer) <= 70 else turn.answer[:67] + "..."
            table.add_row(Path(sample["file"]).stem, escape(turn.transcript), escape(turn.call), "✓" if ok else "✗",
                          escape(answer),
                          *(f"{turn.timings.get(key, 0):.0f}" for key in ("stt_ms", "route_ms", "skill_ms")))
    console.print(table)
    console.print(f"{matches}/{len(samples)} calls as expected; router median {statistics.median(route_ms):.0f} ms "
                  f"(notes written to {scratch})")
    return 0


def cmd_config(args: argparse.Namespace, config: Config) -> int:
    """Print the documented defaults, saying plainly which file overrides them, if any."""
    from assistant.config import config_path, default_config_toml

    path = args.config or config_path()
    if path.exists():
        print(f"# the config file in use: {path} (its keys override the defaults below)")
    else:
        print(f"# no config file at {path}: the defaults below are in use (save this output there to change them)")
    print(default_config_toml(), end="")
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="voxroute", description="A voice assistant routed by a small fine-tuned model.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="config file (default: $VOXROUTE_CONFIG or the user config folder)")
    common.add_argument("--skills", default="skills", help="skill pack module (default: skills)")
    common.add_argument("--router", choices=("local", "openai"), help="router backend")
    common.add_argument("--adapter", help="router adapter folder (default: the shipped router)")
    common.add_argument("--engine", choices=("ctranslate2", "transformers"), help="local router engine")
    common.add_argument("--stt", choices=BACKENDS, help="speech recognition backend")
    common.add_argument("--stt-model", help="Whisper model name or path")
    common.add_argument("--wake-word", help="act only on speech starting with this word")
    common.add_argument("--device", help="input device number, or words of its name")
    common.add_argument("--push-to-talk", action=argparse.BooleanOptionalAction, default=None)
    common.add_argument("--speak", action=argparse.BooleanOptionalAction, default=None, help="speak answers aloud")
    common.add_argument("-v", "--verbose", action="store_true", help="show warnings and library logs")
    commands = main.add_subparsers(dest="command", required=True)
    listen = commands.add_parser("listen", parents=[common], help="listen to the microphone and act on commands")
    listen.add_argument("--audio", nargs="+", help="instead of the microphone: WAV files")
    listen.add_argument("--text", nargs="+", help="instead of the microphone: typed commands")
    listen.set_defaults(handler=cmd_listen, json=False)
    say = commands.add_parser("say", parents=[common], help="route typed text as if it were spoken")
    say.add_argument("text", nargs="+")
    say.add_argument("--json", action="store_true", help="print {transcript, call, answer, timings} as JSON")
    say.set_defaults(handler=cmd_say)
    run = commands.add_parser("run", parents=[common], help="run WAV recordings through the pipeline")
    run.add_argument("files", nargs="+", type=Path)
    run.add_argument("--json", action="store_true", help="print {transcript, call, answer, timings} as JSON")
    run.set_defaults(handler=cmd_run)
    for name, handler, text in (("skills", cmd_skills, "list the skills"), ("devices", cmd_devices, "list audio devices"),
                                ("demo", cmd_demo, "the bundled recordings through the whole pipeline"),
                                ("config", cmd_config, "print the documented default config file")):
        commands.add_parser(name, parents=[common], help=text).set_defaults(handler=handler)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if not args.verbose:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if args.command in ("say", "run") and args.speak is None:
        args.speak = False  # one-shot commands print; `--speak` turns speech on
    try:
        config = with_overrides(load_config(args.config), args)
    except ConfigError as error:
        console.print(f"[red]{escape(str(error))}[/red]")
        return 2
    with use_context(SkillContext(config, confirm=ask_in_terminal, announce=speaker_and_printer(config))):
        try:
            return args.handler(args, config)
        except NoAPIKey as error:
            console.print(f"[red]the router's endpoint: {escape(str(error))}[/red]")
            return 2


def speaker_and_printer(config: Config) -> Callable[[str], None]:
    say = speaker(config)

    def announce(text: str) -> None:
        console.print(f"[bold magenta]{escape(text)}[/bold magenta]")
        say(text)

    return announce


if __name__ == "__main__":
    sys.exit(main())
