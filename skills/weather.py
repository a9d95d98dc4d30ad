"""The weather now or on a day, anywhere, from Open-Meteo (free, no API key)."""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Annotated, Any, Literal

from assistant.config import WeatherConfig, config_path
from assistant.runtime.context import current_context
from assistant.runtime.example_files import utterance_key
from assistant.runtime.net import OverLimit, Unreachable, budget_s, request
from assistant.runtime.skill import Resolver, Span, skill
from skills.timecheck import place_name

UNREACHABLE = "I can't reach the weather service right now."
GARBLED = "The weather service sent an answer I don't understand."
MAX_WEATHER_BYTES = 1_000_000  # a 7-day forecast or ten places is a few kB

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# The days a forecast can answer: a fixed vocabulary, so the grammar allows nothing else ("on saturday" is "saturday").
Day = Literal[
    "today", "tomorrow", "weekend", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
]

# WMO weather interpretation codes, as documented by Open-Meteo.
WMO_CODES = {
    0: "clear sky",
    1: "mainly clear",
    2: "partly cloudy",
    3: "overcast",
    45: "fog",
    48: "freezing fog",
    51: "light drizzle",
    53: "drizzle",
    55: "dense drizzle",
    56: "light freezing drizzle",
    57: "dense freezing drizzle",
    61: "light rain",
    63: "rain",
    65: "heavy rain",
    66: "light freezing rain",
    67: "heavy freezing rain",
    71: "light snow",
    73: "snow",
    75: "heavy snow",
    77: "snow grains",
    80: "light rain showers",
    81: "rain showers",
    82: "violent rain showers",
    85: "light snow showers",
    86: "heavy snow showers",
    95: "thunderstorms",
    96: "thunderstorms with light hail",
    99: "thunderstorms with heavy hail",
}


def place_or_words(location: str) -> str:
    """The gazetteer's name for a place it knows, else the words: the weather service knows more places."""
    return place_name(location) or utterance_key(location)


@skill(reads_only=True)
def weather(location: Annotated[str, Span(), Resolver(place_or_words)] | None = None, day: Day | None = None) -> str:
    """Ask for the weather now or on a day, anywhere."""
    context = current_context()
    settings = context.config.weather
    when = day or "now"
    place = (location or context.config.general.home_location).strip()
    if not place:
        return f"Which place? Name one, or set home_location under [general] in {config_path()}."
    until = time.monotonic() + budget_s(settings.timeout_s)  # both requests together
    try:
        found = _geocode(place, settings, until)
        if found is None:
            return f"I don't know where {place} is."
        forecast = _forecast(found, settings, until)
        return f"In {found['name']} {_describe(forecast, when)}."
    except Unreachable:
        return UNREACHABLE
    except OverLimit as error:
        return f"The weather service {error}."
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError):  # not the JSON asked for
        return GARBLED


def _get(url: str, params: dict[str, Any], until: float) -> Any:
    reply = request("GET", url, until=until, max_bytes=MAX_WEATHER_BYTES, params=params)
    if not reply.ok:
        raise Unreachable(f"{url}: HTTP {reply.status}")
    return json.loads(reply.body)


def _geocode(place: str, settings: WeatherConfig, until: float) -> dict[str, Any] | None:
    """The best Open-Meteo match for 'City' or 'City, Country/Region', or None."""
    name, _, qualifier = (part.strip() for part in place.partition(","))
    params = {"name": name, "count": 10 if qualifier else 1, "language": "en", "format": "json"}
    results = _get(settings.geocoding_url, params, until).get("results") or []
    if qualifier:
        wanted = qualifier.casefold()
        results = [
            result
            for result in results
            if wanted in (str(result.get(key, "")).casefold() for key in ("country", "country_code", "admin1"))
        ]
    return results[0] if results else None


def _forecast(place: dict[str, Any], settings: WeatherConfig, until: float) -> dict[str, Any]:
    params: dict[str, Any] = {
        "latitude": place["latitude"],
        "longitude": place["longitude"],
        "current": "temperature_2m,weather_code",
        "daily": "weather_code,temperature_2m_max,temperature_2m_min",
        "timezone": "auto",
        "forecast_days": 7,
    }
    if settings.units == "imperial":
        params["temperature_unit"] = "fahrenheit"
    return _get(settings.forecast_url, params, until)


def _describe(forecast: dict[str, Any], when: str) -> str:
    """'tomorrow: light rain, 4 to 9 °C' for the asked day(s) of an Open-Meteo forecast."""
    if when == "now":
        current, unit = forecast["current"], forecast["current_units"]["temperature_2m"]
        return f"right now: {_condition(current['weather_code'])}, {round(current['temperature_2m'])} {unit}"
    daily = forecast["daily"]
    unit = forecast["daily_units"]["temperature_2m_max"]
    weekdays = [WEEKDAYS[date.fromisoformat(text).weekday()] for text in daily["time"]]

    def day_text(index: int) -> str:
        low, high = round(daily["temperature_2m_min"][index]), round(daily["temperature_2m_max"][index])
        return f"{_condition(daily['weather_code'][index])}, {low} to {high} {unit}"

    if when == "today":
        return f"today: {day_text(0)}"
    if when == "tomorrow":
        return f"tomorrow: {day_text(1)}"
    if when == "weekend":
        if weekdays[0] == "sunday":
            return f"this weekend: Sunday {day_text(0)}"
        saturday = weekdays.index("saturday")
        parts = [f"Saturday {day_text(saturday)}"]
        if saturday + 1 < len(weekdays):
            parts.append(f"Sunday {day_text(saturday + 1)}")
        return "this weekend: " + "; ".join(parts)
    return f"on {when.capitalize()}: {day_text(weekdays.index(when))}"


def _condition(code: int) -> str:
    return WMO_CODES.get(int(code), "unusual weather")
