"""The weather skill against a local server speaking Open-Meteo's geocoding and forecast JSON."""

from __future__ import annotations

import json
from typing import Literal

import pytest

from assistant.config import Config, GeneralConfig, WeatherConfig, config_path
from assistant.routing.calls import InvalidChoice
from assistant.runtime.pack import load_pack
from skills.weather import weather

BERLIN = {
    "id": 2950159,
    "name": "Berlin",
    "latitude": 52.52437,
    "longitude": 13.41053,
    "elevation": 74.0,
    "feature_code": "PPLC",
    "country_code": "DE",
    "admin1_id": 2950157,
    "timezone": "Europe/Berlin",
    "population": 3426354,
    "country_id": 2921044,
    "country": "Germany",
    "admin1": "Land Berlin",
}
PARIS_FR = {
    **BERLIN,
    "id": 2988507,
    "name": "Paris",
    "latitude": 48.85341,
    "longitude": 2.3488,
    "country_code": "FR",
    "timezone": "Europe/Paris",
    "country": "France",
    "admin1": "Île-de-France",
}
PARIS_TX = {
    **BERLIN,
    "id": 4717560,
    "name": "Paris",
    "latitude": 33.66094,
    "longitude": -95.55551,
    "country_code": "US",
    "timezone": "America/Chicago",
    "country": "United States",
    "admin1": "Texas",
}
PLACES = {"berlin": [BERLIN], "paris": [PARIS_FR, PARIS_TX]}


def geocoding(request):
    """Open-Meteo leaves out "results" when nothing matches."""
    found = PLACES.get(request.query["name"][0].casefold(), [])[: int(request.query["count"][0])]
    body = {"results": found, "generationtime_ms": 0.7} if found else {"generationtime_ms": 0.4}
    return 200, "application/json", json.dumps(body).encode()


def forecast(request):
    """A forecast from Monday 15 January 2024, in the units asked for."""
    fahrenheit = request.query.get("temperature_unit") == ["fahrenheit"]
    unit = "°F" if fahrenheit else "°C"

    def temperature(celsius: float) -> float:
        return round(celsius * 9 / 5 + 32, 1) if fahrenheit else celsius

    body = {
        "latitude": 52.52,
        "longitude": 13.419998,
        "generationtime_ms": 0.09,
        "utc_offset_seconds": 3600,
        "timezone": "Europe/Berlin",
        "timezone_abbreviation": "GMT+1",
        "elevation": 38.0,
        "current_units": {"time": "iso8601", "interval": "seconds", "temperature_2m": unit, "weather_code": "wmo code"},
        "current": {"time": "2024-01-15T14:00", "interval": 900, "temperature_2m": temperature(3.4), "weather_code": 3},
        "daily_units": {
            "time": "iso8601",
            "weather_code": "wmo code",
            "temperature_2m_max": unit,
            "temperature_2m_min": unit,
        },
        "daily": {
            "time": [f"2024-01-{day}" for day in range(15, 22)],
            "weather_code": [3, 61, 0, 71, 95, 2, 45],
            "temperature_2m_max": [temperature(t) for t in (5.1, 8.7, 6.0, 1.2, 12.0, 7.4, 4.4)],
            "temperature_2m_min": [temperature(t) for t in (-0.4, 4.2, 1.0, -3.6, 6.0, 2.5, -1.0)],
        },
    }
    return 200, "application/json", json.dumps(body).encode()


@pytest.fixture
def open_meteo(http_server, skill_context):
    """Run the test against the local Open-Meteo; returns a function to change the config."""
    server = http_server({"/v1/search": geocoding, "/v1/forecast": forecast})

    def configure(
        units: Literal["metric", "imperial"] = "metric",
        home: str = "Berlin",
        geocoding_url: str | None = None,
        forecast_url: str | None = None,
    ) -> None:
        weather_config = WeatherConfig(
            units=units,
            geocoding_url=geocoding_url or f"{server.url}/v1/search",
            forecast_url=forecast_url or f"{server.url}/v1/forecast",
            timeout_s=2.0,
        )
        skill_context(Config(general=GeneralConfig(home_location=home), weather=weather_config))

    configure()
    return server, configure


@pytest.mark.parametrize(
    ("location", "day", "answer"),
    [
        (None, None, "In Berlin right now: overcast, 3 °C."),
        ("berlin", "today", "In Berlin today: overcast, 0 to 5 °C."),
        ("Berlin", "tomorrow", "In Berlin tomorrow: light rain, 4 to 9 °C."),
        ("Berlin", "thursday", "In Berlin on Thursday: light snow, -4 to 1 °C."),
        ("Berlin", "friday", "In Berlin on Friday: thunderstorms, 6 to 12 °C."),
        ("Berlin", "monday", "In Berlin on Monday: overcast, 0 to 5 °C."),
        ("Berlin", "weekend", "In Berlin this weekend: Saturday partly cloudy, 2 to 7 °C; Sunday fog, -1 to 4 °C."),
        ("Paris, Texas", "today", "In Paris today: overcast, 0 to 5 °C."),
    ],
)
def test_answers(open_meteo, location, day, answer) -> None:
    assert weather(location, day) == answer


def test_requests_use_the_geocoded_coordinates(open_meteo) -> None:
    server, _ = open_meteo
    weather("Paris, Texas", "tomorrow")
    search, asked = server.requests
    assert search.query["name"] == ["Paris"]
    assert asked.query["latitude"] == ["33.66094"] and asked.query["longitude"] == ["-95.55551"]
    assert asked.query["timezone"] == ["auto"]
    assert "temperature_unit" not in asked.query


def test_imperial_units(open_meteo) -> None:
    _, configure = open_meteo
    configure(units="imperial")
    assert weather(None, "tomorrow") == "In Berlin tomorrow: light rain, 40 to 48 °F."
    assert weather() == "In Berlin right now: overcast, 38 °F."


def test_unknown_place(open_meteo) -> None:
    assert weather("Atlantis") == "I don't know where Atlantis is."
    assert weather("Paris, Narnia") == "I don't know where Paris, Narnia is."


def test_no_place_and_no_home(open_meteo) -> None:
    _, configure = open_meteo
    configure(home="")
    assert weather() == f"Which place? Name one, or set home_location under [general] in {config_path()}."


def test_a_day_it_cannot_forecast_is_not_a_call() -> None:
    """The day is a fixed vocabulary: the grammar never produces another, and the parser refuses one."""
    pack = load_pack()
    with pytest.raises(InvalidChoice, match="yesterday"):
        pack.parse('weather(location="Berlin", day="yesterday")')
    assert pack.parse('weather(day="saturday")').kwargs == {"day": "saturday"}


def test_service_down(open_meteo, closed_url) -> None:
    _, configure = open_meteo
    configure(geocoding_url=f"{closed_url}/v1/search")
    assert weather("Berlin") == "I can't reach the weather service right now."


def test_http_error(open_meteo, http_server) -> None:
    failing = http_server({"/v1/forecast": (500, "application/json", b'{"error": true, "reason": "boom"}')})
    _, configure = open_meteo
    configure(forecast_url=f"{failing.url}/v1/forecast")
    assert weather("Berlin", "tomorrow") == "I can't reach the weather service right now."


def test_answer_that_is_not_a_forecast(open_meteo, http_server) -> None:
    odd = http_server({"/v1/forecast": (200, "text/html", b"<html>maintenance</html>")})
    _, configure = open_meteo
    configure(forecast_url=f"{odd.url}/v1/forecast")
    assert weather("Berlin") == "The weather service sent an answer I don't understand."
