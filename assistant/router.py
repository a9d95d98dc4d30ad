"""The router: one utterance in, one validated call out.

``LocalRouter`` runs a base model (plus a LoRA adapter, merged once and cached) under the call
grammar; ``OpenAIRouter`` asks any OpenAI-compatible endpoint with tools. Both return a
``Routed`` whose call always belongs to the pack; what went wrong, if anything, is in ``error``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from assistant.calls import Call, CallError, RawCall
from assistant.decoding import CallMatcher, CTranslate2Engine, Engine, TorchEngine, convert_to_ctranslate2
from assistant.models import EMBEDDED_LLM, cache_dir, resolve_base_model
from assistant.pack import REPO_ROOT, SkillPack
from assistant.prompting import DEFAULT_TEMPLATE, PromptTemplate, load_template, render_prompt, system_text

log = logging.getLogger(__name__)

SHIPPED_ADAPTER = REPO_ROOT / "models" / "router"
MANIFEST = "manifest.json"
FALLBACK = Call("other")


@dataclass(frozen=True)
class Routed:
    call: Call
    text: str
    latency_ms: float
    tokens: int = 0
    masked_steps: int = 0
    error: str | None = None


class Router(Protocol):
    def route(self, utterance: str) -> Routed: ...


@dataclass(frozen=True)
class RouterSpec:
    """What a trained router needs at serving time; written into an adapter's manifest."""

    base_model: str = EMBEDDED_LLM
    template: str = DEFAULT_TEMPLATE
    list_skills: bool = False
    signatures: dict[str, str] | None = None

    @classmethod
    def for_adapter(cls, folder: Path) -> RouterSpec:
        """From the run's manifest (a checkpoint's is in its parent), else from adapter_config.json."""
        for candidate in (folder / MANIFEST, folder.parent / MANIFEST):
            if candidate.is_file():
                data = json.loads(candidate.read_text(encoding="utf-8"))
                return cls(data["base_model"], data["template"], bool(data["list_skills"]), dict(data["signatures"]))
        config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
        return cls(base_model=config["base_model_name_or_path"])

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

    def __init__(self, pack: SkillPack, tokenizer: Any, engine: Engine, calls: CallMatcher, template: PromptTemplate,
                 list_skills: bool, max_new_tokens: int = 128):
        self.pack = pack
        self.tokenizer = tokenizer
        self.engine = engine
        self.calls = calls
        self.template = template
        self.skill_lines = pack.prompt_lines() if list_skills else None
        self.max_new_tokens = max_new_tokens
        self._fixed_ids = self._ids(self.template_fixed_text())

    def template_fixed_text(self) -> str:
        marker = "\u0000"
        return render_prompt(self.template, marker, self.skill_lines).split(marker)[0]

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=True).input_ids

    def prompt(self, utterance: str) -> str:
        return render_prompt(self.template, utterance, self.skill_lines)

    def route(self, utterance: str) -> Routed:
        start = time.perf_counter()
        ids = self._ids(self.prompt(utterance))
        fixed = len(self._fixed_ids) if ids[: len(self._fixed_ids)] == self._fixed_ids else 0
        said = " ".join(utterance.split())
        budget = self.max_new_tokens + len(ids) - fixed  # room to copy the whole utterance (a dictated note)
        decoded = self.engine.decode(ids, fixed, self.calls.fresh(said), budget)
        latency = (time.perf_counter() - start) * 1000
        if not decoded.finished:
            return Routed(FALLBACK, decoded.text, latency, decoded.tokens, decoded.masked_steps,
                          f"no complete call within {budget} tokens")
        try:
            call = self.pack.parse(decoded.text, said)
        except CallError as error:  # the grammar should make this impossible; never crash the loop
            return Routed(FALLBACK, decoded.text, latency, decoded.tokens, decoded.masked_steps, str(error))
        return Routed(call, decoded.text, latency, decoded.tokens, decoded.masked_steps)


