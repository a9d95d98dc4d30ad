"""voxroute's one typed configuration: a TOML file read into one frozen dataclass per section.

Every setting is declared once, here, with its type, default, a one-line doc and, for a number, its
range. Loading reads only a regular file of at most MAX_CONFIG_BYTES, checks each value against its
type and range and rejects unknown keys, naming the file and the key; the documented
default file (:func:`default_config_toml`) is generated from the same declarations, so the two
cannot drift apart. A new section is one dataclass plus one field of :class:`Config`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import stat
import sys
import textwrap
import tomllib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeVar

import platformdirs

from assistant.errors import VoxrouteError

CONFIG_ENV = "VOXROUTE_CONFIG"
MAX_CONFIG_BYTES = 1 << 20  # a config file (or an adapter's JSON) larger than 1 MiB is refused before it is read
MAX_WAIT_S = 600.0  # the longest a network request may be waited for
MAX_RETRIES = 10
DAY_S = 86_400.0  # the longest a skill may be waited for


class ConfigError(VoxrouteError, ValueError):
    """The config file cannot be read or does not fit the declarations; the message names file and key."""


def setting(
    default: Any = dataclasses.MISSING,
    *,
    doc: str,
    factory: Callable[[], Any] | None = None,
    example: Any = None,
    positive: bool = False,
    low: float | None = None,
    high: float | None = None,
) -> Any:
    """Declare one setting: its default, its doc line, an example (for optional settings), and for a number
    its range: ``positive`` (more than 0) or ``low``, and ``high`` (both inclusive), so no value is absurd."""
    metadata = {"doc": doc, "example": example, "positive": positive, "low": low, "high": high}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def spoken_key(text: str) -> str:
    """How a spoken program name is compared: case-insensitive, whitespace-normalized. Punctuation is
    kept, unlike :func:`~assistant.runtime.example_files.utterance_key`: an allow-list name may need it
    ("notepad++")."""
    return " ".join(text.split()).casefold()


def default_apps(platform: str = sys.platform) -> dict[str, list[str]]:
    """The built-in allow-list of programs per platform: spoken name to argv (``~`` is expanded)."""
    if platform == "darwin":

        def app(name: str) -> list[str]:
            return ["open", "-a", name]

        return {
            "firefox": app("Firefox"),
            "safari": app("Safari"),
            "chrome": app("Google Chrome"),
            "google chrome": app("Google Chrome"),
            "visual studio code": app("Visual Studio Code"),
            "vs code": app("Visual Studio Code"),
            "terminal": app("Terminal"),
            "calculator": app("Calculator"),
            "text editor": app("TextEdit"),
            "files": ["open", "~"],
            "finder": app("Finder"),
            "spotify": app("Spotify"),
        }
    if platform == "win32":
        return {
            "firefox": [r"C:\Program Files\Mozilla Firefox\firefox.exe"],
            "chrome": [r"C:\Program Files\Google\Chrome\Application\chrome.exe"],
            "google chrome": [r"C:\Program Files\Google\Chrome\Application\chrome.exe"],
            "edge": ["msedge.exe"],
            "visual studio code": ["code"],
            "vs code": ["code"],
            "terminal": ["wt.exe"],
            "calculator": ["calc.exe"],
            "text editor": ["notepad.exe"],
            "notepad": ["notepad.exe"],
            "files": ["explorer.exe", "~"],
            "file explorer": ["explorer.exe", "~"],
            "spotify": ["explorer.exe", "spotify:"],
        }
    return {
        "firefox": ["firefox"],
        "chrome": ["google-chrome"],
        "google chrome": ["google-chrome"],
        "web browser": ["x-www-browser"],
        "visual studio code": ["code"],
        "vs code": ["code"],
        "terminal": ["x-terminal-emulator"],
        "calculator": ["gnome-calculator"],
        "text editor": ["gnome-text-editor"],
        "files": ["xdg-open", "~"],
        "file manager": ["xdg-open", "~"],
        "spotify": ["spotify"],
        "thunderbird": ["thunderbird"],
    }


@dataclass(frozen=True)
class GeneralConfig:
    """Where home is and how answers come out."""

    home_location: str = setting("", doc='Place used when a question names none, e.g. "Berlin" (empty: ask for one).')
    speak: bool = setting(True, doc="Speak answers aloud (false: only print them).")
    tts: Literal["espeak", "piper"] = setting("espeak", doc='Text-to-speech engine: "espeak" or "piper".')


@dataclass(frozen=True)
class WeatherConfig:
    """Open-Meteo weather (no API key)."""

    units: Literal["metric", "imperial"] = setting("metric", doc='"metric" (°C) or "imperial" (°F).')
    geocoding_url: str = setting("https://geocoding-api.open-meteo.com/v1/search", doc="Open-Meteo geocoding API.")
    forecast_url: str = setting("https://api.open-meteo.com/v1/forecast", doc="Open-Meteo forecast API.")
    timeout_s: float = setting(5.0, doc="Seconds the weather service may take in all.", positive=True, high=MAX_WAIT_S)


@dataclass(frozen=True)
class NewsConfig:
    """Headlines from RSS or Atom feeds."""

    feeds: list[str] = setting(
        doc="RSS or Atom feed URLs, read in this order.",
        factory=lambda: ["https://feeds.bbci.co.uk/news/rss.xml", "https://feeds.npr.org/1001/rss.xml"],
    )
    max_headlines: int = setting(3, doc="How many headlines to read out.", low=1, high=50)
    timeout_s: float = setting(
        5.0,
        doc="Seconds one feed may take in all (all feeds: at most 0.8 × skill_timeout_s).",
        positive=True,
        high=MAX_WAIT_S,
    )


@dataclass(frozen=True)
class AppsConfig:
    """Desktop programs the assistant may open, and only these."""

    confirm: bool = setting(True, doc="Ask before opening a program.")
    allow: dict[str, list[str]] = setting(
        doc="Spoken name = program and arguments (~ is expanded). Merged over the built-in list: "
        "a name here replaces the built-in entry, and an empty list [] removes it.",
        factory=default_apps,
    )

    def __post_init__(self) -> None:
        """Key the list by normalized spoken name (later entries win); drop names mapped to []."""
        normalized: dict[str, list[str]] = {}
        for name, argv in self.allow.items():
            normalized[spoken_key(name)] = list(argv)
        object.__setattr__(self, "allow", {name: argv for name, argv in normalized.items() if argv})


@dataclass(frozen=True)
class NotesConfig:
    """Notes kept in a local SQLite file."""

    path: str | None = setting(
        None,
        doc="SQLite file of the notes (default: notes.sqlite3 in the user data folder).",
        example="~/notes.sqlite3",
    )


@dataclass(frozen=True)
class LLMConfig:
    """The chat model behind the story and ask skills."""

    base_url: str | None = setting(
        None,
        doc="An OpenAI-compatible endpoint; unset: the embedded SmolLM2 model runs locally.",
        example="http://localhost:11434/v1",
    )
    model: str = setting("", doc="Model name at that endpoint (needed with base_url).")
    api_key_env: str = setting("OPENAI_API_KEY", doc="Environment variable that holds the endpoint's API key.")
    max_new_tokens: int = setting(96, doc="Longest answer, in tokens.", low=1, high=4096)
    timeout_s: float = setting(
        30.0, doc="Seconds the endpoint may take in all, retries included.", positive=True, high=MAX_WAIT_S
    )
    max_retries: int = setting(2, doc="Retries of a failed endpoint request.", low=0, high=MAX_RETRIES)


CHOICES_AS_HEARD = 100.0  # a choice_spelling that writes nothing: only words that spell a choice exactly reach it
MIN_CHOICE_SPELLING = 50.0  # below it, words of another meaning reach a choice
MAX_READINGS = 5  # Whisper's beam: the readings it keeps
ALWAYS_TRUSTED = -10.0  # a prompt floor that trusts every reading: Whisper's mean log-probabilities stay far above it


@dataclass(frozen=True)
class VoiceConfig:
    """Listening: the microphone, the wake word and speech recognition."""

    stt: Literal["faster-whisper", "openai-whisper"] = setting(
        "faster-whisper", doc='Speech recognition: "faster-whisper" or "openai-whisper" (the reference).'
    )
    stt_model: str | None = setting(
        None,
        doc="Whisper model: a name (needs the network once) or a path; unset: the bundled tiny.en.",
        example="small.en",
    )
    wake_word: str = setting("", doc='Act only on speech that starts with this word, e.g. "computer" (empty: always).')
    push_to_talk: bool = setting(False, doc="Press Enter to start and stop recording instead of detecting speech.")
    device: int | str | None = setting(
        None,
        doc='Input device: its number in `voxroute devices`, or words of its name ("USB"); unset: the default.',
        example=1,
        low=0,
        high=1023,
    )
    stt_context: Literal["audio", "30s"] = setting(
        "audio",
        doc='What faster-whisper\'s encoder sees: "audio" (the command, at least 8 s: cost follows length) or "30s".',
    )
    stt_vocabulary: bool = setting(
        True, doc="Tell speech recognition the skill pack's fixed choices (Literal values), so they are heard."
    )
    stt_prompt_floor: float = setting(
        -0.35,
        doc="Trust a reading told those choices only from this mean token log-probability up; below, read the "
        f"audio again without them ({ALWAYS_TRUSTED:g}: trust it always).",
        low=ALWAYS_TRUSTED,
        high=0.0,
    )
    stt_readings: int = setting(
        5,
        doc="Readings of Whisper's beam that the skill pack's own sentences may choose from, when the best is none "
        "of them (1: the best alone; faster-whisper with the audio context only).",
        low=1,
        high=MAX_READINGS,
    )
    silence_s: float = setting(0.7, doc="Seconds of silence that end an utterance.", positive=True, high=10.0)
    early_s: float = setting(
        0.25,
        doc="Seconds of pause that end a turn early, when turn_end judges the request complete.",
        positive=True,
        high=10.0,
    )
    turn_end: Literal["router", "smart-turn", "both", "silence"] = setting(
        "router",
        doc='Who judges a request complete at a short pause: "router", "smart-turn" (audio), "both", or '
        '"silence" (only the silence window ends a turn).',
    )
    listen_ahead: bool = setting(
        True, doc="Recognise and route while the user speaks; off: recognise after the silence window, as before."
    )
    end_sound: bool = setting(True, doc="Play a short sound when a turn ends.")
    max_utterance_s: float = setting(15.0, doc="Longest utterance, in seconds.", positive=True, high=120.0)

    def __post_init__(self) -> None:
        """A device written as digits ("1", or --device 1) is a number: sounddevice reads any string as a name."""
        if isinstance(self.device, str) and self.device.strip().isdigit():
            object.__setattr__(self, "device", int(self.device))


@dataclass(frozen=True)
class RouterConfig:
    """The model that turns a transcript into skill calls."""

    backend: Literal["local", "openai"] = setting(
        "local", doc='"local": the embedded model and its adapter; "openai": an OpenAI-compatible endpoint with tools.'
    )
    adapter: str | None = setting(
        None, doc="LoRA adapter folder (with manifest.json); unset: the shipped router.", example="runs/router"
    )
    engine: Literal["ctranslate2", "transformers"] = setting(
        "ctranslate2", doc='Local inference: "ctranslate2" (int8, fast on a CPU) or "transformers".'
    )
    threads: int = setting(2, doc='CPU threads the local model decodes with (engine = "ctranslate2").', low=1, high=64)
    base_url: str | None = setting(
        None, doc='Endpoint for backend = "openai" (unset: api.openai.com).', example="http://localhost:8000/v1"
    )
    model: str = setting("gpt-4o-mini", doc='Model name at that endpoint, for backend = "openai".')
    api_key_env: str = setting("OPENAI_API_KEY", doc="Environment variable that holds the endpoint's API key.")
    timeout_s: float = setting(
        10.0,
        doc="Seconds one routing may take: the local model's decoding, or each endpoint "
        "request (a turn waits at most timeout_s × (max_retries + 1) for the endpoint).",
        positive=True,
        high=MAX_WAIT_S,
    )
    max_retries: int = setting(
        1,
        doc="Retries of a failed endpoint request (a timeout, no connection, 429, 5xx), "
        "waiting as long as its Retry-After header says.",
        low=0,
        high=MAX_RETRIES,
    )
    skill_timeout_s: float = setting(
        20.0, doc="Seconds a skill may take before the assistant stops waiting.", positive=True, high=DAY_S
    )
    max_utterance_chars: int = setting(
        500, doc="Longest request routed, in characters; a longer one is refused.", low=1, high=10_000
    )
    follow_up_s: float = setting(
        30.0,
        doc="Seconds after an answer in which the next turn may follow up on it "
        '("and tomorrow?") and needs no wake word; 0: every turn stands alone.',
        low=0,
        high=3600.0,
    )
    confirm_below: float = setting(
        0.0,
        doc='Ask before acting ("A timer for ten minutes?") when the local router\'s confidence in one call of a '
        "skill that asks is below this: yes does it, no or silence does nothing. 0 (or follow_up_s = 0): never ask.",
        low=0,
        high=1,
    )
    choice_spelling: float = setting(
        90.0,
        doc='Words spelt almost as a choice of two words or more are written as it before routing ("ice mocha": '
        f'"iced mocha"), typed or heard: the least rapidfuzz ratio; {CHOICES_AS_HEARD:g}: never.',
        low=MIN_CHOICE_SPELLING,
        high=CHOICES_AS_HEARD,
    )
    instant: bool = setting(
        True,
        doc="Answer the example files' own sentences (template sentences and written examples, said whole, "
        "no follow-up) at once, ahead of the router: a new skill works before it is trained.",
    )


@dataclass(frozen=True)
class Config:
    """The whole configuration: one field per TOML section."""

    general: GeneralConfig = field(default_factory=GeneralConfig)
    weather: WeatherConfig = field(default_factory=WeatherConfig)
    news: NewsConfig = field(default_factory=NewsConfig)
    apps: AppsConfig = field(default_factory=AppsConfig)
    notes: NotesConfig = field(default_factory=NotesConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    voice: VoiceConfig = field(default_factory=VoiceConfig)
    router: RouterConfig = field(default_factory=RouterConfig)


def config_path() -> Path:
    """The config file: ``$VOXROUTE_CONFIG``, else config.toml in the user config folder."""
    override = os.environ.get(CONFIG_ENV)
    return Path(override) if override else Path(platformdirs.user_config_dir("voxroute")) / "config.toml"


def load_config(path: Path | None = None) -> Config:
    """Read the config file (a missing file means all defaults); raise ConfigError when it does not fit."""
    path = path if path is not None else config_path()
    try:
        text = read_small_text(path)
    except FileNotFoundError:
        return Config()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except RecursionError:  # tomllib recurses once per nested array or table
        raise ConfigError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None
    except ValueError as error:  # an integer of more digits than Python converts (4,300)
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return _build(Config, data, path, "")


def read_small_text(path: Path, limit: int = MAX_CONFIG_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes; ConfigError naming the file otherwise.

    The file is checked before a byte is read, and opened without blocking, so that a device (/dev/zero)
    or a FIFO is refused at once; only a missing file raises FileNotFoundError, for callers that allow one.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ConfigError(f"{path}: not a regular file")
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # replaced since it was checked
                raise ConfigError(f"{path}: not a regular file")
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read: {error.strerror or error}") from None
    if len(data) > limit:
        raise ConfigError(f"{path}: larger than {limit:,} bytes, the most such a file may be")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})") from None


def default_config_toml() -> str:
    """The documented default config file, generated from the declarations above."""
    lines = [
        "# voxroute configuration (TOML). Every key is optional: a missing key keeps its default.",
        f"# Found at the user config folder's voxroute/config.toml, or wherever ${CONFIG_ENV} points.",
    ]
    hints = typing.get_type_hints(Config)
    for section in dataclasses.fields(Config):
        cls = hints[section.name]
        defaults = cls()
        lines += ["", f"# {_doc_line(cls)}", f"[{section.name}]"]
        tables = []
        for item in dataclasses.fields(cls):
            value = getattr(defaults, item.name)
            if isinstance(value, dict):
                tables.append((item, value))
                continue
            allowed = _allowed(item.metadata)
            lines += _comment(item.metadata["doc"] + (f" Allowed: {allowed}." if allowed else ""))
            if value is None:
                lines.append(f"# {_toml_key(item.name)} = {_toml_value(item.metadata['example'])}")
            else:
                lines.append(f"{_toml_key(item.name)} = {_toml_value(value)}")
        for item, table in tables:
            lines += ["", *_comment(item.metadata["doc"]), f"[{section.name}.{item.name}]"]
            lines += [f"{_toml_key(key)} = {_toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


class _Dataclass(Protocol):
    """A dataclass (a section, or Config itself): what dataclasses.fields reads."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]


