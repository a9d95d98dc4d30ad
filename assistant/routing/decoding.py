"""Greedy decoding under the call grammar, on CTranslate2 (fast, int8) or transformers.

Both engines produce exactly what greedy decoding with the grammar's token mask would produce.
The CTranslate2 engine lets the int8 model decode freely and checks each token against the
grammar as it arrives; a token the grammar forbids stops it, and one masked step (a full
forward pass) picks the best allowed token before free decoding resumes. A fine-tuned model
rarely needs that step; an untuned one still always ends in a valid call.

Both keep the model's state after a prompt's fixed head (the system text, and in a follow-up the
previous turn too), computed once (:meth:`Engine.prepare`, while the user still speaks), so that
routing pays only for the new words.

Both can check guessed continuations (``guess``, :mod:`assistant.routing.drafts`): one forward pass over a
guess gives the model's choice at each of its tokens, and the tokens up to the first that greedy decoding
would not have chosen are kept, with the model's own choice there; decoding goes on from that point. On
CTranslate2 a pass over a whole sequence and step-by-step decoding score a token differently (int8),
so where the model's choice is close (:data:`CHECK_MARGIN`) step-by-step decoding from the start decides,
and the calls come out as without guesses.

Both also say how sure the model was (``Decoded.confidence``): the lowest probability, softmax over the
whole vocabulary, of a token it chose where the grammar left a choice. A token the grammar forces (its
fast-forward tokens, checked in about 0.01 ms a step) does not count: the model had no say in it.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import llguidance
import llguidance.hf
import numpy as np

from assistant.files import staged_folder
from assistant.models import hash_file
from assistant.routing.grammar import call_grammar, has_spans
from assistant.runtime.pack import SkillPack


@dataclass(frozen=True)
class Decoded:
    text: str
    tokens: int
    masked_steps: int
    finished: bool
    timed_out: bool = False
    confidence: float = 1.0  # the lowest probability of a token the model chose with a choice left; 1.0: none
    drafted: int = 0  # tokens kept from checked drafts


Progress = Callable[[list[int]], None]  # told the ids generated so far, after each step
Guess = Callable[[list[int]], list[int]]  # told the ids generated so far, guesses the ids that follow ([]: none)
MAX_KEPT_PREFIXES = 8  # prompt heads whose model state is kept: the system's, and the last few remembered turns
MAX_CHECKS = 3  # guesses checked in one decode
# CTranslate2's int8 scores of one pass over a sequence and of step-by-step decoding differ: the lead of one
# token over another near it moved by up to about 2 (log-probability, the shipped router on the real-time
# benchmark's transcripts). Where the model's best choice leads the next by less than this margin, the pass
# that checked a guess, or decoding that went on from the checked ids, may choose otherwise than step-by-step
# decoding from the start, so that decides (a probability of at least SURE_LOG_PROBABILITY's exponent leaves
# the runner-up at most the rest: a lead of at least CHECK_MARGIN).
CHECK_MARGIN = 3.0
SURE_LOG_PROBABILITY = CHECK_MARGIN - math.log1p(math.exp(CHECK_MARGIN))


def _ignore(generated: list[int]) -> None:
    """The default :data:`Progress`: nobody is listening."""


def _no_guess(generated: list[int]) -> list[int]:
    """The default :data:`Guess`: none."""
    return []


class CallMatcher:
    """The call grammar of a pack for one tokenizer; hands out a fresh matcher per request.

    Without span parameters the grammar is compiled once and copied (0.05 ms); with them it
    depends on what was said, so each request compiles its own (about 5 ms measured here).
    """

    def __init__(self, tokenizer: Any, pack: SkillPack, lead: str = ""):
        self.tokenizer = tokenizer
        self.pack = pack
        self.lead = lead
        self.eos_id = tokenizer.eos_token_id
        self._ll_tokenizer = llguidance.hf.from_tokenizer(tokenizer)
        self._per_request = has_spans(pack)
        self._pristine = {
            unfinished: self._compile(call_grammar(pack, lead=lead, unfinished=unfinished))
            for unfinished in (False, True)
        }

    def _compile(self, lark: str) -> llguidance.LLMatcher:
        matcher = llguidance.LLMatcher(self._ll_tokenizer, llguidance.LLMatcher.grammar_from_lark(lark), log_level=0)
        if matcher.is_error():
            raise ValueError(f"call grammar does not compile: {matcher.get_error()}")
        return matcher

    def fresh(self, said: str | None = None, unfinished: bool = False) -> llguidance.LLMatcher:
        """A matcher at the start of a call; span values may only copy words of ``said``; with
        ``unfinished``, the unfinished mark may stand instead of calls."""
        if said is not None and self._per_request:
            return self._compile(call_grammar(self.pack, said, self.lead, unfinished))
        return self._pristine[unfinished].deep_copy()

    @staticmethod
    def allowed(matcher: llguidance.LLMatcher, vocab_size: int) -> np.ndarray:
        """A boolean mask over the model's vocabulary of the tokens the grammar allows next."""
        bits = np.unpackbits(np.frombuffer(matcher.compute_bitmask(), dtype=np.uint8), bitorder="little").astype(bool)
        if bits.size < vocab_size:
            bits = np.concatenate([bits, np.zeros(vocab_size - bits.size, dtype=bool)])
        return bits[:vocab_size]


