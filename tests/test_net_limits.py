"""Every network read of a skill has a total deadline and a size cap: against a real server on 127.0.0.1
that drips its answer a byte a second, or streams 200 MB (made in chunks, so the test itself stays small)."""

from __future__ import annotations

import json
import resource
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any
from urllib.parse import urlsplit

import pytest

from assistant.config import Config, LLMConfig, NewsConfig, RouterConfig, WeatherConfig
from assistant.runtime.dispatch import Dispatcher
from assistant.runtime.net import MAX_REDIRECTS, OverLimit, Unreachable, request
from assistant.runtime.pack import load_pack
from skills.chat import MAX_ANSWER_BYTES, ask
from skills.news import MAX_FEED_BYTES, news
from skills.weather import MAX_WEATHER_BYTES, weather

HUGE = 200_000_000
CHUNK = b"<item><title>filler</title><description>" + b"x" * 65_000 + b"</description></item>\n"
FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title><item>'
    b"<title>Bridge reopens after repairs</title><pubDate>Mon, 15 Jan 2024 11:00:00 GMT</pubDate>"
    b"</item></channel></rss>"
)


class Line:
    """The server's side of one response: it writes raw bytes, slowly if it likes, until the test ends."""

    def __init__(self, out: BufferedIOBase, stop: threading.Event, sent: list[int]):
        self._out, self._stop, self._sent = out, stop, sent

    def send(self, data: bytes) -> None:
        if self._stop.is_set():
            raise ConnectionAbortedError("the test is over")
        self._out.write(data)
        self._sent[0] += len(data)

    def drip(self, data: bytes) -> None:
        """One byte a second."""
        for index in range(len(data)):
            self.send(data[index : index + 1])
            self._stop.wait(1.0)


@dataclass
class RawServer:
    url: str
    sent: list[int]  # bytes written to clients so far, in one element


@pytest.fixture
def raw_server() -> Iterator[Callable[[dict[str, Callable[[Line], None]]], RawServer]]:
    """Call it with {path: function writing the response to a Line} to start a real server."""
    with ExitStack() as stack:
        stop = threading.Event()

        def serve(routes: dict[str, Callable[[Line], None]]) -> RawServer:
            sent = [0]

            class Handler(BaseHTTPRequestHandler):
                def do_GET(self) -> None:
                    self._answer()

                def do_POST(self) -> None:
                    self._answer()

                def _answer(self) -> None:
                    self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    self.close_connection = True
                    with suppress(OSError):  # the client hung up, as it should
                        routes[urlsplit(self.path).path](Line(self.wfile, stop, sent))

                def log_message(self, format: str, *args: Any) -> None:
                    """Keep test output clean."""

            server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
            stack.callback(server.server_close)
            stack.callback(server.shutdown)
            stack.callback(stop.set)  # first of all: the routes still writing stop
            return RawServer(f"http://127.0.0.1:{server.server_address[1]}", sent)

        yield serve


def head(content_type: str = "application/rss+xml", length: int | None = None) -> bytes:
    fields = [f"Content-Type: {content_type}", "Connection: close"]
    fields += [f"Content-Length: {length}"] if length is not None else []
    return ("HTTP/1.1 200 OK\r\n" + "".join(f"{field}\r\n" for field in fields) + "\r\n").encode()


def drip_head(line: Line) -> None:
    line.drip(head(length=len(FEED)) + FEED)


def drip_body(line: Line) -> None:
    line.send(head(length=len(FEED)))
    line.drip(FEED)