def merged_model_dir(base_model: str, adapter: Path | None) -> Path:
    """The base model with the adapter merged in, as a cached Hugging Face folder."""
    base = resolve_base_model(base_model)
    if adapter is None:
        return Path(base)
    weights = next(adapter.glob("adapter_model.*"))
    digest = hashlib.sha256(weights.read_bytes() + base.encode()).hexdigest()[:16]
    target = cache_dir() / f"merged-{digest}"
    if (target / "config.json").is_file():
        return target
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), str(adapter)).merge_and_unload()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".merge-"))
    try:
        model.save_pretrained(staging)
        AutoTokenizer.from_pretrained(base).save_pretrained(staging)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def load_local_router(pack: SkillPack, adapter: str | Path | None = SHIPPED_ADAPTER, *, base_model: str | None = None,
                      template: str | None = None, list_skills: bool | None = None, engine: str = "ctranslate2",
                      max_new_tokens: int = 128) -> LocalRouter:
    """A router from an adapter folder (with manifest), or from a bare base model when adapter is None.

    Explicit arguments override the manifest. Warns when the pack's skills differ from the
    signatures the adapter was trained on.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter_dir = Path(adapter) if adapter is not None else None
    spec = RouterSpec.for_adapter(adapter_dir) if adapter_dir is not None else RouterSpec()
    if adapter_dir is not None:
        for problem in spec.mismatches(pack):
            log.warning("router %s: %s (retrain with finetune/finetune.py)", adapter_dir, problem)
    model_dir = merged_model_dir(base_model or spec.base_model, adapter_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    calls = CallMatcher(tokenizer, pack)
    if engine == "ctranslate2":
        backend: Engine = CTranslate2Engine(convert_to_ctranslate2(model_dir, cache_dir()), calls)
    elif engine == "transformers":
        import torch

        on_gpu = torch.cuda.is_available()
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16 if on_gpu else torch.float32)
        model.to("cuda" if on_gpu else "cpu").eval()
        backend = TorchEngine(model, calls)
    else:
        raise ValueError(f"unknown router engine {engine!r} (ctranslate2 or transformers)")
    return LocalRouter(pack, tokenizer, backend, calls, load_template(template or spec.template),
                       spec.list_skills if list_skills is None else list_skills, max_new_tokens)


class OpenAIRouter:
    """Any OpenAI-compatible endpoint with function calling (OpenAI, vLLM, llama.cpp server)."""

    def __init__(self, pack: SkillPack, model: str, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 30.0, max_retries: int = 2):
        from openai import OpenAI

        self.pack = pack
        self.model = model
        self.client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=max_retries)

    def route(self, utterance: str) -> Routed:
        from openai import OpenAIError

        start = time.perf_counter()
        messages = [
            {"role": "system", "content": system_text()},
            {"role": "user", "content": utterance},
        ]
        try:
            response = self.client.chat.completions.create(
                model=self.model, messages=messages, tools=self.pack.tools(), tool_choice="required", temperature=0
            )
        except OpenAIError as error:
            return Routed(FALLBACK, "", _ms(start), error=f"endpoint error: {error}")
        message = response.choices[0].message
        if not message.tool_calls:
            return Routed(FALLBACK, message.content or "", _ms(start), error="the endpoint answered without a tool call")
        function = message.tool_calls[0].function
        text = f"{function.name}({function.arguments})"
        try:
            arguments = json.loads(function.arguments or "{}")
            if not isinstance(arguments, dict):
                raise CallError(f"tool arguments must be a JSON object, got {function.arguments!r}")
            skill = self.pack.skills.get(function.name)
            if skill is None:
                raise CallError(f"unknown skill {function.name!r}")
            call = skill.bind(RawCall(function.name, (), tuple(arguments.items())))
            skill.check_spans(call, utterance)
        except (CallError, json.JSONDecodeError) as error:
            return Routed(FALLBACK, text, _ms(start), error=str(error))
        return Routed(call, str(call), _ms(start))


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000