_Section = TypeVar("_Section", bound=_Dataclass)


def _build(cls: type[_Section], table: dict[str, Any], path: Path, prefix: str) -> _Section:
    """Make ``cls`` from a TOML table, checking every key and value."""
    hints = typing.get_type_hints(cls)
    declared = {item.name: item for item in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = f"{prefix}{_toml_key(key)}"  # as TOML writes it: a key with a line break stays one line
        if key not in declared:
            known = ", ".join(declared)
            if not prefix:
                raise ConfigError(f"{path}: unknown section [{_toml_key(key)}] (known sections: {known})")
            raise ConfigError(f"{path}: unknown key {where} (known keys of [{prefix[:-1]}]: {known})")
        hint = hints[key]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):  # a hint is a class, never an instance
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {where} must be a table ([{where}]), got {value!r}")
            values[key] = _build(hint, value, path, f"{where}.")
            continue
        value = _check(value, hint, where, path)
        allowed = _allowed(declared[key].metadata)
        if allowed is not None and _is_number(value) and not _within(value, declared[key].metadata):
            raise ConfigError(f"{path}: {where} must be {allowed}, got {value!r}")
        if isinstance(value, dict):
            factory = declared[key].default_factory
            assert factory is not dataclasses.MISSING, "a table setting is declared with a factory (see setting)"
            value = {**factory(), **value}
        values[key] = value
    return cls(**values)


