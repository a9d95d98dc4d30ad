"""The barista benchmark's parts on the real recordings: the pack is the benchmark's grammar, the mix is the
benchmark's mix, the score is the benchmark's score."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from assistant import load_pack
from assistant.routing.calls import RawCall
from assistant.runtime.example_files import read_example_file
from assistant.voice.audio import read_wav
from assistant.voice.stt import transcript_normalizer
from benchmarks.barista.__main__ import PICOVOICE, noise_clips, recordings
from benchmarks.barista.mix import FRAME, max_frame_energy, mix, noise_scale, noise_segment
from benchmarks.barista.quiet import babble_clips, cut_off, silence_clips
from benchmarks.barista.score import Label, accepted, heard_every_slot, inference, share
from benchmarks.latency import recordings as spoken_commands
from finetune.heard import ValueFinder
from finetune.records import read_records

pytestmark = pytest.mark.skipif(not PICOVOICE.is_dir(), reason="the recordings live in ../shared/data/picovoice")
EXAMPLES = Path(__file__).resolve().parents[1] / "benchmarks" / "barista" / "examples"
PACK = load_pack("benchmarks.barista.skills", EXAMPLES)
CLIP = "3d13959a-4c40-4af9-bc07-5d15ff4e36c3.wav"


def test_the_pack_takes_the_grammars_slots_and_values_as_its_choices() -> None:
    grammar = yaml.safe_load((PICOVOICE / "coffee_maker.yaml").read_text())["context"]
    order = PACK.skills["orderDrink"]
    choices = {parameter.name: parameter.choices for parameter in order.parameters}
    assert choices == {slot: tuple(values) for slot, values in grammar["slots"].items()}
    assert set(PACK.skills) == {"orderDrink", "other"}
    assert [p.name for p in order.parameters if p.required] == ["coffeeDrink"]  # the only slot every expression says


def test_the_example_files_template_says_every_wording_of_the_grammar() -> None:
    from hassil.parse_expression import parse_sentence
    from hassil.sample import sample_expression

    examples = read_example_file(EXAMPLES / "orderDrink_examples.txt", PACK)
    (template,) = examples.templates
    forms = {
        " ".join(f.split()) for f in sample_expression(parse_sentence(template.sentence).expression, expand_lists=False)
    }
    grammar = yaml.safe_load((PICOVOICE / "coffee_maker.yaml").read_text())["context"]["expressions"]["orderDrink"]
    names = {
        "size": "size",
        "roast": "roast",
        "numberOfShots": "shots",
        "coffeeDrink": "drink",
        "milkAmount": "milk",
        "sugarAmount": "sugar",
    }
    wordings = set()
    for expression in grammar:
        for slot, name in names.items():
            expression = expression.replace(f"${slot}:{slot}", f"{{{name}}}")
        prefixes, rest = expression[1:].split("] [a, an] ")
        for prefix in prefixes.split(", "):
            for article in ("a", "an"):
                wordings.add(f"{prefix} {article} {rest}")
    assert forms == wordings  # 1,440: nine openings, two articles, 80 orders of slots


def test_a_mix_stands_the_loudest_frames_the_snr_apart_at_half_scale_and_is_the_same_each_run() -> None:
    speech = read_wav(PICOVOICE / "wav" / CLIP)
    noise = read_wav(PICOVOICE / "kitchen.wav", 600)
    segment = noise_segment(noise, speech.size, f"{CLIP}@12")
    scale = noise_scale(speech, segment, 12)
    assert 10 * np.log10(max_frame_energy(speech) / max_frame_energy(scale * segment)) == pytest.approx(12, abs=1e-6)
    mixed = mix(speech, noise, 12, CLIP)
    assert np.abs(mixed).max() == pytest.approx(0.5, abs=1e-6)
    assert np.array_equal(mixed, mix(speech, noise, 12, CLIP))
    assert not np.array_equal(mixed, mix(speech, noise, 6, CLIP))  # another SNR draws another segment
    expected = speech + scale * segment
    assert np.allclose(mixed, expected / (2 * np.abs(expected).max()), atol=1e-6)
    with pytest.raises(ValueError, match="shorter than one frame"):
        max_frame_energy(speech[: FRAME - 1])
    assert all(np.abs(clip).max() == pytest.approx(0.5, abs=1e-6) for clip in noise_clips(noise, 3))


def test_the_score_is_the_benchmarks_rule() -> None:
    labels = json.loads((PICOVOICE / "label.json").read_text())
    spaced = next(
        Label.of(entry) for entry in labels.values() if any(v.startswith(" ") for v in entry["slots"].values())
    )
    right = PACK.bind(RawCall("orderDrink", (), tuple((k, v.strip()) for k, v in spaced.slots.items())))
    assert accepted(spaced, inference([right]))  # a label's leading space is stripped, as engine.py strips it
    label = Label("orderDrink", {"coffeeDrink": "latte", "size": "large"})
    extra = PACK.parse('orderDrink(coffeeDrink="latte", size="large", roast="dark roast")')
    missing = PACK.parse('orderDrink(coffeeDrink="latte")')
    wrong = PACK.parse('orderDrink(coffeeDrink="mocha", size="large")')
    assert accepted(label, inference([PACK.parse("other()"), extra]))  # extra slots are free; the first order counts
    assert not accepted(label, inference([missing]))
    assert not accepted(label, inference([wrong]))
    assert not accepted(label, inference([PACK.parse("other()")]))
    assert inference([]) is None


def test_a_slot_phrase_is_heard_in_words_or_digits_and_errors_are_blamed() -> None:
    normalize = transcript_normalizer()
    label = Label("orderDrink", {"coffeeDrink": "latte", "size": " twelve ounce"})
    assert heard_every_slot(label, "Can I get a 12 ounce latte?", normalize)
    assert not heard_every_slot(label, "Can I get a 12 ounce lot day?", normalize)
    rows = [
        {"accepted": True, "heard": True, "path": "instant"},
        {"accepted": False, "heard": False, "path": "router"},
        {"accepted": False, "heard": True, "path": "router"},
    ]
    assert share(rows) == {"n": 3, "accepted": 1, "errors": 2, "recogniser_errors": 1, "instant": 1}


def test_the_committed_heard_records_are_orders_and_other_speech_as_whisper_wrote_them() -> None:
    """benchmarks/barista/heard.jsonl (``make barista-heard``): every call valid for the pack, and every choice
    it names re-found in the transcript ("ice mocha" says "iced mocha"), never only in the written sentence."""
    records = read_records(EXAMPLES.parent / "heard.jsonl", PACK)
    orders = [r for r in records if r.calls[0].name == "orderDrink"]
    assert len(records) > 500 and 0.3 < len(orders) / len(records) < 0.7
    assert all(r.split == "train" for r in records)
    assert sum(r.user != r.user.lower() for r in records) > len(records) / 2  # Whisper's capitals, not the data set's
    finder = ValueFinder(transcript_normalizer())
    for order in orders:
        for call in order.calls:
            assert all(finder.find(str(value), order.user) for _, value in call.args), order


def test_the_recordings_are_the_619_present_and_a_fixed_fifth_chooses_settings() -> None:
    found = recordings(PICOVOICE)
    assert len(found) == 619
    fifth = [r.name for r in found if r.in_settings_fifth]
    assert 0.15 < len(fifth) / len(found) < 0.25
    assert fifth == [r.name for r in recordings(PICOVOICE) if r.in_settings_fifth]


def test_the_quiet_clips_say_no_whole_order() -> None:
    silent = list(silence_clips(4))
    assert not silent[0].any() and not silent[2].any()
    assert 0 < np.sqrt(np.mean(np.square(silent[1]))) < 2e-3  # the hiss, about -60 dBFS
    wavs = [PICOVOICE / "wav" / r.name for r in recordings(PICOVOICE)[:20]]
    babble = list(babble_clips(wavs, 2))
    longest = max(read_wav(path).size for path in wavs)
    assert all(
        np.abs(clip).max() == pytest.approx(0.5, abs=1e-6) and clip.size <= longest + 1.5 * 16000 for clip in babble
    )
    assert not np.array_equal(babble[0][:16000], babble[1][:16000])  # other talkers, other offsets
    assert not np.array_equal(next(babble_clips(wavs, 1, seed=1))[:16000], babble[0][:16000])  # another seed
    order = read_wav(PICOVOICE / "wav" / CLIP)
    voiced = np.flatnonzero(spoken_commands.voiced(order))
    cut = cut_off(order)
    assert np.array_equal(cut, order[: cut.size])
    middle = (voiced[0] + voiced[-1] + 1) / 2 * spoken_commands.HOP
    assert abs(cut.size - middle) <= spoken_commands.HOP


def test_comparisons_of_runs_are_kept_one_entry_per_pair(tmp_path: Path) -> None:
    from benchmarks.barista.compare import main as compare

    def run(name: str, right: list[bool]) -> Path:
        path = tmp_path / f"{name}.jsonl"
        rows = [{"name": f"r{i}", "condition": "clean", "accepted": ok, "stt_ms": 100.0} for i, ok in enumerate(right)]
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        return path

    short, window, plain = (
        run("short", [True, True, False]),
        run("window", [True, False, False]),
        run("plain", [False] * 3),
    )
    out = tmp_path / "paired.json"
    compare([str(short), str(window), "--out", str(out)])
    compare([str(short), str(plain), "--out", str(out)])
    compare([str(short), str(window), "--out", str(out)])
    made = json.loads(out.read_text())["comparisons"]
    assert list(made) == ["short - window", "short - plain"]
    assert made["short - window"]["conditions"]["clean"]["difference"] == pytest.approx(1 / 3)
    assert made["short - plain"]["conditions"]["clean"]["difference"] == pytest.approx(2 / 3)