class Engine(Protocol):
    def prepare(self, prefix_ids: list[int]) -> None:
        """Compute and keep the model's state after ``prefix_ids``, the head of a prompt to come."""

    def decode(
        self,
        prompt_ids: list[int],
        fixed_len: int,
        matcher: llguidance.LLMatcher,
        max_new_tokens: int,
        deadline: float = float("inf"),
        progress: Progress = _ignore,
        guess: Guess = _no_guess,
    ) -> Decoded:
        """Greedy-decode calls after ``prompt_ids``, whose first ``fixed_len`` ids are a head shared with
        other requests (its state is kept), until the grammar ends, ``max_new_tokens`` or the
        ``time.perf_counter()`` deadline; ``guess`` offers continuations to check (the result is the
        same with or without them)."""


def _finish(
    calls: CallMatcher,
    generated: list[int],
    masked: int,
    finished: bool,
    confidence: float,
    timed_out: bool = False,
    drafted: int = 0,
) -> Decoded:
    ids = [t for t in generated if t != calls.eos_id]
    return Decoded(calls.tokenizer.decode(ids), len(generated), masked, finished, timed_out, confidence, drafted)


@dataclass
class Checked:
    """What one pass over a draft gave: the ids greedy decoding chooses there, and how many were the draft's."""

    ids: list[int]
    kept: int
    confidence: float
    unsure: bool = False  # ended at a row whose best allowed id led by less than the margin


def check_draft(
    matcher: llguidance.LLMatcher,
    logits: np.ndarray,
    draft: list[int],
    confidence: float,
    margin: float = 0.0,
    any_spelling: bool = False,
) -> Checked:
    """Greedy decoding's ids along ``draft``, consumed by ``matcher``: ``logits[i]`` are the model's scores for
    the id after ``draft[:i]``. The draft's ids are kept while each is the best one the grammar allows; the
    first that is not is replaced by that best one, which ends the check (as does a last row past the draft).
    A best id ahead of the runner-up by less than ``margin`` ends the check before it, ``unsure``: the pass
    that scored it may differ from step-by-step decoding by that much. ``any_spelling``: the engine's own
    steps take the model's best id wherever the grammar can still parse it, not only where the grammar's
    mask (its own spelling of forced text) allows it, and so does the check."""
    ids: list[int] = []
    for index, row in enumerate(logits[: len(draft) + 1]):
        if matcher.is_stopped():
            break
        token, lead = _best_allowed(matcher, row, any_spelling)
        if lead < margin:
            return Checked(ids, index, confidence, unsure=True)
        if has_choice(matcher):
            confidence = min(confidence, probability(row, token))
        matcher.consume_token(token)
        ids.append(token)
        if index == len(draft) or token != draft[index]:
            return Checked(ids, index, confidence)
    return Checked(ids, len(ids), confidence)


def _best_allowed(matcher: llguidance.LLMatcher, row: np.ndarray, any_spelling: bool) -> tuple[int, float]:
    """The best id the grammar allows after ``row``'s scores (with ``any_spelling``, the model's best where
    the grammar can parse it), and by how much it leads the runner-up."""
    first, second = (int(t) for t in np.argpartition(row, -2)[-2:][::-1])
    if row[second] > row[first]:
        first, second = second, first
    if any_spelling and matcher.validate_tokens([first]) == 1:
        return first, float(row[first] - row[second])
    allowed = np.where(CallMatcher.allowed(matcher, row.shape[-1]), row, -np.inf)
    first = int(np.argmax(allowed))
    allowed[first] = -np.inf
    return first, float(row[first] - np.max(allowed))


def probability(logits: np.ndarray, token: int) -> float:
    """The softmax probability of ``token`` over the whole vocabulary (as CTranslate2's log_prob is)."""
    shifted = logits.astype(np.float64) - float(np.max(logits))
    return float(np.exp(shifted[token]) / np.exp(shifted).sum())


def has_choice(matcher: llguidance.LLMatcher) -> bool:
    """Whether the grammar leaves the next token to the model: it forces none (no fast-forward tokens)."""
    return not matcher.compute_ff_tokens()


