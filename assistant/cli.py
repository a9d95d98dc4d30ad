"""The ``voxroute`` command: listen, say, run, skills, devices, demo, learn, config.

The model libraries (transformers, torch, openai) are imported only once the arguments are read:
``--help`` answers at once, and without ``-v`` their progress bars and warnings are switched off
before they load.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib.metadata
import io
import json
import logging
import os
import signal
import statistics
import sys
import tempfile
import textwrap
import traceback
import typing
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assistant import Config, VoxrouteError, build_assistant, load_config
from assistant.app import SetupError, load_skills
from assistant.config import (
    CONFIG_ENV,
    GeneralConfig,
    RouterConfig,
    VoiceConfig,
    config_path,
    default_config_toml,
)
from assistant.runtime.context import (
    SkillContext,
    ask_in_terminal,
    current_context,
    ring_tone,
    use_context,
)
from assistant.runtime.pack import DEFAULT_MODULE
from assistant.runtime.timers import TimerBoard
from assistant.voice.audio import (
    SAMPLE_RATE,
    AudioError,
    PushToTalk,
    import_sounddevice,
    list_devices,
)
from assistant.voice.capture import MicrophoneStream
from finetune.learn import add_arguments as learning_arguments

if TYPE_CHECKING:
    from assistant.pipeline import Assistant, Turn
    from assistant.voice.listening import Heard
    from assistant.voice.tts import Speaker

log = logging.getLogger(__name__)

FAILED, USAGE = 1, 2  # exit statuses: some input failed (or the output could not be written); could not start
PIPE_CLOSED = 128 + signal.SIGPIPE  # the status of a process that SIGPIPE ended: its reader went away (| head)
CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}  # C0, DEL and C1, written out
LINES = {code: text for code, text in CONTROLS.items() if code != ord("\n")}
JSON_C1 = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}
QUIET = {  # set before the libraries load, unless -v
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # also turns off transformers' "Loading weights" bars
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",  # voxroute learn: trl's tokenizing of the data set
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",  # its warning when an isolated skill forks the process
}
SECTIONS = {cls: name for name, cls in typing.get_type_hints(Config).items()}


class OutputError(Exception):
    """Standard output cannot be written (a full disk, a closed pipe): told apart from the OSErrors of the work.
    No VoxrouteError: it ends a command with exit status 1 (141 for a closed pipe), not with the usage status."""


class Stdout(io.TextIOBase):
    """``sys.stdout`` as it is at each write, whose failures are OutputError; the console and print() write here."""

    def write(self, text: str) -> int:
        try:
            return sys.stdout.write(text)
        except OSError as error:
            raise OutputError(error.strerror) from error

    def flush(self) -> None:
        try:
            sys.stdout.flush()
        except OSError as error:
            raise OutputError(error.strerror) from error

    def isatty(self) -> bool:
        return sys.stdout.isatty()

    def fileno(self) -> int:
        return sys.stdout.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return sys.stdout.encoding


STDOUT = Stdout()
# rich wants a typing.IO[str]; typeshed does not declare io.TextIOBase one, though Stdout serves as one.
console = Console(file=STDOUT)  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class Cut:
    """The start of a typed line longer than ``[router] max_utterance_chars``: refused unrouted, never held whole."""

    start: str


def printable(text: str, lines: bool = False) -> str:
    """Text of the user, a skill or the network, safe to print: control characters written out (``\\x1b``), so
    that none sets the terminal's title or clears its screen; ``lines`` keeps newlines."""
    return text.translate(LINES if lines else CONTROLS)


def shown(text: str, lines: bool = False) -> str:
    """:func:`printable` text for the console, its rich markup escaped."""
    return escape(printable(text, lines))


def utf8_text(text: str, where: str) -> str:
    """``text`` as Python read it (undecodable bytes as lone surrogates), or a SetupError naming ``where``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")
        raise SetupError(f"{where} is not UTF-8 text: {raw!r}") from None
    return text


def quiet_libraries(verbose: bool) -> None:
    """Without -v, only voxroute's own warnings and errors show: library bars, logs and warnings are noise."""
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, format="%(levelname)s %(message)s")
    if verbose:
        return
    logging.getLogger("assistant").setLevel(logging.WARNING)
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)
    if not sys.warnoptions:
        warnings.simplefilter("ignore")


