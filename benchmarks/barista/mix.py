"""Speech mixed with noise at a signal-to-noise ratio, as the Picovoice benchmark's ``src/mix.py`` mixes it.

Its SNR compares the loudest 2,048-sample frame of the speech with the loudest frame of the noise
segment laid under it (not the mean power), the noise segment starts at a random sample, and the
mix is scaled to half of full scale. The start is drawn from a generator seeded by the recording's
name and the SNR, so a mix is the same in every run.
"""

from __future__ import annotations

import zlib

import numpy as np

FRAME = 2048  # samples per frame of the energy comparison, as the benchmark's mix.py


def max_frame_energy(pcm: np.ndarray, frame_length: int = FRAME) -> float:
    """The energy (sum of squares) of the loudest whole frame."""
    frames = pcm.size // frame_length
    if frames == 0:
        raise ValueError(f"{pcm.size} samples: shorter than one frame of {frame_length}")
    return float((pcm[: frames * frame_length].reshape(frames, frame_length) ** 2).sum(axis=1).max())


def noise_scale(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> float:
    """What the noise is multiplied by so that the loudest frames stand ``snr_db`` apart."""
    if speech.shape != noise.shape:
        raise ValueError(f"speech of {speech.size} samples, noise of {noise.size}: they must be as long")
    return float(np.sqrt(max_frame_energy(speech) / (max_frame_energy(noise) * 10 ** (snr_db / 10))))


def noise_segment(noise: np.ndarray, length: int, seed: str) -> np.ndarray:
    """``length`` samples of ``noise`` from a start drawn with ``seed``."""
    if length >= noise.size:
        raise ValueError(f"a recording of {length} samples is not shorter than the noise ({noise.size})")
    start = int(np.random.default_rng(zlib.crc32(seed.encode())).integers(0, noise.size - length))
    return noise[start : start + length]


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float, name: str) -> np.ndarray:
    """``speech`` with ``noise`` laid under it at ``snr_db``; the same ``name`` and SNR give the same mix."""
    segment = noise_segment(noise, speech.size, f"{name}@{snr_db:g}")
    mixed = speech + noise_scale(speech, segment, snr_db) * segment
    return (mixed / (2 * np.abs(mixed).max())).astype(np.float32)