class TorchEngine:
    """transformers model, fixed prompt prefix KV-cached, grammar mask applied at every step.

    Tokens the grammar forces (no choice left) are fed together in one forward pass.
    """

    def __init__(self, model: Any, calls: CallMatcher):
        import torch

        self.torch = torch
        self.model = model
        self.calls = calls
        self._kept: OrderedDict[tuple[int, ...], Any] = OrderedDict()  # least recently used first

    def prepare(self, prefix_ids: list[int]) -> None:
        self._state(prefix_ids)

    def _state(self, fixed: list[int]) -> Any:
        key = tuple(fixed)
        if key not in self._kept:
            with self.torch.inference_mode():
                out = self.model(input_ids=self.torch.tensor([fixed], device=self.model.device), use_cache=True)
            self._kept[key] = out.past_key_values
            while len(self._kept) > MAX_KEPT_PREFIXES:
                self._kept.popitem(last=False)
        self._kept.move_to_end(key)
        return self._kept[key]

    def decode(
        self,
        prompt_ids: list[int],
        fixed_len: int,
        matcher: llguidance.LLMatcher,
        max_new_tokens: int,
        deadline: float = float("inf"),
        progress: Progress = _ignore,
        guess: Guess = _no_guess,
    ) -> Decoded:
        torch = self.torch
        past = copy.deepcopy(self._state(prompt_ids[:fixed_len])) if fixed_len else None
        feed = prompt_ids[fixed_len:]
        generated: list[int] = []
        confidence = 1.0
        checks = drafted = 0
        while len(generated) < max_new_tokens:
            if time.perf_counter() > deadline:
                return _finish(self.calls, generated, len(generated), False, confidence, True, drafted)
            draft = guess(generated)[: max_new_tokens - len(generated)] if checks < MAX_CHECKS else []
            checks += bool(draft)
            with torch.inference_mode():
                out = self.model(
                    input_ids=torch.tensor([feed + draft], device=self.model.device),
                    past_key_values=past,
                    use_cache=True,
                )
            past = out.past_key_values
            checked = check_draft(matcher, out.logits[0, len(feed) - 1 :].float().cpu().numpy(), draft, confidence)
            if checked.kept < len(draft):
                past.crop(checked.kept - len(draft))  # drops the draft's ids from the first wrong one on
            generated.extend(checked.ids)
            drafted += checked.kept
            confidence = checked.confidence
            if matcher.is_stopped() or checked.ids[-1] == self.calls.eos_id:
                return _finish(self.calls, generated, len(generated), True, confidence, drafted=drafted)
            forced = matcher.compute_ff_tokens()[: max_new_tokens - len(generated)]
            matcher.consume_tokens(forced)
            generated.extend(forced)
            progress(generated)
            feed = [checked.ids[-1], *forced]
        return _finish(self.calls, generated, len(generated), False, confidence, drafted=drafted)


