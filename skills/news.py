"""The latest headlines from the configured RSS and Atom feeds, optionally about one topic."""

from __future__ import annotations

import calendar
import re
import time
from typing import Annotated, Any

import feedparser

from assistant.config import NewsConfig, config_path
from assistant.runtime.context import current_context
from assistant.runtime.net import OverLimit, Unreachable, budget_s, request
from assistant.runtime.skill import Span, skill

UNREACHABLE = "I can't reach the news feeds right now."
MAX_FEED_BYTES = 4_000_000  # a feed of hundreds of items is a few hundred kB; the parsed entries take several times it


@skill(reads_only=True)
def news(topic: Annotated[str, Span()] | None = None) -> str:
    """Read the latest news headlines, optionally about a topic."""
    settings = current_context().config.news
    if not settings.feeds:
        return f"No news feeds are set: add some to feeds under [news] in {config_path()}."
    entries = _fetch_all(settings)
    if isinstance(entries, str):
        return entries
    subject = " ".join((topic or "").split())
    if subject:
        pattern = re.compile(rf"(?<!\w){re.escape(subject)}(?!\w)", re.IGNORECASE)
        entries = [entry for entry in entries if pattern.search(f"{entry.get('title', '')} {entry.get('summary', '')}")]
    titles = dict.fromkeys(" ".join(entry.get("title", "").split()).rstrip(".") for entry in entries)
    headlines = [title for title in titles if title][: settings.max_headlines]
    if not headlines:
        return f"I found no news about {subject}." if subject else "The news feeds have no headlines right now."
    lead = f"Here is the news about {subject}" if subject else "Here are the latest headlines"
    return f"{lead}: {'; '.join(headlines)}."


def _fetch_all(settings: NewsConfig) -> list[Any] | str:
    """Entries of every feed that answered, newest first; when none did, a sentence that says why.

    Each feed has ``timeout_s`` in all; together they stop in time for the skill to answer.
    """
    until = time.monotonic() + budget_s(settings.timeout_s * len(settings.feeds))
    entries: list[Any] = []
    answered = False
    why = UNREACHABLE
    for url in settings.feeds:
        if time.monotonic() >= until:
            break
        try:
            reply = request(
                "GET",
                url,
                until=min(until, time.monotonic() + settings.timeout_s),
                max_bytes=MAX_FEED_BYTES,
                follow_redirects=True,
            )
        except Unreachable:
            continue
        except OverLimit as error:
            if why == UNREACHABLE:  # the first feed's reason is the one told
                why = f"The news feed at {url} {error}."
            continue
        if reply.ok:
            answered = True
            entries.extend(feedparser.parse(reply.body).entries)
    return sorted(entries, key=_published, reverse=True) if answered else why


def _published(entry: Any) -> float:
    """Seconds since the epoch of an entry's date; undated entries sort last."""
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    return calendar.timegm(moment) if moment else float("-inf")
