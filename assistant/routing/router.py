"""The router: one utterance in, one validated call out.

``LocalRouter`` runs a base model (plus a LoRA adapter, merged once and cached) under the call
grammar; ``OpenAIRouter`` asks any OpenAI-compatible endpoint with tools. Both return a
``Routed`` whose call always belongs to the pack; what went wrong, if anything, is in ``error``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import openai

from assistant.bundled import bundled
from assistant.config import ConfigError, RouterConfig
from assistant.dialogue import Exchange
from assistant.errors import VoxrouteError
from assistant.files import staged_folder
from assistant.models import (
    EMBEDDED_LLM,
    UnusableModel,
    cache_dir,
    check_safetensors,
    hash_file,
    read_json_file,
    resolve_base_model,
)
from assistant.routing.calls import MAX_CALL_CHARS, MAX_CALLS, Call, CallError, Calls, RawCall, finished_calls
from assistant.routing.decoding import (
    CallMatcher,
    CTranslate2Engine,
    Engine,
    Guess,
    TorchEngine,
    convert_to_ctranslate2,
)
from assistant.routing.drafts import CallDrafter
from assistant.routing.prompting import (
    DEFAULT_TEMPLATE,
    PromptTemplate,
    load_template,
    render_prompt,
    render_user,
    system_text,
)
from assistant.runtime.pack import SkillPack
from assistant.timing import elapsed_ms
from assistant.web import MAX_JSON_DEPTH, ReplyTooLarge, bounded_body, nested_deeper_than, openai_client

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

log = logging.getLogger(__name__)

SHIPPED_ADAPTER = bundled("router")
MANIFEST = "manifest.json"
ADAPTER_CONFIG = "adapter_config.json"
MAX_UTTERANCE_TOKENS = 384  # bounds prefill and copying; 500 characters of English are about 120 tokens

OnCall = Callable[[Call], None]  # told each call as soon as it is decoded, before the next one is


def _ignore(call: Call) -> None:
    """The default :data:`OnCall`: nobody acts before routing ends."""


@dataclass(frozen=True)
class Routed:
    calls: Calls  # empty: the pack has no fallback call and nothing else fits
    text: str
    latency_ms: float
    tokens: int = 0
    masked_steps: int = 0
    error: str | None = None
    path: str = "router"  # which answered: the trained router, or the pack's own sentences ("instant")
    # how sure the router was (assistant.routing.decoding.Decoded.confidence); 1.0 where nothing measures it:
    # the instant path (exact), an endpoint (its log probabilities are not asked for), a refusal
    confidence: float = 1.0


def fallback_calls(pack: SkillPack) -> Calls:
    """What a turn becomes when routing fails: the pack's fallback call, or no call where it has none."""
    return Calls([pack.fallback] if pack.fallback is not None else [])


class Router(Protocol):
    def route(
        self, utterance: str, context: Exchange | None = None, on_call: OnCall = _ignore, allow_unfinished: bool = False
    ) -> Routed:
        """The calls of ``utterance`` (a follow-up of ``context``); ``on_call`` hears each as soon as it is known.
        With ``allow_unfinished`` (a partial transcript), the calls may be ``assistant.routing.calls.UNFINISHED``
        instead."""

    def prepare(self, context: Exchange) -> None:
        """Get ready to route a follow-up of ``context`` (before the user has said it)."""


