"""One skill per SNIPS intent; its arguments are the intent's slots, named as in the data,
each declared a span of the utterance (a slot is a run of its words, so the decoder may only copy).

These are benchmark skills, not real actions: each returns a short confirmation describing the
frame it was called with. The slot lists are the contract with the data: every slot seen with
an intent in goo2018/train (the dev and test splits use no others; tests/test_snips.py checks it).
"""

from __future__ import annotations

from typing import Annotated

from assistant import Span, skill

Slot = Annotated[str, Span()] | None
"""Every SNIPS slot value is a span of the utterance: the words its BIO tags cover."""


def _frame(intent: str, slots: dict[str, str | None]) -> str:
    """``PlayMusic: artist=queen, service=spotify``: the intent and the slots that were given."""
    given = ", ".join(f"{name}={value}" for name, value in slots.items() if value is not None)
    return f"{intent}: {given or 'no slots'}"


@skill(name="AddToPlaylist")
def add_to_playlist(
    entity_name: Slot = None,
    artist: Slot = None,
    music_item: Slot = None,
    playlist: Slot = None,
    playlist_owner: Slot = None,
) -> str:
    """add a song, an artist or an album to a playlist"""
    return _frame("AddToPlaylist", locals())


@skill(name="BookRestaurant")
def book_restaurant(
    restaurant_name: Slot = None,
    restaurant_type: Slot = None,
    cuisine: Slot = None,
    served_dish: Slot = None,
    facility: Slot = None,
    sort: Slot = None,
    party_size_number: Slot = None,
    party_size_description: Slot = None,
    timeRange: Slot = None,
    spatial_relation: Slot = None,
    poi: Slot = None,
    city: Slot = None,
    state: Slot = None,
    country: Slot = None,
) -> str:
    """book a table at a restaurant"""
    return _frame("BookRestaurant", locals())


@skill(name="GetWeather")
def get_weather(
    condition_description: Slot = None,
    condition_temperature: Slot = None,
    timeRange: Slot = None,
    current_location: Slot = None,
    geographic_poi: Slot = None,
    spatial_relation: Slot = None,
    city: Slot = None,
    state: Slot = None,
    country: Slot = None,
) -> str:
    """ask about the weather or the forecast somewhere"""
    return _frame("GetWeather", locals())


@skill(name="PlayMusic")
def play_music(
    artist: Slot = None,
    album: Slot = None,
    track: Slot = None,
    playlist: Slot = None,
    genre: Slot = None,
    music_item: Slot = None,
    year: Slot = None,
    sort: Slot = None,
    service: Slot = None,
) -> str:
    """play music: a song, an album, an artist, a genre or a playlist"""
    return _frame("PlayMusic", locals())


@skill(name="RateBook")
def rate_book(
    object_name: Slot = None,
    object_select: Slot = None,
    object_type: Slot = None,
    object_part_of_series_type: Slot = None,
    rating_value: Slot = None,
    best_rating: Slot = None,
    rating_unit: Slot = None,
) -> str:
    """give a rating to a book, a novel or a saga"""
    return _frame("RateBook", locals())


@skill(name="SearchCreativeWork")
def search_creative_work(
    object_name: Slot = None,
    object_type: Slot = None,
) -> str:
    """find a creative work: a song, an album, a book, a film, a TV show or a game"""
    return _frame("SearchCreativeWork", locals())


@skill(name="SearchScreeningEvent")
def search_screening_event(
    movie_name: Slot = None,
    movie_type: Slot = None,
    object_type: Slot = None,
    object_location_type: Slot = None,
    location_name: Slot = None,
    spatial_relation: Slot = None,
    timeRange: Slot = None,
) -> str:
    """find movie schedules and the cinemas showing a film"""
    return _frame("SearchScreeningEvent", locals())
