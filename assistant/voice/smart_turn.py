"""Has the speaker finished? Pipecat's Smart Turn v3 end-of-turn model, run directly with onnxruntime.

The model (Smart Turn v3.2, 8.7 MB, BSD-2) hears the last 8 s of speech and says how likely the
turn is complete, from intonation and rhythm as well as words: "what's the time in..." with a
trailing pitch sounds unfinished where a silence timer cannot tell. It ships inside the
``pipecat-ai`` wheel (``pip install --no-deps pipecat-ai``); only the ONNX file is used, found
without importing pipecat, whose package ``__init__`` needs dependencies voxroute does not install.

Input as Pipecat prepares it: 16 kHz audio cut to its last 8 s or zero-padded in front to 8 s,
Whisper log-mel features (``WhisperFeatureExtractor(chunk_length=8)``, normalized), one
``input_features`` tensor of shape (1, 80, 800); the output is the sigmoid probability that the
turn is complete.

espeak-ng's flat prosody understates an audio model like this one: on synthetic speech a finished
sentence need not score higher than the same sentence cut mid-phrase, so measure it on real voices.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import VoxrouteError
from assistant.voice.audio import SAMPLE_RATE

WINDOW_S = 8
MODEL_FILE = ("audio", "turn", "smart_turn", "data", "smart-turn-v3.2-cpu.onnx")


class SmartTurnError(VoxrouteError, RuntimeError):
    """The Smart Turn model is not installed; the message says how to install it."""


def model_path() -> Path:
    """The ONNX file inside the installed pipecat-ai wheel (``find_spec`` does not run pipecat's ``__init__``)."""
    spec = importlib.util.find_spec("pipecat")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder).joinpath(*MODEL_FILE)
        if path.is_file():
            return path
    raise SmartTurnError("Smart Turn needs its model from the pipecat-ai wheel: pip install --no-deps pipecat-ai")


class SmartTurn:
    """``SmartTurn().complete(audio)``: the probability in [0, 1] that the speech in ``audio`` is a finished turn."""

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime
        from transformers import WhisperFeatureExtractor

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads, options.intra_op_num_threads = 1, threads
        options.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(
            str(model_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )
        # transformers leaves WhisperFeatureExtractor.__init__ unannotated
        self._features: Any = WhisperFeatureExtractor(chunk_length=WINDOW_S)  # type: ignore[no-untyped-call]

    def complete(self, audio: np.ndarray) -> float:
        """Float32 16 kHz mono audio ending where the speaker paused; only its last 8 s are heard."""
        samples = WINDOW_S * SAMPLE_RATE
        audio = np.asarray(audio, dtype=np.float32).ravel()[-samples:]
        audio = np.pad(audio, (samples - audio.size, 0))  # silence before, as Pipecat pads
        features = self._features(
            audio,
            sampling_rate=SAMPLE_RATE,
            return_tensors="np",
            padding="max_length",
            max_length=samples,
            truncation=True,
            do_normalize=True,
        ).input_features
        (probability,) = self._session.run(None, {"input_features": features.astype(np.float32)})
        return float(np.clip(probability.ravel()[0], 0.0, 1.0))
