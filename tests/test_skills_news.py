"""The news skill reading a real RSS 2.0 and a real Atom feed from a local server."""

from __future__ import annotations

import pytest

from assistant.config import Config, NewsConfig, config_path
from skills.news import news

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>Local Test News</title>
    <link>https://news.example.org/</link>
    <description>Top stories</description>
    <language>en-gb</language>
    <lastBuildDate>Mon, 15 Jan 2024 12:00:00 GMT</lastBuildDate>
    <item>
      <title><![CDATA[Storm brings heavy rain to the coast]]></title>
      <description><![CDATA[Forecasters warn of flooding as the <b>weather</b> turns.]]></description>
      <link>https://news.example.org/storm</link>
      <guid isPermaLink="true">https://news.example.org/storm</guid>
      <pubDate>Mon, 15 Jan 2024 11:00:00 GMT</pubDate>
    </item>
    <item>
      <title>Central bank holds interest rates.</title>
      <description>The decision was expected by economists.</description>
      <link>https://news.example.org/rates</link>
      <guid isPermaLink="true">https://news.example.org/rates</guid>
      <pubDate>Mon, 15 Jan 2024 09:30:00 GMT</pubDate>
    </item>
    <item>
      <title>Local team wins the cup final</title>
      <description>Football fans celebrate in the city centre.</description>
      <link>https://news.example.org/cup</link>
      <guid isPermaLink="true">https://news.example.org/cup</guid>
      <pubDate>Sun, 14 Jan 2024 20:00:00 GMT</pubDate>
    </item>
  </channel>
</rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Science Desk</title>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2024-01-15T12:30:00Z</updated>
  <entry>
    <title>New AI model reads weather maps</title>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <link href="https://science.example.org/ai-weather"/>
    <updated>2024-01-15T12:30:00Z</updated>
    <summary>Researchers trained a model on decades of forecasts.</summary>
  </entry>
  <entry>
    <title>Telescope spots a distant galaxy</title>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6b</id>
    <link href="https://science.example.org/galaxy"/>
    <updated>2024-01-15T08:00:00Z</updated>
    <summary>Astronomers said the light left it 13 billion years ago.</summary>
  </entry>
</feed>
"""


@pytest.fixture
def feeds(http_server, skill_context):
    """Run the test against a local RSS feed and Atom feed; returns a function to change the config."""
    server = http_server(
        {
            "/rss.xml": (200, "application/rss+xml", RSS),
            "/atom.xml": (200, "application/atom+xml", ATOM),
            "/broken": (500, "text/html", b"<h1>Internal Server Error</h1>"),
            "/page.html": (200, "text/html", b"<html><body><p>Not a feed.</p></body></html>"),
        }
    )

    def configure(*paths: str, max_headlines: int = 3) -> None:
        urls = [path if path.startswith("http") else f"{server.url}{path}" for path in paths]
        skill_context(Config(news=NewsConfig(feeds=urls, max_headlines=max_headlines, timeout_s=2.0)))

    return configure


def test_latest_headlines_from_both_feeds_newest_first(feeds) -> None:
    feeds("/rss.xml", "/atom.xml")
    assert news() == (
        "Here are the latest headlines: New AI model reads weather maps; Storm brings heavy rain to the coast; "
        "Central bank holds interest rates."
    )


def test_max_headlines(feeds) -> None:
    feeds("/atom.xml", "/rss.xml", max_headlines=1)
    assert news() == "Here are the latest headlines: New AI model reads weather maps."


@pytest.mark.parametrize(
    ("topic", "answer"),
    [
        (
            "weather",
            "Here is the news about weather: New AI model reads weather maps; Storm brings heavy rain to the coast.",
        ),
        ("FOOTBALL", "Here is the news about FOOTBALL: Local team wins the cup final."),
        ("ai", "Here is the news about ai: New AI model reads weather maps."),
    ],
)
def test_topic_matches_title_or_summary_case_insensitively(feeds, topic, answer) -> None:
    feeds("/rss.xml", "/atom.xml")
    assert news(topic) == answer


def test_no_news_about_a_topic(feeds) -> None:
    feeds("/rss.xml", "/atom.xml")
    assert news("cricket") == "I found no news about cricket."


def test_a_failing_feed_is_skipped(feeds, closed_url) -> None:
    feeds("/broken", f"{closed_url}/feed", "/atom.xml")
    assert news("galaxy") == "Here is the news about galaxy: Telescope spots a distant galaxy."


def test_no_feed_reachable(feeds, closed_url) -> None:
    feeds(f"{closed_url}/rss.xml", "/broken")
    assert news() == "I can't reach the news feeds right now."


def test_a_page_that_is_not_a_feed(feeds) -> None:
    feeds("/page.html")
    assert news() == "The news feeds have no headlines right now."


def test_no_feeds_configured(feeds) -> None:
    feeds()
    assert news() == f"No news feeds are set: add some to feeds under [news] in {config_path()}."