def with_overrides(config: Config, args: argparse.Namespace) -> Config:
    """Flags win over the config file: a flag's dest names the setting it overrides ("voice.stt")."""
    changes: dict[str, dict[str, Any]] = {}
    for dest, value in vars(args).items():
        if "." in dest and value is not None:
            section, key = dest.split(".")
            changes.setdefault(section, {})[key] = value
    sections = {section: dataclasses.replace(getattr(config, section), **values) for section, values in changes.items()}
    return dataclasses.replace(config, **sections)


def read_config(args: argparse.Namespace) -> Config:
    """The file --config names, which must exist; else the usual file, or the defaults when there is none."""
    if "config" not in vars(args):  # skills, devices: no setting applies
        return Config()
    if args.config is not None and not args.config.exists():
        raise SetupError(f"{args.config}: no such config file (--config)")
    if args.config is not None:  # the file in use is the one answers name (config_path), here and in skills
        os.environ[CONFIG_ENV] = str(args.config.resolve())
    return with_overrides(load_config(args.config), args)


def load_models(assistant: Assistant, speech: bool) -> None:
    """Load before the first turn, so that turn timings are the turns' own; a spinner says what takes the time."""
    with console.status("loading models (the first run converts and caches them)"):
        assistant.load(speech)


def speaker(config: Config, out: Speaker | None = None) -> Callable[[str], None]:
    """Speak answers when configured (in the background through ``out``, if given); a broken speech
    engine is reported once, then left off."""
    state = {"on": config.general.speak}

    def say(text: str) -> None:
        if not (state["on"] and text):
            return
        from assistant.voice.tts import TTSError, speak

        try:
            if out is not None:
                out.say(text)
            else:
                speak(text, config.general.tts)
        except TTSError as error:
            console.print(f"[yellow]speech output off: {shown(str(error))}[/yellow]")
            state["on"] = False

    return say


def show_turn(turn: Turn, as_json: bool, not_for_me: bool = False) -> None:
    """Print one turn; ``not_for_me`` (speech not meant for the assistant) gets a dim line, so the
    speaker knows they were heard."""
    if as_json:  # json.dumps writes C0 controls as \u001b, but leaves DEL and C1 as they are: escaped here
        print(json.dumps(turn.as_dict(), ensure_ascii=False).translate(JSON_C1), file=STDOUT)
        return
    timings = "  ".join(f"{key[:-3]} {value:.0f} ms" for key, value in turn.timings.items())
    if turn.transcript:
        console.print(f"[bold]heard[/bold]  {shown(turn.transcript)}", highlight=False)
    if turn.calls:
        held = "  [dim](asked first, not run)[/dim]" if turn.confirming else ""
        console.print(f"[bold]call[/bold]   [cyan]{shown('; '.join(turn.calls))}[/cyan]{held}", highlight=False)
    if turn.answer:
        console.print(f"[bold]answer[/bold] {shown(turn.answer, lines=True)}", highlight=False)
    elif not_for_me:
        console.print("[dim](not for me)[/dim]")
    if turn.error:
        console.print(f"[yellow]note[/yellow]   {shown(turn.error)}", highlight=False)
    console.print(f"[dim]{timings}[/dim]")


def typed(words: list[str]) -> list[str]:
    """What was typed, as the speaker meant it: words with no space in any of them (unquoted) are one
    utterance; quoted arguments are one utterance each. Text that is not UTF-8 stops here, before loading."""
    for number, text in enumerate(words, 1):
        utf8_text(text, f"argument {number}")
    return words if any(char.isspace() for text in words for char in text) else [" ".join(words)]


