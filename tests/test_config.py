"""Loading the TOML config: defaults, overrides, and errors that name the file and the key."""

from __future__ import annotations

import dataclasses
import os
import time
import typing
from pathlib import Path

import pytest

from assistant.config import (
    MAX_CONFIG_BYTES,
    Config,
    ConfigError,
    config_path,
    default_apps,
    default_config_toml,
    load_config,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path / "absent.toml")
    assert config == Config()
    assert config.weather.units == "metric"
    assert config.apps.confirm is True
    assert config.llm.base_url is None
    assert config.news.feeds


def test_env_var_points_at_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[general]\nhome_location = "Oslo"\n')
    monkeypatch.setenv("VOXROUTE_CONFIG", str(path))
    assert config_path() == path
    assert load_config().general.home_location == "Oslo"


def test_file_overrides_some_keys_and_keeps_the_rest(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[weather]
units = "imperial"
timeout_s = 2

[news]
feeds = ["http://example.org/feed.xml"]

[llm]
base_url = "http://localhost:8080/v1"
model = "tiny"

[router]
timeout_s = 2.5
max_retries = 0
""",
    )
    config = load_config(path)
    assert config.weather.units == "imperial"
    assert config.weather.timeout_s == 2.0 and isinstance(config.weather.timeout_s, float)
    assert config.weather.forecast_url == Config().weather.forecast_url
    assert config.news.feeds == ["http://example.org/feed.xml"]
    assert (config.llm.base_url, config.llm.model) == ("http://localhost:8080/v1", "tiny")
    assert (config.router.timeout_s, config.router.max_retries) == (2.5, 0)
    assert config.router.backend == Config().router.backend
    assert config.general == Config().general


@pytest.mark.parametrize(("text", "device"), [("1", 1), ('"2"', 2), ('"USB Mic"', "USB Mic")])
def test_the_input_device_is_a_number_or_a_name(tmp_path: Path, text: str, device: int | str) -> None:
    assert load_config(write(tmp_path, f"[voice]\ndevice = {text}\n")).voice.device == device


def test_app_allow_list_merges_over_the_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[apps.allow]
"My  Editor" = ["vim", "-g"]
Firefox = ["firefox", "--private-window"]
spotify = []
""",
    )
    allow = load_config(path).apps.allow
    assert allow["my editor"] == ["vim", "-g"]
    assert allow["firefox"] == ["firefox", "--private-window"]
    assert "spotify" not in allow
    assert allow["calculator"] == default_apps()["calculator"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[weather]\nunits = "kelvin"\n', "weather.units must be 'metric' or 'imperial', got 'kelvin'"),
        ("[general]\nspeak = 1\n", "general.speak must be true or false, got 1"),
        ('[news]\nmax_headlines = "3"\n', "news.max_headlines must be an integer, got '3'"),
        ("[news]\nmax_headlines = 0\n", "news.max_headlines must be from 1 to 50, got 0"),
        ("[router]\nskill_timeout_s = nan\n", "router.skill_timeout_s must be a finite number, got nan"),
        ("[voice]\nsilence_s = inf\n", "voice.silence_s must be a finite number, got inf"),
        ("[router]\ntimeout_s = 0\n", "router.timeout_s must be greater than 0 and at most 600, got 0.0"),
        ("[router]\nmax_retries = -1\n", "router.max_retries must be from 0 to 10, got -1"),
        ("[voice]\ndevice = 1.5\n", "voice.device must be an integer or a string, got 1.5"),
        ('[news]\nfeeds = "http://x"\n', "news.feeds must be a list of strings, got 'http://x'"),
        ('[news]\nfeeds = ["http://x", 3]\n', "news.feeds[1] must be a string, got 3"),
        ('[apps.allow]\nvim = "vim"\n', "apps.allow.vim must be a list of strings, got 'vim'"),
        ("weather = 3\n", "weather must be a table ([weather]), got 3"),
        ("[weather]\ncolour = 'blue'\n", "unknown key weather.colour (known keys of [weather]: units,"),
        ("[sound]\nvolume = 3\n", "unknown section [sound] (known sections: general, weather,"),
        ("[general\n", "not valid TOML"),
        ("[router]\nthreads = 1000000\n", "router.threads must be from 1 to 64, got 1000000"),
        ("[router]\nthreads = 0\n", "router.threads must be from 1 to 64, got 0"),
        ("[router]\nthreads = 9223372036854775807\n", "router.threads must be from 1 to 64, got 9223372036854775807"),
        (
            "[router]\nskill_timeout_s = 1e300\n",
            "router.skill_timeout_s must be greater than 0 and at most 86400, got 1e+300",
        ),
        ("[router]\nskill_timeout_s = -inf\n", "router.skill_timeout_s must be a finite number, got -inf"),
        ("[router]\nskill_timeout_s = " + "9" * 400 + "\n", "router.skill_timeout_s must be a finite number, got 999"),
        ("[router]\nfollow_up_s = -0.5\n", "router.follow_up_s must be from 0 to 3600, got -0.5"),
        ("[llm]\nmax_new_tokens = 100000000\n", "llm.max_new_tokens must be from 1 to 4096, got 100000000"),
        (
            "[voice]\nmax_utterance_s = 3600\n",
            "voice.max_utterance_s must be greater than 0 and at most 120, got 3600.0",
        ),
        ("[voice]\ndevice = -1\n", "voice.device must be from 0 to 1023, got -1"),
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "not valid TOML: arrays or tables nested too deeply"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_default_file_loads_back_to_the_defaults(tmp_path: Path) -> None:
    text = default_config_toml()
    assert "[apps.allow]" in text and "# base_url = " in text
    assert load_config(write(tmp_path, text)) == Config()


def test_every_number_setting_declares_its_range_and_the_default_file_says_it() -> None:
    text = default_config_toml()
    for section in dataclasses.fields(Config):
        cls = typing.get_type_hints(Config)[section.name]
        hints = typing.get_type_hints(cls)
        for item in dataclasses.fields(cls):
            if int in typing.get_args(hints[item.name]) or hints[item.name] in (int, float):
                assert item.metadata["high"] is not None, f"{section.name}.{item.name} declares no upper bound"
                assert item.metadata["positive"] or item.metadata["low"] is not None, f"{section.name}.{item.name}"
    assert 'CPU threads the local model decodes with (engine = "ctranslate2"). Allowed: from 1 to 64.' in text


def test_a_value_at_a_bound_is_accepted(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[router]\nthreads = 64\nskill_timeout_s = 86400\nmax_retries = 0\n"))
    assert (config.router.threads, config.router.skill_timeout_s, config.router.max_retries) == (64, 86400.0, 0)


def test_a_device_named_in_words_has_no_range(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, '[voice]\ndevice = "-1 USB"\n')).voice.device == "-1 USB"


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_only_a_regular_file_is_read_and_nothing_blocks(tmp_path: Path, kind: str) -> None:
    if kind == "fifo":
        path = tmp_path / "config.toml"
        os.mkfifo(path)  # no writer: opening it for reading would block forever
    else:
        path = Path("/dev/zero") if kind == "device" else tmp_path
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: not a regular file"
    assert time.monotonic() - started < 10


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    with path.open("wb") as handle:
        handle.truncate(50 * MAX_CONFIG_BYTES)  # sparse: 50 MiB of NULs, no disk used
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: larger than {MAX_CONFIG_BYTES:,} bytes, the most such a file may be"
    path.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10), encoding="utf-8")  # just under the limit: read
    assert load_config(path) == Config()


def test_text_that_is_not_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[general]\nhome_location = "Z\xfcrich"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: not UTF-8 text (byte 28)"
