"""The dialogue benchmark's measurements, with the shipped router on a few of its own records."""

from __future__ import annotations

from assistant.routing.router import load_local_router
from assistant.runtime.pack import load_pack
from benchmarks.dialogue.__main__ import SETS, previous_turn_cost, with_unrelated_turn
from finetune.records import read_records

PACK = load_pack()


def test_the_previous_turn_cost_compares_each_utterance_with_itself_alone() -> None:
    single = read_records(SETS / "fresh_utterances.jsonl", PACK)[::90][:6]  # several skills
    paired = with_unrelated_turn(single, PACK)
    assert all(
        p.user == s.user and p.context is not None and p.context.calls[0].name != s.calls[0].name
        for p, s in zip(paired, single, strict=True)
    )
    cost = previous_turn_cost(load_local_router(PACK), paired)
    assert cost["of"] == 6 and 0 < cost["pairs"] <= 6  # short commands decode alike with and without the turn
    assert 0.2 < cost["ratio_p50"] < 5