def typed_lines(limit: int) -> Iterator[str | Cut]:
    """A typed conversation: one utterance per line of standard input, until end of input. At most ``limit`` + 1
    characters of a line are read: a longer line is refused at once, and the rest of it skipped unheld.
    A line that is not UTF-8 stops the command (exit status 2), as such an argument does."""
    assert isinstance(sys.stdin, io.TextIOWrapper), "the interpreter's standard input is a text wrapper"
    sys.stdin.reconfigure(errors="surrogateescape")  # a line that is not UTF-8 is told by its number
    interactive = sys.stdin.isatty()
    number = 0
    while True:
        if interactive:
            console.print("[dim]>[/dim] ", end="")
        line = sys.stdin.readline(limit + 1)
        if not line:
            return
        number += 1
        text = utf8_text(line.strip(), f"line {number} of standard input")
        if len(line) > limit and not line.endswith("\n"):
            yield Cut(text)
            while line and not line.endswith("\n"):
                line = sys.stdin.readline(limit + 1)
        elif text:
            yield text


def one_turn_each(
    args: argparse.Namespace,
    config: Config,
    inputs: Iterable[str | Cut] | Iterable[Path],
    audio: bool,
    acknowledge: bool,
) -> int:
    """Handle each typed text or WAV file as one turn, in order (a turn may follow up on the one
    before): show it and, if asked, speak the answer.

    With ``acknowledge``, speech not meant for the assistant is acknowledged (a microphone loop stays
    silent: it hears every conversation). Exit status 1 when any turn failed (see ``Turn.failed``),
    so that a script can tell. Timers set by the turns ring before the command ends.
    """
    assistant = build_assistant(config, load_skills(args.skills, args.examples))
    load_models(assistant, speech=audio)
    say = speaker(config)
    failed = False
    for item in inputs:
        if isinstance(item, Cut):
            turn = assistant.refuse(item.start)
        elif isinstance(item, Path):  # a WAV file: the inputs when ``audio`` (argparse makes them Paths)
            turn = assistant.handle_file(item)
        else:
            turn = assistant.handle_text(item)
        show_turn(turn, args.json, acknowledge and assistant.not_for_me(turn))
        say(turn.answer)
        failed = failed or turn.failed
    wait_for_timers(current_context().timers)
    return FAILED if failed else 0


def wait_for_timers(board: TimerBoard) -> None:
    """A one-shot command stays until the running timers it set have rung (Ctrl+C cancels them).

    A paused timer would never ring, so it is said to be left behind rather than waited for.
    """
    running, paused = board.waiting()
    if paused:
        console.print(f"[dim]not waiting for {paused} paused timer{'s' * (paused > 1)}[/dim]")
    if not running:
        return
    console.print(f"[dim]waiting for {running} timer{'s' * (running > 1)} to ring; Ctrl+C cancels[/dim]")
    try:
        board.wait()
    except KeyboardInterrupt:
        console.print("[dim]timers cancelled[/dim]")


def cmd_say(args: argparse.Namespace, config: Config) -> int:
    typed_text = typed(args.text) if args.text else typed_lines(config.router.max_utterance_chars)
    return one_turn_each(args, config, typed_text, audio=False, acknowledge=True)


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    return one_turn_each(args, config, args.files, audio=True, acknowledge=True)


def cmd_listen(args: argparse.Namespace, config: Config) -> int:
    """The microphone loop: the microphone is checked first (no models load for nothing), then the
    models load, and only then does it say it is listening."""
    if args.audio:
        return one_turn_each(args, config, args.audio, audio=True, acknowledge=False)
    if args.text:
        return one_turn_each(args, config, typed(args.text), audio=False, acknowledge=False)
    voice = config.voice
    if voice.push_to_talk:
        microphone = PushToTalk(voice.device, max_s=voice.max_utterance_s)
        microphone.check()
        return listening(
            args,
            config,
            lambda assistant, say: (assistant.handle_audio(audio) for audio in microphone.utterances()),
            speaker(config),
        )
    stream = MicrophoneStream(voice.device)
    stream.check()
    voice_out = live_speaker(config)

    def turns(assistant: Assistant, say: Callable[[str], None]) -> Iterator[Turn]:
        from assistant.voice.listening import listen

        return listen(stream.start(), assistant, voice, on_heard=end_of_turn_player(voice.end_sound), speaker=voice_out)

    say = speaker(config, voice_out)
    try:
        if voice_out is None:
            return listening(args, config, turns, say)
        with use_context(
            dataclasses.replace(
                current_context(), ring=functools.partial(ring_tone, voice_out), announce=printer_then(say)
            )
        ):
            return listening(args, config, turns, say)
    finally:
        stream.stop()


