"""Every network read of a skill: one HTTP request with a total deadline and a size cap.

httpx's timeouts bound each read, so a server that sends a byte a second, in its headers or its body,
is never timed out, and a body is read whole into memory. :func:`request` runs the request in a daemon
thread that the caller stops waiting for at the deadline (closing the connection under it), streams the
body through :func:`assistant.web.bounded_body` (a larger Content-Length is refused before any of it
is read), and follows redirects itself so that each hop is bounded the same way.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import httpx

from assistant.runtime.context import current_context
from assistant.web import ReplyTooLarge, bounded_body

MAX_REDIRECTS = 5
ANSWER_SHARE = 0.8  # of the dispatcher's limit that a skill's reads may take, so that the skill still answers itself


class Unreachable(Exception):
    """No connection, a broken one, an unusable URL, or too many redirects."""


class OverLimit(Exception):
    """The answer was larger or slower than allowed; the message says which as the end of a sentence."""


@dataclass(frozen=True)
class Reply:
    """What a request got: its status and its whole body, within the cap (an error page is a reply too)."""

    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def budget_s(seconds: float) -> float:
    """``seconds``, but no more than leaves the skill time to answer within the dispatcher's limit."""
    return min(seconds, ANSWER_SHARE * current_context().config.router.skill_timeout_s)


def request(
    method: str,
    url: str,
    *,
    until: float,
    max_bytes: int,
    follow_redirects: bool = False,
    params: dict[str, Any] | None = None,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """The status and body of one request, complete by the ``time.monotonic()`` value ``until``.

    Raises Unreachable, or OverLimit when the answer has more than ``max_bytes`` or is not complete in time.
    """
    seconds = until - time.monotonic()
    if seconds <= 0:
        raise OverLimit("was not asked: no time was left")
    client = httpx.Client(timeout=seconds, headers={"Accept-Encoding": "identity"})  # no body grows as it is read
    answer: Future[Reply] = Future()

    def read() -> None:
        try:
            sent = client.build_request(method, url, params=params, json=json, headers=headers)
            answer.set_result(_read(client, sent, max_bytes, follow_redirects))
        except httpx.TimeoutException:
            answer.set_exception(OverLimit(_too_slow(seconds)))
        except ReplyTooLarge:
            answer.set_exception(OverLimit(f"sent more than {max_bytes:,} bytes, so I stopped reading it"))
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            answer.set_exception(Unreachable(f"{url}: {error}"))
        except BaseException as error:  # handed to the caller
            answer.set_exception(error)

    try:
        threading.Thread(target=read, name="skill-request", daemon=True).start()
        return answer.result(timeout=seconds)
    except FutureTimeout:
        raise OverLimit(_too_slow(seconds)) from None
    finally:
        client.close()  # a read still waiting ends at its next byte, or at its own timeout


def _read(client: httpx.Client, sent: httpx.Request, max_bytes: int, follow_redirects: bool) -> Reply:
    for _ in range(MAX_REDIRECTS + 1):
        response = client.send(sent, stream=True, follow_redirects=False)
        try:
            if follow_redirects and response.next_request is not None:
                sent = response.next_request
                continue
            return Reply(response.status_code, bounded_body(response, max_bytes))
        finally:
            response.close()
    raise Unreachable(f"{sent.url}: more than {MAX_REDIRECTS} redirects")


def _too_slow(seconds: float) -> str:
    shown = round(seconds, 1)
    return f"did not answer within {shown:g} second{'' if shown == 1 else 's'}"