class CTranslate2Engine:
    """The int8 CTranslate2 generator; the fixed prefix is its cached static prompt.

    Recognition and routing take turns, so routing may use both cores (``[router] threads``); whether the
    second thread pays depends on the host: ``python -m benchmarks.latency`` times one and two in one run.

    CTranslate2 keeps every cached static prompt's state (about 8 MB each here) until the model is
    reloaded, so at most :data:`MAX_KEPT_PREFIXES` are cached: :meth:`prepare`, which runs between
    turns, reloads the model (0.3 s) to make room; a decode with no room computes its head uncached.
    """

    def __init__(self, model_dir: Path, calls: CallMatcher, threads: int):
        import ctranslate2

        self.generator = ctranslate2.Generator(str(model_dir), device="cpu", compute_type="int8", intra_threads=threads)
        self.calls = calls
        self.tokenizer = calls.tokenizer
        self._kept: set[tuple[int, ...]] = set()

    def prepare(self, prefix_ids: list[int]) -> None:
        key = tuple(prefix_ids)
        if not key or key in self._kept:
            return
        if len(self._kept) >= MAX_KEPT_PREFIXES:
            self.generator.unload_model()  # the only way to empty CTranslate2's static prompt cache
            self.generator.load_model()
            self._kept.clear()
        self._kept.add(key)
        tokens = self._tokens(prefix_ids)
        steps = self.generator.generate_tokens(
            tokens[-1:], static_prompt=tokens, cache_static_prompt=True, max_length=1
        )
        for _ in steps:  # one step after the head: what is kept is the state after it
            pass

    def _may_keep(self, fixed: list[int]) -> bool:
        key = tuple(fixed)
        if key in self._kept or len(self._kept) < MAX_KEPT_PREFIXES:
            self._kept.add(key)
            return True
        return False

    def _tokens(self, ids: list[int]) -> list[str]:
        tokens: list[str] = self.tokenizer.convert_ids_to_tokens(ids)  # a list of ids gives a list of tokens
        return tokens

    def decode(
        self,
        prompt_ids: list[int],
        fixed_len: int,
        matcher: llguidance.LLMatcher,
        max_new_tokens: int,
        deadline: float = float("inf"),
        progress: Progress = _ignore,
        guess: Guess = _no_guess,
    ) -> Decoded:
        static, rest = self._tokens(prompt_ids[:fixed_len]), self._tokens(prompt_ids[fixed_len:])
        keep = bool(static) and self._may_keep(prompt_ids[:fixed_len])
        generated: list[int] = []
        masked = drafted = 0
        confidence = 1.0
        for _ in range(MAX_CHECKS):  # a pass over the whole prompt (forward_batch keeps no cache) and the draft
            draft = guess(generated)[: max_new_tokens - len(generated)]
            if not draft:
                break
            logits = np.asarray(self.generator.forward_batch([static + rest + self._tokens(generated + draft)]))
            rows = logits[0, len(prompt_ids) + len(generated) - 1 :]
            checked = check_draft(matcher, rows, draft, confidence, CHECK_MARGIN, any_spelling=True)
            if checked.unsure:  # a close choice: decoded step by step from the start, as without guesses
                progress(generated + checked.ids)  # calls closed before it are as sure as any checked (each once)
                matcher.rollback(len(generated) + len(checked.ids))
                generated, drafted, confidence = [], 0, 1.0
                break
            generated.extend(checked.ids)
            drafted += checked.kept
            confidence = checked.confidence
            progress(generated)
            if matcher.is_stopped():
                return _finish(self.calls, generated, masked, True, confidence, drafted=drafted)
            if time.perf_counter() > deadline:
                return _finish(self.calls, generated, masked, False, confidence, timed_out=True, drafted=drafted)
        after_checks = bool(generated)  # decoding goes on from checked ids: a close choice is made from the start
        while len(generated) < max_new_tokens:
            rejected = restart = False
            steps = self.generator.generate_tokens(
                rest + self._tokens(generated),
                static_prompt=static or None,
                cache_static_prompt=keep,
                max_length=max_new_tokens - len(generated),
                sampling_topk=1,  # the model's end token ends decoding there: no step is computed after the call
                return_log_prob=True,  # log-softmax over the whole vocabulary, as probability() computes it
            )
            for step in steps:
                chose = has_choice(matcher)
                if matcher.validate_tokens([step.token_id]) != 1:
                    rejected = True
                    break
                if after_checks and step.log_prob < SURE_LOG_PROBABILITY:  # forced text too: its spelling may differ
                    restart = True
                    break
                if chose:
                    confidence = min(confidence, math.exp(step.log_prob))
                matcher.consume_token(step.token_id)
                generated.append(step.token_id)
                progress(generated)
                if matcher.is_stopped() or time.perf_counter() > deadline:
                    break
            steps.close()
            if restart:
                matcher.rollback(len(generated))
                generated, drafted, confidence, after_checks = [], 0, 1.0, False
                continue
            if matcher.is_stopped():
                return _finish(self.calls, generated, masked, True, confidence, drafted=drafted)
            if time.perf_counter() > deadline:
                return _finish(self.calls, generated, masked, False, confidence, timed_out=True, drafted=drafted)
            if not rejected:
                break
            logits = np.asarray(self.generator.forward_batch([static + rest + self._tokens(generated)]))[0, -1]
            allowed = CallMatcher.allowed(matcher, logits.shape[-1])
            token = int(np.argmax(np.where(allowed, logits, -np.inf)))
            if chose:
                confidence = min(confidence, probability(logits, token))
            matcher.consume_token(token)
            generated.append(token)
            masked += 1
            progress(generated)
            if matcher.is_stopped():
                return _finish(self.calls, generated, masked, True, confidence, drafted=drafted)
        return _finish(self.calls, generated, masked, False, confidence, drafted=drafted)


def convert_to_ctranslate2(model_dir: Path, cache: Path) -> Path:
    """Convert a Hugging Face causal LM folder to CTranslate2 int8 once; cached by a hash of every byte.

    (Fine-tuned and base weights share sizes and headers, so nothing less than the whole content
    tells them apart; hashing 0.5 GB takes about a second.)
    """
    import ctranslate2

    digest = hashlib.sha256()
    for path in sorted(model_dir.glob("*")):
        if path.is_file() and path.suffix in {".json", ".safetensors", ".bin", ".model"}:
            hash_file(digest, path)
    target = cache / f"ct2-{digest.hexdigest()[:16]}"
    if (target / "model.bin").is_file():
        return target
    with staged_folder(target) as staging:
        ctranslate2.converters.TransformersConverter(str(model_dir)).convert(
            str(staging), quantization="int8", force=True
        )
    return target