def huge(declared: bool) -> Callable[[Line], None]:
    """200 MB of feed, with a Content-Length that says so or without one (the body ends when the server closes)."""

    def write(line: Line) -> None:
        line.send(head(length=HUGE if declared else None))
        for _ in range(HUGE // len(CHUNK)):
            line.send(CHUNK)

    return write


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def assert_too_slow(answer: str, start: str, seconds: float) -> None:
    """``answer`` is ``start`` + "did not answer within N seconds." with N the time the request had left: at most
    ``seconds``, and a little less when the machine is slow to start it."""
    prefix, _, said = answer.partition("did not answer within ")
    assert (prefix, said.endswith(" seconds.")) == (start, True), answer
    assert seconds - 1 < float(said.removesuffix(" seconds.")) <= seconds, answer


@pytest.mark.parametrize("route", [drip_head, drip_body], ids=["headers", "body"])
def test_a_server_that_drips_a_byte_a_second_is_stopped_at_the_deadline(raw_server, route) -> None:
    server = raw_server({"/feed": route})
    before = set(threading.enumerate())
    start = time.monotonic()
    with pytest.raises(OverLimit) as slow:
        request("GET", f"{server.url}/feed", until=start + 2.0, max_bytes=MAX_FEED_BYTES)
    assert time.monotonic() - start < 6  # a per-read timeout never fires: each read gets a byte within a second
    assert_too_slow(f"{slow.value}.", "", 2.0)
    while (
        left := [thread for thread in threading.enumerate() if thread.name == "skill-request" and thread not in before]
    ) and time.monotonic() - start < 15:
        time.sleep(0.1)
    assert not left  # the abandoned read ended too, at the next byte on its closed connection


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "until-closed"])
def test_a_200_mb_answer_is_cut_at_the_cap(raw_server, declared: bool) -> None:
    server = raw_server({"/feed": huge(declared)})
    before = peak_rss_mb()
    with pytest.raises(OverLimit, match=rf"^sent more than {MAX_FEED_BYTES:,} bytes, so I stopped reading it$"):
        request("GET", f"{server.url}/feed", until=time.monotonic() + 60, max_bytes=MAX_FEED_BYTES)
    assert peak_rss_mb() - before < 100  # the whole answer was read into memory: 1.4 GB
    time.sleep(0.5)  # the server finds out that the client hung up
    assert server.sent[0] < HUGE // 4


def test_redirects_are_followed_when_asked_and_only_so_far(http_server) -> None:
    hops = {f"/hop{n}": (302, "text/plain", b"", {"Location": f"/hop{n + 1}"}) for n in range(MAX_REDIRECTS + 1)}
    server = http_server({**hops, f"/hop{MAX_REDIRECTS + 1}": (200, "text/plain", b"arrived")})
    until = time.monotonic() + 10
    assert request("GET", f"{server.url}/hop1", until=until, max_bytes=100, follow_redirects=True).body == b"arrived"
    assert request("GET", f"{server.url}/hop1", until=until, max_bytes=100).status == 302
    with pytest.raises(Unreachable, match="more than 5 redirects"):
        request("GET", f"{server.url}/hop0", until=until, max_bytes=100, follow_redirects=True)
    looping = http_server({"/loop": (302, "text/plain", b"", {"Location": "/loop"})})
    with pytest.raises(Unreachable, match="more than 5 redirects"):
        request("GET", f"{looping.url}/loop", until=until, max_bytes=100, follow_redirects=True)
    assert len(looping.requests) == MAX_REDIRECTS + 1


def test_an_unusable_url_is_unreachable(closed_url) -> None:
    for url in (f"{closed_url}/feed", "ftp://example.org/feed", "not a url"):
        with pytest.raises(Unreachable):
            request("GET", url, until=time.monotonic() + 10, max_bytes=100)


def test_the_news_skips_a_dripping_feed_within_its_time_and_reads_the_next(
    raw_server, http_server, skill_context
) -> None:
    slow = raw_server({"/feed": drip_body})
    good = http_server({"/rss.xml": (200, "application/rss+xml", FEED)})
    skill_context(Config(news=NewsConfig(feeds=[f"{slow.url}/feed", f"{good.url}/rss.xml"], timeout_s=2.0)))
    start = time.monotonic()
    assert news() == "Here are the latest headlines: Bridge reopens after repairs."
    assert time.monotonic() - start < 8
    skill_context(Config(news=NewsConfig(feeds=[f"{slow.url}/feed"], timeout_s=2.0)))
    assert_too_slow(news(), f"The news feed at {slow.url}/feed ", 2.0)