@dataclass(frozen=True)
class RouterSpec:
    """What a trained router needs at serving time; written into an adapter's manifest."""

    base_model: str = EMBEDDED_LLM
    template: str = DEFAULT_TEMPLATE
    list_skills: bool = False
    signatures: dict[str, str] | None = None

    @classmethod
    def for_adapter(cls, folder: Path) -> RouterSpec:
        """From the run's manifest (a checkpoint's or a ``--merge``d model's is in its parent), else
        from adapter_config.json; a model folder with neither is its own base with the defaults.
        A file of the wrong shape is one line naming it (UnusableModel)."""
        for candidate in (folder / MANIFEST, folder.parent / MANIFEST):
            if candidate.exists():
                data = _shaped(candidate, {"base_model": str, "template": str, "list_skills": bool, "signatures": dict})
                if not all(isinstance(value, str) for value in data["signatures"].values()):
                    raise UnusableModel(f"{candidate}: signatures must map each skill to a string")
                return cls(data["base_model"], data["template"], data["list_skills"], dict(data["signatures"]))
        if not (folder / ADAPTER_CONFIG).exists():
            return cls(base_model=str(folder))
        base = adapter_config(folder)["base_model_name_or_path"]
        if base is None:
            raise UnusableModel(f"{folder / ADAPTER_CONFIG}: names no base model, and there is no {MANIFEST}")
        return cls(base_model=base)

    def mismatches(self, pack: SkillPack) -> list[str]:
        """How the pack's skills differ from those the router was trained on (nothing, if unknown)."""
        if self.signatures is None:
            return []
        now = pack.signatures()
        problems = [f"new skill {name}: {now[name]}" for name in now.keys() - self.signatures.keys()]
        problems += [f"skill {name} was removed" for name in self.signatures.keys() - now.keys()]
        problems += [
            f"skill {name} changed: trained on {self.signatures[name]!r}, now {now[name]!r}"
            for name in now.keys() & self.signatures.keys()
            if now[name] != self.signatures[name]
        ]
        return sorted(problems)


