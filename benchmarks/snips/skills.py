"""One skill per SNIPS intent; its arguments are the intent's slots, named as in the data.

These are benchmark skills, not real actions: each returns a short confirmation describing the
frame it was called with. The slot lists are the contract with the data: every slot seen with
an intent in goo2018/train (the dev and test splits use no others; tests/test_snips.py checks it).
"""

from __future__ import annotations

from assistant.skill import skill


def _frame(intent: str, slots: dict[str, str | None]) -> str:
    """``PlayMusic: artist=queen, service=spotify``: the intent and the slots that were given."""
    given = ", ".join(f"{name}={value}" for name, value in slots.items() if value is not None)
    return f"{intent}: {given or 'no slots'}"


@skill(name="AddToPlaylist")
def add_to_playlist(
    entity_name: str | None = None,
    artist: str | None = None,
    music_item: str | None = None,
    playlist: str | None = None,
    playlist_owner: str | None = None,
) -> str:
    """add a song, an artist or an album to a playlist"""
    return _frame("AddToPlaylist", locals())


@skill(name="BookRestaurant")
def book_restaurant(
    restaurant_name: str | None = None,
    restaurant_type: str | None = None,
    cuisine: str | None = None,
    served_dish: str | None = None,
    facility: str | None = None,
    sort: str | None = None,
    party_size_number: str | None = None,
    party_size_description: str | None = None,
    timeRange: str | None = None,
    spatial_relation: str | None = None,
    poi: str | None = None,
    city: str | None = None,
    state: str | None = None,
    country: str | None = None,
) -> str:
    """book a table at a restaurant"""
    return _frame("BookRestaurant", locals())


@skill(name="GetWeather")
def get_weather(
    condition_description: str | None = None,
    condition_temperature: str | None = None,
    timeRange: str | None = None,
    current_location: str | None = None,
    geographic_poi: str | None = None,
    spatial_relation: str | None = None,
    city: str | None = None,
    state: str | None = None,
    country: str | None = None,
) -> str:
    """ask about the weather or the forecast somewhere"""
    return _frame("GetWeather", locals())


@skill(name="PlayMusic")
def play_music(
    artist: str | None = None,
    album: str | None = None,
    track: str | None = None,
    playlist: str | None = None,
    genre: str | None = None,
    music_item: str | None = None,
    year: str | None = None,
    sort: str | None = None,
    service: str | None = None,
) -> str:
    """play music: a song, an album, an artist, a genre or a playlist"""
    return _frame("PlayMusic", locals())


@skill(name="RateBook")
def rate_book(
    object_name: str | None = None,
    object_select: str | None = None,
    object_type: str | None = None,
    object_part_of_series_type: str | None = None,
    rating_value: str | None = None,
    best_rating: str | None = None,
    rating_unit: str | None = None,
) -> str:
    """give a rating to a book, a novel or a saga"""
    return _frame("RateBook", locals())


@skill(name="SearchCreativeWork")
def search_creative_work(
    object_name: str | None = None,
    object_type: str | None = None,
) -> str:
    """find a creative work: a song, an album, a book, a film, a TV show or a game"""
    return _frame("SearchCreativeWork", locals())


@skill(name="SearchScreeningEvent")
def search_screening_event(
    movie_name: str | None = None,
    movie_type: str | None = None,
    object_type: str | None = None,
    object_location_type: str | None = None,
    location_name: str | None = None,
    spatial_relation: str | None = None,
    timeRange: str | None = None,
) -> str:
    """find movie schedules and the cinemas showing a film"""
    return _frame("SearchScreeningEvent", locals())
