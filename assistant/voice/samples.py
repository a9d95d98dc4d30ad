"""The bundled sample recordings: spoken commands for every skill, with the call each should give.

They are espeak-ng speech at 130 words a minute (the default voice at 175 is often misheard by
tiny.en: "What's the weather" becomes "whilst the weather"). Each sentence was kept only when
both Whisper backends transcribe it as written, so a call's string values copy the transcript
(numbers as digits where Whisper writes digits). Regenerate with ``python -m assistant.voice.samples``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assistant.bundled import bundled

SAMPLES_DIR = bundled("samples")
INDEX = "samples.jsonl"
SAMPLE_WPM = 130

# (file stem, sentence spoken, expected call)
SAMPLES: tuple[tuple[str, str, str], ...] = (
    ("weather_paris", "How is the weather in Paris tomorrow?", 'weather(location="Paris", day="tomorrow")'),
    ("weather_chicago", "Will it snow in Chicago on Friday?", 'weather(location="Chicago", day="friday")'),
    ("weather_berlin", "What is the weather like in Berlin?", 'weather(location="Berlin")'),
    ("time_tokyo", "What time is it in Tokyo?", 'timecheck(location="Tokyo")'),
    ("time_here", "What time is it?", "timecheck()"),
    ("timer_ten", "Set a timer for ten minutes.", 'timer(duration="10 minutes")'),
    ("timer_thirty", "Start a timer for thirty seconds.", 'timer(duration="30 seconds")'),
    ("timer_ninety", "Set a timer for an hour and a half.", 'timer(duration="an hour and a half")'),
    ("app_firefox", "Open Firefox.", 'run_app(program="Firefox")'),
    ("app_spotify", "Start Spotify.", 'run_app(program="Spotify")'),
    ("app_calculator", "Please open the calculator.", 'run_app(program="calculator")'),
    ("note_milk", "Take a note, buy milk and eggs.", 'notes(action="add", note="buy milk and eggs")'),
    (
        "note_dentist",
        "Note to self, call the dentist on Monday.",
        'notes(action="add", note="call the dentist on Monday")',
    ),
    ("notes_list", "Read my notes.", 'notes(action="list")'),
    ("math_times", "What is twelve times seven?", 'math(question="12*7")'),
    ("math_root", "What is the square root of one hundred forty four?", 'math(question="sqrt(144)")'),
    ("news_science", "What's the latest science news?", 'news(topic="science")'),
    ("news_headlines", "Read me the headlines.", "news()"),
    (
        "story_robot",
        "Tell me a story about a robot who learns to dance.",
        'story(description="a robot who learns to dance")',
    ),
    (
        "story_cat",
        "Tell me a story about a cat who lives on the moon.",
        'story(description="a cat who lives on the moon")',
    ),
    ("ask_sky", "Why is the sky blue?", 'ask(question="Why is the sky blue?")'),
    ("ask_spider", "How many legs does a spider have?", 'ask(question="How many legs does a spider have?")'),
    ("other_kitchen", "I think we should paint the kitchen yellow.", "other()"),
    ("other_dog", "Did you remember to feed the dog this morning?", "other()"),
)


def load_samples(folder: Path = SAMPLES_DIR) -> list[dict[str, str]]:
    """The records of ``samples.jsonl`` with ``file`` made an absolute path."""
    records = []
    for line in (folder / INDEX).read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            records.append({**record, "file": str(folder / record["file"])})
    return records


def generate(folder: Path = SAMPLES_DIR) -> Path:
    """Synthesize every sample into ``folder`` and write its ``samples.jsonl``."""
    from assistant.voice.tts import synthesize_wav

    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for stem, text, call in SAMPLES:
        synthesize_wav(text, folder / f"{stem}.wav", wpm=SAMPLE_WPM)
        lines.append(json.dumps({"file": f"{stem}.wav", "text": text, "call": call}, ensure_ascii=False))
    (folder / INDEX).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m assistant.voice.samples", description="Regenerate the sample recordings."
    )
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR, help="folder to write (default: %(default)s)")
    print(generate(parser.parse_args(argv).out))


if __name__ == "__main__":
    main()