class LocalRouter:
    """A local model decoding under the pack's call grammar, with the prompt prefix cached."""

    def __init__(
        self,
        pack: SkillPack,
        tokenizer: Any,
        engine: Engine,
        calls: CallMatcher,
        template: PromptTemplate,
        list_skills: bool,
        max_new_tokens: int = 128,
        deadline_s: float = RouterConfig.timeout_s,
        drafter: CallDrafter | None = None,
    ):
        self.pack = pack
        self.tokenizer = tokenizer
        self.engine = engine
        self.calls = calls
        self.template = template
        self.skill_lines = pack.prompt_lines() if list_skills else None
        self.max_new_tokens = max_new_tokens
        self.deadline_s = deadline_s
        self.drafter = drafter
        self._fixed_ids = self._head_ids()

    def _head_ids(self, context: Exchange | None = None) -> list[int]:
        """The prompt's ids up to the utterance, the same for every utterance after ``context``; a space
        before the utterance is left to it (tokenizers fold it into the next word)."""
        marker = "\u0000"
        return self._ids(render_prompt(self.template, marker, self.skill_lines, context).split(marker)[0].rstrip(" "))

    def prepare(self, context: Exchange) -> None:
        """Encode the prompt up to a follow-up of ``context`` now, so that routing it encodes only its words."""
        self.engine.prepare(self._head_ids(context))

    def _ids(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer(text, add_special_tokens=True).input_ids
        return ids

    def prompt(self, utterance: str, context: Exchange | None = None) -> str:
        return render_prompt(self.template, utterance, self.skill_lines, context)

    def _guess(self, said: str) -> Guess:
        """The drafter's guesses as ids: the rest of the likeliest guess that goes on from what was decoded."""
        drafter = self.drafter
        if drafter is None:
            return lambda generated: []

        def guess(generated: list[int]) -> list[int]:
            written = self.tokenizer.decode(generated)
            calls = drafter.guess(said, written.removeprefix(self.template.lead))
            if calls is None:
                return []
            rest = (self.template.lead + str(calls))[len(written) :]
            return [*self.tokenizer(rest, add_special_tokens=False).input_ids, self.calls.eos_id]

        return guess

    def route(
        self, utterance: str, context: Exchange | None = None, on_call: OnCall = _ignore, allow_unfinished: bool = False
    ) -> Routed:
        start = time.perf_counter()
        fallback = fallback_calls(self.pack)
        ids = self._ids(self.prompt(utterance, context))
        system = len(self._fixed_ids) if ids[: len(self._fixed_ids)] == self._fixed_ids else 0
        head = self._head_ids(context) if context is not None else self._fixed_ids
        fixed = len(head) if ids[: len(head)] == head else system
        words = " ".join(utterance.split())
        said = context.said(utterance) if context is not None else words
        if len(ids) - system > MAX_UTTERANCE_TOKENS:  # rare scripts and symbols take several tokens a character
            return Routed(
                fallback,
                "",
                elapsed_ms(start),
                error=f"too long to route: {len(ids) - system} tokens, the most is {MAX_UTTERANCE_TOKENS}",
            )
        budget = self.max_new_tokens + len(ids) - system  # room to copy all that was said (a dictated note)
        announced: list[Call] = []

        def progress(generated: list[int]) -> None:
            """Hand on each call once it is closed, so it can run while the rest is decoded."""
            text = self.tokenizer.decode([t for t in generated if t != self.calls.eos_id])
            for piece in finished_calls(text.removeprefix(self.template.lead))[len(announced) :]:
                try:
                    call = self.pack.parse(piece, said)
                except CallError:
                    return
                announced.append(call)
                on_call(call)

        decoded = self.engine.decode(
            ids,
            fixed,
            self.calls.fresh(said, allow_unfinished),
            budget,
            start + self.deadline_s,
            progress,
            self._guess(words),  # the examples stand alone: guessed from this turn's words
        )
        latency = elapsed_ms(start)
        if not decoded.finished:
            reason = (
                f"routing took longer than {self.deadline_s:g} s ([router] timeout_s)"
                if decoded.timed_out
                else f"no complete call within {budget} tokens"
            )
            return Routed(
                Calls(announced) or fallback,
                decoded.text,
                latency,
                decoded.tokens,
                decoded.masked_steps,
                reason,
                confidence=decoded.confidence,
            )
        try:
            calls = self.pack.parse_calls(decoded.text.removeprefix(self.template.lead), said)
        except CallError as error:  # the grammar should make this impossible; never crash the loop
            return Routed(
                Calls(announced) or fallback,
                decoded.text,
                latency,
                decoded.tokens,
                decoded.masked_steps,
                str(error),
                confidence=decoded.confidence,
            )
        for call in calls[len(announced) :]:
            on_call(call)
        return Routed(calls, decoded.text, latency, decoded.tokens, decoded.masked_steps, confidence=decoded.confidence)


def is_trained_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a router to serve: a LoRA adapter, or a whole model (``finetune.py --merge``)."""
    return any((folder / name).is_file() for name in (ADAPTER_CONFIG, "config.json"))


def _shaped(path: Path, shape: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """A JSON file that must be an object whose keys of ``shape`` hold those types (None: a missing key)."""
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise UnusableModel(f"{path}: not a JSON object")
    for key, kind in shape.items():
        kinds, value = kind if isinstance(kind, tuple) else (kind,), data.get(key)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):  # JSON true is no number
            raise UnusableModel(f"{path}: {key} has the wrong type: {one_line(repr(value))}")
    return data


def adapter_config(folder: Path) -> dict[str, Any]:
    """The adapter's adapter_config.json, checked for the keys serving reads and PEFT needs first."""
    path = folder / ADAPTER_CONFIG
    data = _shaped(path, {"peft_type": str, "base_model_name_or_path": (str, type(None)), "r": (int, type(None))})
    if data.get("r") is not None and data["r"] < 1:
        raise UnusableModel(f"{path}: r (the LoRA rank) must be 1 or more, got {data['r']}")
    return data


def _merge_key(adapter: Path, weights: Path, base: str) -> str:
    """What defines a merged model: the adapter's config and weights, byte for byte, and the base model (its
    name and, for a folder, each file's name, size and time), so that a change to any of them merges afresh."""
    digest = hashlib.sha256()
    for path in (adapter / ADAPTER_CONFIG, weights):
        hash_file(digest, path)
    digest.update(base.encode())
    if Path(base).is_dir():
        for path in sorted(Path(base).iterdir()):
            if path.is_file():
                info = path.stat()
                digest.update(f"\0{path.name}:{info.st_size}:{info.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _check_model_folder(folder: Path) -> None:
    """A whole model's config.json and weights, checked before transformers reads them."""
    if not isinstance(read_json_file(folder / "config.json"), dict):
        raise UnusableModel(f"{folder / 'config.json'}: not a JSON object")
    for weights in sorted(folder.glob("*.safetensors")):
        check_safetensors(weights)


@contextmanager
def _loading(what: Path | str) -> Iterator[None]:
    """A loader's error (transformers, PEFT, CTranslate2) as one line naming the folder; -v shows the cause."""
    try:
        yield
    except ConfigError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        raise UnusableModel(one_line(f"{what}: cannot be loaded: {type(error).__name__}: {error}")) from error


def merged_model_dir(base_model: str, adapter: Path | None) -> Path:
    """The base model with the adapter merged in, as a cached Hugging Face folder; a folder that
    is already a whole model (``finetune.py --merge``) as it is. Every file is checked first."""
    if adapter is None:
        base = resolve_base_model(base_model)
        if Path(base).is_dir():
            _check_model_folder(Path(base))
        return Path(base)
    weights = next(adapter.glob("adapter_model.*"), None)
    if weights is None:
        if (adapter / "config.json").is_file():
            _check_model_folder(adapter)
            return adapter
        raise UnusableModel(f"{adapter}: neither an adapter (adapter_model.*) nor a model folder (config.json)")
    adapter_config(adapter)
    if weights.suffix == ".safetensors":
        check_safetensors(weights)
    base = resolve_base_model(base_model)
    target = cache_dir() / f"merged-{_merge_key(adapter, weights, base)}"
    if (target / "config.json").is_file():
        return target
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _loading(adapter):
        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(adapter)).merge_and_unload()
        with staged_folder(target) as staging:
            model.save_pretrained(staging)
            AutoTokenizer.from_pretrained(base).save_pretrained(staging)
    return target


def load_local_router(
    pack: SkillPack,
    adapter: str | Path | None = SHIPPED_ADAPTER,
    *,
    base_model: str | None = None,
    template: str | None = None,
    list_skills: bool | None = None,
    engine: str = "ctranslate2",
    threads: int = RouterConfig.threads,
    max_new_tokens: int = 128,
    deadline_s: float = RouterConfig.timeout_s,
    drafts: bool = True,
) -> LocalRouter:
    """A router from a trained folder (an adapter or a merged model, with its run's manifest), or
    from a bare base model when adapter is None.

    Explicit arguments override the manifest. Warns when the pack's skills differ from the
    signatures the adapter was trained on. With ``drafts`` the decoder checks guesses from the pack's
    written examples (the same calls in fewer model passes: :mod:`assistant.routing.drafts`).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter_dir = Path(adapter) if adapter is not None else None
    spec = RouterSpec.for_adapter(adapter_dir) if adapter_dir is not None else RouterSpec()
    if adapter_dir is not None:
        for problem in spec.mismatches(pack):
            log.warning("router %s: %s (teach it with voxroute learn, or retrain: make router)", adapter_dir, problem)
    model_dir = merged_model_dir(base_model or spec.base_model, adapter_dir)
    with _loading(model_dir):
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    prompt_template = load_template(template or spec.template, tokenizer)
    calls = CallMatcher(tokenizer, pack, prompt_template.lead)
    if engine == "ctranslate2":
        with _loading(model_dir):
            converted = convert_to_ctranslate2(model_dir, cache_dir())
        backend: Engine = CTranslate2Engine(converted, calls, threads)
    elif engine == "transformers":
        import torch

        on_gpu = torch.cuda.is_available()
        with _loading(model_dir):
            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16 if on_gpu else torch.float32)
        # transformers decorates to() with functools.wraps, whose stub type leaves self unbound
        model.to("cuda" if on_gpu else "cpu").eval()  # type: ignore[arg-type]
        backend = TorchEngine(model, calls)
    else:
        raise ValueError(f"unknown router engine {engine!r} (ctranslate2 or transformers)")
    return LocalRouter(
        pack,
        tokenizer,
        backend,
        calls,
        prompt_template,
        spec.list_skills if list_skills is None else list_skills,
        max_new_tokens,
        deadline_s,
        CallDrafter.for_pack(pack) if drafts else None,
    )


class EndpointFailed(VoxrouteError):
    """The endpoint gave no usable answer on this turn; the message is the turn's one-line error."""


class OpenAIRouter:
    """Any OpenAI-compatible endpoint with function calling (OpenAI, vLLM, llama.cpp server).

    Whatever the endpoint does, a turn ends with a call of the pack (the fallback and a one-line
    error when the answer is unusable) within ``timeout_s × (max_retries + 1)`` seconds: the client
    retries what may pass (waiting as Retry-After says), and a deadline cuts off what would take
    longer (a long Retry-After, a server trickling bytes). A request that is cut off cannot be
    killed; it ends in the background, within the client's own timeout and retries.

    Its ``Routed.confidence`` is always 1.0: tool calls come without log probabilities (not every
    server gives them), so ``[router] confirm_below`` never asks on its turns.
    """

    def __init__(self, pack: SkillPack, settings: RouterConfig):
        self.pack = pack
        self.model = settings.model
        self.client = openai_client(settings.base_url, settings.api_key_env, settings.timeout_s, settings.max_retries)
        self.deadline_s = settings.timeout_s * (settings.max_retries + 1)

    def prepare(self, context: Exchange) -> None:
        """Nothing to do here: a server that caches prompt heads (vLLM, llama.cpp) does it by itself."""

    def route(
        self, utterance: str, context: Exchange | None = None, on_call: OnCall = _ignore, allow_unfinished: bool = False
    ) -> Routed:
        """Tool calls of an OpenAI-compatible server; it always answers a complete request."""
        start = time.perf_counter()
        said = context.said(utterance) if context is not None else utterance
        text = ""
        try:
            answered = tool_calls(self._answer(utterance, context))[:MAX_CALLS]
            text = "; ".join(f"{name}({arguments})" for name, arguments in answered)[:MAX_CALL_CHARS]
            calls = Calls(self._bind(name, arguments, said) for name, arguments in answered)
        except (EndpointFailed, CallError) as error:
            return Routed(fallback_calls(self.pack), text, elapsed_ms(start), error=str(error))
        for call in calls:
            on_call(call)
        return Routed(calls, str(calls), elapsed_ms(start))

    def _answer(self, utterance: str, context: Exchange | None) -> str:
        """The body of the endpoint's 200 answer (at most MAX_REPLY_BYTES), waited for until the deadline."""
        answers: queue.Queue[str | Exception] = queue.Queue(maxsize=1)
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": system_text()},
            {"role": "user", "content": render_user(utterance, context)},
        ]
        threading.Thread(target=self._ask, args=(messages, answers), daemon=True, name="endpoint").start()
        try:
            answer = answers.get(timeout=self.deadline_s)
        except queue.Empty:
            raise EndpointFailed(f"the endpoint gave no answer within {self.deadline_s:g} s") from None
        if isinstance(answer, str):
            return answer
        raise EndpointFailed(self._describe(answer))

    def _ask(self, messages: list[ChatCompletionMessageParam], answers: queue.Queue[str | Exception]) -> None:
        """One request with the client's retries; its body, or what it raised, goes to ``answers``.

        The body is streamed, so that it is read outside the client's retries and no further than its bound."""
        try:
            with self.client.chat.completions.with_streaming_response.create(
                model=self.model, messages=messages, tools=self.pack.tools(), tool_choice="required", temperature=0
            ) as response:
                answers.put(bounded_body(response).decode("utf-8", errors="replace"))
        except Exception as error:  # raised here, it would be lost and the turn would wait out the deadline
            answers.put(error)

    def _describe(self, error: Exception) -> str:
        if isinstance(error, ReplyTooLarge):
            return str(error)
        if isinstance(error, openai.APITimeoutError):  # it comes after the deadline: each try waited timeout_s
            return f"the endpoint gave no answer within {self.deadline_s:g} s"
        if isinstance(error, openai.APIConnectionError):
            cause = error.__cause__ or error
            return one_line(f"cannot reach the endpoint at {self.client.base_url}: {cause}")
        if isinstance(error, openai.APIStatusError):
            detail = error.body.get("message") if isinstance(error.body, dict) else None
            return one_line(f"the endpoint answered HTTP {error.status_code}" + (f": {detail}" if detail else ""))
        return one_line(f"the endpoint request failed: {type(error).__name__}: {error}")

    def _bind(self, name: str, arguments: str, said: str) -> Call:
        """The tool call as a call of the pack, its span arguments checked against what was said; its text is
        bounded as a local router's is, and its nesting before it is parsed."""
        if len(name) + len(arguments) > MAX_CALL_CHARS:
            raise CallError(
                f"the tool call is {len(name) + len(arguments):,} characters long, more than a call may "
                f"be ({MAX_CALL_CHARS}): {(name + '(' + arguments)[:80]!r}"
            )
        if nested_deeper_than(arguments):
            raise CallError(f"tool arguments nest more than {MAX_JSON_DEPTH} deep: {arguments[:80]!r}")
        try:
            values = json.loads(arguments or "{}")
        except json.JSONDecodeError:
            raise CallError(f"tool arguments are not JSON: {arguments[:80]!r}") from None
        if not isinstance(values, dict):
            raise CallError(f"tool arguments must be a JSON object, got {arguments[:80]!r}")
        return self.pack.bind(RawCall(name, (), tuple(values.items())), said)