def listening(
    args: argparse.Namespace,
    config: Config,
    turns: Callable[[Assistant, Callable[[str], None]], Iterable[Turn]],
    say: Callable[[str], None],
) -> int:
    """Load the models, say so, then show (and speak) each turn until Ctrl+C."""
    status = console.status("listening")
    assistant = build_assistant(config, load_skills(args.skills, args.examples), lambda stage: status.update(stage))
    load_models(assistant, speech=True)
    wake = f' (say "{config.voice.wake_word} ..." first)' if config.voice.wake_word else ""
    console.print(f"voxroute is listening{wake}. Ctrl+C stops.")
    with status:
        try:
            for turn in turns(assistant, say):
                status.stop()
                show_turn(turn, as_json=False)
                say(turn.answer)
                status.start()
                status.update("listening")
        except KeyboardInterrupt:
            status.stop()
            console.print("bye")
    return 0


def live_speaker(config: Config) -> Speaker | None:
    """A speaker that talks in the background, so that "stop" can be heard, when answers are spoken."""
    from assistant.voice.tts import Speaker

    return Speaker(config.general.tts) if config.general.speak else None


def end_of_turn_player(on: bool) -> Callable[[Heard], None]:
    """Play the end-of-turn sound without waiting for it; a machine without sound output just stays quiet."""
    from assistant.voice.listening import end_of_turn_sound

    sound = end_of_turn_sound()

    def play(heard: Heard) -> None:
        if not on:
            return
        try:
            import_sounddevice().play(sound, SAMPLE_RATE, blocking=False)
        except Exception as error:  # no output device: the turn goes on without its sound
            log.info("no end-of-turn sound: %s", error)

    return play


def cmd_skills(args: argparse.Namespace, config: Config) -> int:
    """Each call with its arguments' types, choices and defaults on a line of its own (whole at any
    width, and greppable), the description indented below it."""
    pack = load_skills(args.skills, args.examples)
    console.print(
        f"[bold]skills of {shown(args.skills)}[/bold] (an argument with a default may be left out)", highlight=False
    )
    for skill in pack.skills.values():
        console.print(f"[cyan]{shown(skill.signature())}[/cyan]", highlight=False, soft_wrap=True)
        described = textwrap.fill(skill.description, console.width, initial_indent="    ", subsequent_indent="    ")
        console.print(shown(described, lines=True), highlight=False, soft_wrap=True)
    return 0


