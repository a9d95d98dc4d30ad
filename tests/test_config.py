"""Loading the TOML config: defaults, overrides, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import (
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
        ("[news]\nmax_headlines = 0\n", "news.max_headlines must be greater than 0, got 0"),
        ("[router]\nskill_timeout_s = nan\n", "router.skill_timeout_s must be a finite number, got nan"),
        ("[voice]\nsilence_s = inf\n", "voice.silence_s must be a finite number, got inf"),
        ("[router]\ntimeout_s = 0\n", "router.timeout_s must be greater than 0, got 0.0"),
        ("[router]\nmax_retries = -1\n", "router.max_retries must be 0 or more, got -1"),
        ("[voice]\ndevice = 1.5\n", "voice.device must be an integer or a string, got 1.5"),
        ('[news]\nfeeds = "http://x"\n', "news.feeds must be a list of strings, got 'http://x'"),
        ('[news]\nfeeds = ["http://x", 3]\n', "news.feeds[1] must be a string, got 3"),
        ('[apps.allow]\nvim = "vim"\n', "apps.allow.vim must be a list of strings, got 'vim'"),
        ("weather = 3\n", "weather must be a table ([weather]), got 3"),
        ("[weather]\ncolour = 'blue'\n", "unknown key weather.colour (known keys of [weather]: units,"),
        ("[sound]\nvolume = 3\n", "unknown section [sound] (known sections: general, weather,"),
        ("[general\n", "not valid TOML"),
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