def tool_calls(body: str) -> list[tuple[str, str]]:
    """The name and JSON arguments of every tool call in a chat completion's body, in order."""
    if nested_deeper_than(body):
        raise EndpointFailed(f"the endpoint's answer nests more than {MAX_JSON_DEPTH} deep: {body[:80]!r}")
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        raise EndpointFailed(f"the endpoint's answer is not JSON: {body[:80]!r}") from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices:
        raise EndpointFailed(f"the endpoint's answer is not a chat completion with choices: {body[:80]!r}")
    message = _at(choices, 0, "message")
    found = _at(message, "tool_calls")
    answered = []
    for index in range(len(found) if isinstance(found, list) else 0):
        name, arguments = _at(found, index, "function", "name"), _at(found, index, "function", "arguments")
        if isinstance(name, str) and isinstance(arguments, str | None):
            answered.append((name, arguments or ""))
    if not answered:
        content = _at(message, "content")
        raise EndpointFailed(f"the endpoint answered without a tool call (text: {str(content or '')[:80]!r})")
    return answered


def _at(data: Any, *path: str | int) -> Any:
    """``data[path[0]][path[1]]...`` of parsed JSON, or None where it has another shape."""
    for key in path:
        if isinstance(key, int) and isinstance(data, list) and len(data) > key:
            data = data[key]
        elif isinstance(key, str) and isinstance(data, dict):
            data = data.get(key)
        else:
            return None
    return data


def one_line(text: str) -> str:
    """An error as one short line (a server's message may hold newlines or a whole page)."""
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:199] + "…"