def cmd_devices(args: argparse.Namespace, config: Config) -> int:
    try:
        console.print(shown(list_devices(), lines=True), highlight=False)
    except AudioError as error:
        console.print(f"[red]{shown(str(error))}[/red]")
        return USAGE
    return 0


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    """The bundled recordings through the whole pipeline; notes go to a temporary file."""
    from assistant.voice.samples import load_samples

    scratch = Path(tempfile.mkdtemp(prefix="voxroute-demo-"))
    config = dataclasses.replace(
        config,
        notes=dataclasses.replace(config.notes, path=str(scratch / "notes.sqlite3")),
        general=dataclasses.replace(config.general, speak=False),
    )
    samples = load_samples()
    assistant = build_assistant(config, load_skills(args.skills, args.examples))
    load_models(assistant, speech=True)
    table = Table(title="voxroute demo: bundled recordings → Whisper → router → skill")
    for column in ("recording", "heard", "call", "ok", "answer", "stt ms", "route ms", "skill ms"):
        table.add_column(column, justify="right" if column.endswith("ms") else "left", overflow="fold")
    matches, route_ms = 0, []
    with use_context(
        SkillContext(config, confirm=lambda question: False, announce=lambda text: None, ring=lambda: None)
    ):
        for sample in samples:
            assistant.memory.forget()  # the recordings are separate commands, not one conversation
            turn = assistant.handle_file(sample["file"])
            ok = "; ".join(turn.calls) == sample["call"]
            matches += ok
            route_ms.append(turn.timings.get("route_ms", 0.0))
            answer = turn.answer if len(turn.answer) <= 70 else turn.answer[:67] + "..."
            table.add_row(
                Path(sample["file"]).stem,
                shown(turn.transcript),
                shown("; ".join(turn.calls)),
                "✓" if ok else "✗",
                shown(answer),
                *(f"{turn.timings.get(key, 0):.0f}" for key in ("stt_ms", "route_ms", "skill_ms")),
            )
    console.print(table)
    console.print(
        f"{matches}/{len(samples)} calls as expected; router median {statistics.median(route_ms):.0f} ms "
        f"(notes written to {scratch})"
    )
    return 0


def cmd_learn(args: argparse.Namespace, config: Config) -> int:
    """Teach the router in use the skills of the example files given (finetune/learn.py), and say how to use it."""
    from assistant.routing.router import SHIPPED_ADAPTER
    from finetune.learn import INTERRUPTED, Settings, default_output, how_to_use, learn

    pack = load_skills(args.skills, args.examples)
    adapter = Path(config.router.adapter).expanduser() if config.router.adapter else SHIPPED_ADAPTER
    output = (args.out or default_output()).expanduser()
    settings = Settings(args.steps, args.batch_size, args.learning_rate, args.new_share, args.seed, args.save_steps)
    try:
        learn(
            pack,
            args.skills,
            args.files,
            adapter,
            output,
            settings,
            console,
            resume=args.resume,
            engine=config.router.engine,
            exclude=args.exclude,
        )
    except KeyboardInterrupt:
        console.print(
            f"[yellow]stopped: the same command with --resume continues from the last checkpoint in "
            f"{shown(str(output))}[/yellow]",
            soft_wrap=True,
        )
        return INTERRUPTED
    console.print(shown(how_to_use(output, config.router.adapter, config_path()), lines=True), soft_wrap=True)
    return 0


def cmd_config(args: argparse.Namespace, config: Config) -> int:
    """Print the documented defaults, saying plainly which file overrides them, if any."""
    path = args.config or config_path()
    if path.exists():
        print(f"# the config file in use: {printable(str(path))} (its keys override the defaults below)", file=STDOUT)
    else:
        print(
            f"# no config file at {printable(str(path))}: the defaults below are in use (save this output there to "
            "change them)",
            file=STDOUT,
        )
    print(default_config_toml(), end="", file=STDOUT)
    return 0


def override(group: argparse.ArgumentParser, flag: str, section: type, key: str, **options: Any) -> None:
    """A flag for the setting ``[section] key``: its help is the setting's doc and its choices the
    setting's Literal values, both from assistant/config.py; its dest ("voice.stt") names the setting."""
    declared = {item.name: item for item in dataclasses.fields(section)}[key]
    hint = typing.get_type_hints(section)[key]
    if typing.get_origin(hint) is typing.Literal:
        options["choices"] = typing.get_args(hint)
    name = SECTIONS[section]
    doc = declared.metadata["doc"].replace("%", "%%")
    group.add_argument(flag, dest=f"{name}.{key}", help=f"{doc} Overrides [{name}] {key}.", **options)


def version() -> str:
    try:
        return importlib.metadata.version("voxroute")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed: run `make setup`)"


