"""Speech mixed with noise at a signal-to-noise ratio, as the Picovoice benchmark's ``src/mix.py`` mixes it.

Its SNR compares the loudest 2,048-sample frame of the speech with the loudest frame of the noise
segment laid under it (not the mean power), the noise segment starts at a random sample, and the
mix is scaled to half of full scale. The start is drawn from a generator seeded by the recording's
name and the SNR, so a mix is the same in every run. The functions live in :mod:`assistant.voice.audio`,
where :mod:`finetune.heard` mixes its training speech the same way.
"""

from __future__ import annotations

from assistant.voice.audio import MIX_FRAME as FRAME
from assistant.voice.audio import max_frame_energy, mix, noise_scale, noise_segment

__all__ = ["FRAME", "max_frame_energy", "mix", "noise_scale", "noise_segment"]
