"""A spoken name to one of a closed set of names, by spelling and then by sound.

Whisper writes a name it does not know as words it does: "fire fox", "spot a fly", "calculate her". Such a
name is close to the one meant in how it sounds more than in how it is spelt, so a name not found by spelling
(rapidfuzz's WRatio) is looked up by its Metaphone code (jellyfish), spaces aside. Short codes sound like too
much ("flick" and "VLC" are both FLK), so a code is compared only from :data:`MIN_SOUND_CODE` letters on.
"""

from __future__ import annotations

from collections.abc import Iterable

import jellyfish
from rapidfuzz import fuzz, process

SPELLING_SCORE = 85  # rapidfuzz WRatio (0-100) a spoken name needs to select a name by spelling
SOUND_SCORE = 85  # rapidfuzz ratio of the Metaphone codes, spaces aside, to select it by sound
MIN_SOUND_CODE = 4  # letters of Metaphone code below which sound alone selects nothing


def closest_name(spoken: str, names: Iterable[str]) -> str | None:
    """The name of ``names`` that ``spoken`` means: by spelling, else by sound; None when none is close."""
    names = list(names)
    if not spoken or not names:
        return None
    spelled = process.extractOne(spoken, names, scorer=fuzz.WRatio, score_cutoff=SPELLING_SCORE)
    if spelled is not None:
        return str(spelled[0])
    code = _sound(spoken)
    if len(code) < MIN_SOUND_CODE:
        return None
    codes = {name: _sound(name) for name in names}
    sounded = process.extractOne(
        code,
        {name: value for name, value in codes.items() if len(value) >= MIN_SOUND_CODE},
        scorer=fuzz.ratio,
        score_cutoff=SOUND_SCORE,
    )
    return None if sounded is None else str(sounded[2])


def _sound(name: str) -> str:
    return str(jellyfish.metaphone("".join(name.split())))