def parser() -> argparse.ArgumentParser:
    """The command line. One parent parser per concern, so each command takes only the flags that apply to it."""
    verbosity = argparse.ArgumentParser(add_help=False)
    verbosity.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show library logs, warnings and progress bars, the model loading time, and tracebacks",
    )
    configured = argparse.ArgumentParser(add_help=False)
    configured.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"the config file; it must exist (default: ${CONFIG_ENV}, else config.toml in the "
        "user config folder, if there is one)",
    )
    pack = argparse.ArgumentParser(add_help=False)
    pack.add_argument(
        "--skills",
        default=DEFAULT_MODULE,
        metavar="MODULE",
        help="the skill pack: a Python module or package of @skill functions (default: %(default)s)",
    )
    pack.add_argument(
        "--examples",
        type=Path,
        metavar="DIR",
        help="the pack's example files (<skill>_examples.txt), whose sentences are answered at once "
        "(default: the default pack's own)",
    )
    routing = argparse.ArgumentParser(add_help=False)
    override(routing, "--router", RouterConfig, "backend")
    override(routing, "--adapter", RouterConfig, "adapter", metavar="FOLDER")
    override(routing, "--engine", RouterConfig, "engine")
    hearing = argparse.ArgumentParser(add_help=False)
    override(hearing, "--stt", VoiceConfig, "stt")
    override(hearing, "--stt-model", VoiceConfig, "stt_model", metavar="NAME_OR_PATH")
    wake = argparse.ArgumentParser(add_help=False)
    override(wake, "--wake-word", VoiceConfig, "wake_word", metavar="WORD")
    microphone = argparse.ArgumentParser(add_help=False)
    override(microphone, "--device", VoiceConfig, "device", metavar="NUMBER_OR_NAME")
    override(microphone, "--push-to-talk", VoiceConfig, "push_to_talk", action=argparse.BooleanOptionalAction)
    speech = argparse.ArgumentParser(add_help=False)
    override(speech, "--speak", GeneralConfig, "speak", action=argparse.BooleanOptionalAction)
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument(
        "--json",
        action="store_true",
        help="print each turn as one JSON line: {transcript, calls, answer, error, failed, timings}; "
        "timings are the turn's own, model loading excluded",
    )
    exits = (
        "Exit status: 0 when every input was handled, 1 when any failed (an unreadable file, input too long, "
        "no usable call, a skill that failed or timed out; speech not meant for the assistant and a missing "
        "wake word are not failures), 2 when the command could not start."
    )
    one_shot = "Answers are printed, not spoken, unless --speak."

    main = argparse.ArgumentParser(prog="voxroute", description="A voice assistant routed by a small fine-tuned model.")
    main.add_argument(
        "--version", action="version", version=f"%(prog)s {version()}", help="print the version of voxroute and exit"
    )
    commands = main.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        help="one of these; `voxroute COMMAND --help` shows its options",
    )
    listen = commands.add_parser(
        "listen",
        parents=[verbosity, configured, pack, routing, hearing, wake, microphone, speech],
        help="listen to the microphone and act on commands",
        description="Listen to the microphone and act on each command, until Ctrl+C. "
        "With --audio or --text, handle those instead. " + exits,
    )
    sources = listen.add_mutually_exclusive_group()
    sources.add_argument(
        "--audio", nargs="+", type=Path, metavar="WAV", help="instead of the microphone: WAV recordings, one turn each"
    )
    sources.add_argument(
        "--text", nargs="+", metavar="TEXT", help="instead of the microphone: typed commands, as for `voxroute say`"
    )
    listen.set_defaults(handler=cmd_listen, json=False)
    say = commands.add_parser(
        "say",
        parents=[verbosity, configured, pack, routing, wake, speech, output],
        help="route typed text as if it were spoken",
        description="Route typed text as if it were spoken. " + one_shot + " " + exits,
    )
    say.add_argument(
        "text",
        nargs="*",
        metavar="TEXT",
        help="what is said: unquoted words are one utterance (say what time is it); quoted arguments, "
        'one each ("what time is it" "add a note buy milk"); none: a conversation, one utterance '
        "per line of standard input until end of input",
    )
    say.set_defaults(handler=cmd_say)
    run = commands.add_parser(
        "run",
        parents=[verbosity, configured, pack, routing, hearing, wake, speech, output],
        help="run WAV recordings through the pipeline",
        description="Run WAV recordings through the whole pipeline, one turn each, as "
        "consecutive turns of one conversation. " + one_shot + " " + exits,
    )
    run.add_argument("files", nargs="+", type=Path, metavar="WAV", help="WAV recordings (any rate, mono or stereo)")
    run.set_defaults(handler=cmd_run)
    commands.add_parser(
        "skills",
        parents=[verbosity, pack],
        help="list the skills, with their arguments' types",
        description="List the skills of a pack: each call with its arguments' types, choices and "
        "defaults (an argument with a default may be left out).",
    ).set_defaults(handler=cmd_skills)
    commands.add_parser(
        "devices",
        parents=[verbosity],
        help="list the audio input devices",
        description="List the audio input devices; [voice] device takes the number or words of the name.",
    ).set_defaults(handler=cmd_devices)
    commands.add_parser(
        "demo",
        parents=[verbosity, configured, routing, hearing],
        help="the bundled recordings through the whole pipeline",
        description="Run the bundled recordings of the shipped skills through the whole pipeline "
        "and compare each call with the expected one.",
    ).set_defaults(handler=cmd_demo, skills=DEFAULT_MODULE, examples=None)
    learn = commands.add_parser(
        "learn",
        parents=[verbosity, configured, pack],
        help="teach the router a new or changed skill in minutes",
        description="Teach the router in use ([router] adapter, else the shipped one) the skills of the example "
        "files given, in minutes: its LoRA adapter goes on training on those files' sentences and a replay of the "
        "pack's others (a sentence the new skill now answers relabelled with its call). Writes the adapter, its "
        "manifest and the data set into --out, makes them ready for the runtime, and says how to use them. Needs the "
        "training libraries (pip install 'voxroute[train]'). `make router` still trains a router from scratch.",
    )
    override(learn, "--adapter", RouterConfig, "adapter", metavar="FOLDER")
    override(learn, "--engine", RouterConfig, "engine")
    learning_arguments(learn)
    learn.set_defaults(handler=cmd_learn)
    commands.add_parser(
        "config",
        parents=[verbosity, configured],
        help="print the documented default config file",
        description="Print the documented default config file, saying which file is in use, if any.",
    ).set_defaults(handler=cmd_config)
    return main