def test_a_200_mb_feed_gets_a_one_line_answer(raw_server, skill_context) -> None:
    server = raw_server({"/feed": huge(False)})
    skill_context(Config(news=NewsConfig(feeds=[f"{server.url}/feed"], timeout_s=30.0)))
    before = peak_rss_mb()
    answer = news()
    assert answer == (
        f"The news feed at {server.url}/feed sent more than {MAX_FEED_BYTES:,} bytes, so I stopped reading it."
    )
    assert peak_rss_mb() - before < 100


def test_the_news_answers_itself_before_the_dispatcher_stops_waiting(raw_server, skill_context) -> None:
    server = raw_server({"/feed": drip_body})
    config = Config(
        news=NewsConfig(feeds=[f"{server.url}/feed"] * 3, timeout_s=10.0), router=RouterConfig(skill_timeout_s=5.0)
    )
    skill_context(config)
    pack = load_pack()
    outcome = Dispatcher(pack, timeout_s=config.router.skill_timeout_s).run(pack.parse("news()"))
    assert not outcome.failed  # its feeds had 4 s of the skill's 5 s in all, not 3 x 10 s
    assert_too_slow(outcome.answer, f"The news feed at {server.url}/feed ", 4.0)


def test_the_weather_service_is_bounded_in_time_and_size(raw_server, skill_context) -> None:
    def huge_json(line: Line) -> None:
        line.send(head("application/json"))
        line.send(b'{"results": [' + b'{"name": "x"},' * (MAX_WEATHER_BYTES // 10))

    server = raw_server({"/search": drip_body, "/huge": huge_json})
    skill_context(Config(weather=WeatherConfig(geocoding_url=f"{server.url}/search", timeout_s=2.0)))
    start = time.monotonic()
    assert_too_slow(weather("Berlin"), "The weather service ", 2.0)
    assert time.monotonic() - start < 6
    skill_context(Config(weather=WeatherConfig(geocoding_url=f"{server.url}/huge", timeout_s=10.0)))
    assert weather("Berlin") == (
        f"The weather service sent more than {MAX_WEATHER_BYTES:,} bytes, so I stopped reading it."
    )


def endpoint(url: str, timeout_s: float = 10.0, max_retries: int = 0) -> Config:
    return Config(llm=LLMConfig(base_url=url, model="tiny-chat", timeout_s=timeout_s, max_retries=max_retries))


def test_the_chat_endpoint_is_bounded_in_time_and_size(raw_server, skill_context) -> None:
    def endless(line: Line) -> None:
        line.send(head("application/json"))
        line.send(b'{"choices": [{"message": {"content": "' + b"bla " * MAX_ANSWER_BYTES)

    server = raw_server({"/slow/chat/completions": drip_body, "/long/chat/completions": endless})
    skill_context(endpoint(f"{server.url}/slow", timeout_s=2.0))
    start = time.monotonic()
    assert_too_slow(ask("Anything?"), f"The language model at {server.url}/slow ", 2.0)
    assert time.monotonic() - start < 6
    skill_context(endpoint(f"{server.url}/long"))
    assert ask("Anything?") == (
        f"The language model at {server.url}/long sent more than {MAX_ANSWER_BYTES:,} bytes, so I stopped reading it."
    )


def test_the_chat_endpoint_is_retried_within_its_deadline(http_server, skill_context) -> None:
    answers = iter(
        [
            (503, "application/json", b'{"error": {"message": "busy"}}'),
            (200, "application/json", json.dumps({"choices": [{"message": {"content": "Yes."}}]}).encode()),
        ]
    )
    server = http_server({"/v1/chat/completions": lambda request: next(answers)})
    skill_context(endpoint(f"{server.url}/v1", max_retries=1))
    assert ask("Anything?") == "Yes."
    assert len(server.requests) == 2
    skill_context(endpoint(f"{server.url}/elsewhere", max_retries=2))
    assert ask("Anything?") == f"The language model at {server.url}/elsewhere answered with an error (HTTP 404)."
    assert len(server.requests) == 3  # a 404 is not retried