def _check(value: Any, hint: Any, where: str, path: Path) -> Any:
    """Return ``value`` if it fits the type hint (ints widen to float), else raise ConfigError."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(members) == 1:
            return _check(value, members[0], where, path)
        for member in members:
            try:
                return _check(value, member, where, path)
            except ConfigError:
                continue
        raise ConfigError(f"{path}: {where} must be {_describe(hint)}, got {value!r}")
    fits = True
    if origin is Literal:
        fits = value in typing.get_args(hint)
    elif hint is bool:
        fits = isinstance(value, bool)
    elif hint is int:
        fits = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        fits = _is_number(value) and abs(value) <= sys.float_info.max and math.isfinite(value)
        value = float(value) if fits else value
    elif hint is str:
        fits = isinstance(value, str)
    elif origin is list:
        (item,) = typing.get_args(hint)
        fits = isinstance(value, list)
        if fits:
            value = [_check(element, item, f"{where}[{index}]", path) for index, element in enumerate(value)]
    elif origin is dict:
        _, item = typing.get_args(hint)
        fits = isinstance(value, dict)
        if fits:
            value = {key: _check(element, item, f"{where}.{_toml_key(key)}", path) for key, element in value.items()}
    if not fits:
        raise ConfigError(f"{path}: {where} must be {_describe(hint)}, got {value!r}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _within(value: float, metadata: Any) -> bool:
    """Whether a number lies in the range its setting declares."""
    low, high = metadata.get("low"), metadata.get("high")
    return (
        (not metadata.get("positive") or value > 0)
        and (low is None or value >= low)
        and (high is None or value <= high)
    )


def _allowed(metadata: Any) -> str | None:
    """A setting's range in words ("from 1 to 64"), or None when it declares none."""
    low, high = metadata.get("low"), metadata.get("high")
    if metadata.get("positive"):
        return "greater than 0" + (f" and at most {high:g}" if high is not None else "")
    if low is not None:
        return f"from {low:g} to {high:g}" if high is not None else f"{low:g} or more"
    return f"at most {high:g}" if high is not None else None


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint) if arg is not type(None))
    if origin is Literal:
        choices = [repr(choice) for choice in typing.get_args(hint)]
        return ", ".join(choices[:-1]) + " or " + choices[-1] if len(choices) > 1 else choices[0]
    if origin is list:
        return f"a list of {_describe(typing.get_args(hint)[0]).split(' ', 1)[1]}s"
    if origin is dict:
        return "a table"
    return {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}[hint]


def _comment(text: str) -> list[str]:
    return [f"# {line}" for line in textwrap.wrap(text, 97)]


def _doc_line(cls: type) -> str:
    return (cls.__doc__ or "").strip().splitlines()[0]


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    """TOML text of a str, bool, number or list of them (JSON strings are valid TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)
