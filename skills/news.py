"""The latest headlines from the configured RSS and Atom feeds, optionally about one topic."""

from __future__ import annotations

import calendar
import re
from typing import Annotated, Any

import feedparser
import httpx

from assistant.config import NewsConfig, config_path
from assistant.context import current_context
from assistant.skill import Span, skill

UNREACHABLE = "I can't reach the news feeds right now."


@skill(reads_only=True)
def news(topic: Annotated[str, Span()] | None = None) -> str:
    """Read the latest news headlines, optionally about a topic."""
    settings = current_context().config.news
    if not settings.feeds:
        return f"No news feeds are set: add some to feeds under [news] in {config_path()}."
    entries = _fetch_all(settings)
    if entries is None:
        return UNREACHABLE
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


def _fetch_all(settings: NewsConfig) -> list[Any] | None:
    """Entries of every feed that answered, newest first; None if none answered."""
    entries: list[Any] = []
    answered = False
    for url in settings.feeds:
        try:
            response = httpx.get(url, timeout=settings.timeout_s, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError:
            continue
        answered = True
        entries.extend(feedparser.parse(response.content).entries)
    if not answered:
        return None
    return sorted(entries, key=_published, reverse=True)


def _published(entry: Any) -> float:
    """Seconds since the epoch of an entry's date; undated entries sort last."""
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    return calendar.timegm(moment) if moment else float("-inf")