def main(argv: list[str] | None = None) -> int:
    """Run a command. Output that cannot be written ends it with one line on stderr (exit status 1), or quietly
    when its reader has gone (``| head``), as SIGPIPE would end it."""
    try:
        try:
            return run_command(argv)
        finally:
            STDOUT.flush()  # what print() still holds fails here, not at exit
    except OutputError as error:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # what is still buffered goes there: nothing fails again at exit
        os.close(devnull)
        if isinstance(error.__cause__, BrokenPipeError):
            return PIPE_CLOSED
        print(f"voxroute: cannot write the output: {error}", file=sys.stderr)
        return FAILED


def run_command(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    quiet_libraries(args.verbose)
    if args.command in ("say", "run") and vars(args)["general.speak"] is None:
        vars(args)["general.speak"] = False  # one-shot commands print; --speak turns speech on
    try:
        config = read_config(args)
        with use_context(SkillContext(config, confirm=ask_in_terminal, announce=speaker_and_printer(config))):
            handler: Callable[[argparse.Namespace, Config], int] = args.handler  # set by the subcommand's parser
            return handler(args, config)
    except VoxrouteError as error:
        if args.verbose:
            traceback.print_exc()
        console.print(f"[red]{shown(str(error))}[/red]", highlight=False, soft_wrap=True)
        return USAGE


def speaker_and_printer(config: Config) -> Callable[[str], None]:
    return printer_then(speaker(config))


def printer_then(say: Callable[[str], None]) -> Callable[[str], None]:
    """An announcement (a timer going off) printed, then said."""

    def announce(text: str) -> None:
        console.print(f"[bold magenta]{shown(text)}[/bold magenta]")
        say(text)

    return announce


if __name__ == "__main__":
    sys.exit(main())
