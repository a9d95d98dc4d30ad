"""Shared fixtures: a skill context per test, and real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from assistant.config import Config, NotesConfig
from assistant.runtime.context import SkillContext, use_context

# A route answers a request with (status, content type, body), optionally followed by more headers.
Reply = tuple[int, str, bytes] | tuple[int, str, bytes, dict[str, str]]
Route = Reply | Callable[["Request"], Reply]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    url: str
    requests: list[Request] = field(default_factory=list)


@pytest.fixture
def skill_context(tmp_path: Path) -> Iterator[Callable[..., SkillContext]]:
    """Call it to run the rest of the test under a SkillContext (notes default to a file in tmp_path)."""
    with ExitStack() as stack:

        def enter(config: Config | None = None, **callbacks: Any) -> SkillContext:
            config = config or Config(notes=NotesConfig(path=str(tmp_path / "notes.sqlite3")))
            return stack.enter_context(use_context(SkillContext(config, **callbacks)))

        yield enter


@pytest.fixture
def http_server() -> Iterator[Callable[[dict[str, Route]], Server]]:
    """Call it with {path: reply or function of the Request} to start a real server; unknown paths are 404.

    A function may sleep to play a hanging server; a client that gave up meanwhile is no error.
    """
    with ExitStack() as stack:

        def serve(routes: dict[str, Route]) -> Server:
            requests: list[Request] = []

            class Handler(BaseHTTPRequestHandler):
                def do_GET(self) -> None:
                    self._answer()

                def do_POST(self) -> None:
                    self._answer()

                def _answer(self) -> None:
                    url = urlsplit(self.path)
                    length = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(length)
                    request = Request(
                        self.command,
                        url.path,
                        parse_qs(url.query),
                        {key.lower(): value for key, value in self.headers.items()},
                        body,
                    )
                    requests.append(request)
                    route = routes.get(url.path, (404, "text/plain", b"not found"))
                    status, content_type, body, *more = route(request) if callable(route) else route
                    headers = {
                        "Content-Type": content_type,
                        "Content-Length": str(len(body)),
                        **(more[0] if more else {}),
                    }
                    try:
                        self.send_response(status)
                        for name, value in headers.items():
                            self.send_header(name, value)
                        self.end_headers()
                        self.wfile.write(body)
                    except ConnectionError:
                        pass  # the client timed out and closed the connection

                def log_message(self, format: str, *args: Any) -> None:
                    """Keep test output clean."""

            server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
            stack.callback(server.server_close)
            stack.callback(server.shutdown)
            return Server(f"http://127.0.0.1:{server.server_address[1]}", requests)

        yield serve


@pytest.fixture
def closed_url() -> str:
    """A URL on a local port where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, randomly initialised 2-layer Llama with SmolLM2's tokenizer: trains in seconds on a CPU."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from assistant.models import embedded_llm_dir

    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(embedded_llm_dir())
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
