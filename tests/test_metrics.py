"""eval metrics on hand-built predictions whose answers are known."""

from __future__ import annotations

import pytest

from assistant.routing.calls import Call, Calls
from finetune.metrics import Prediction, confirm_curve, curve_thresholds, paired_difference, score, wilson

WEATHER_BERLIN = Call("weather", (("location", "Berlin"), ("day", "tomorrow")))
OTHER = Call("other")


def p(expected: Call | Calls, predicted: Call | Calls, parsed: bool = True, latency: float = 10.0) -> Prediction:
    expected, predicted = (c if isinstance(c, Calls) else Calls([c]) for c in (expected, predicted))
    return Prediction("u", expected, predicted, parsed, latency, raw="garbage" if not parsed else str(predicted))


def test_perfect_predictions() -> None:
    metrics = score([p(WEATHER_BERLIN, WEATHER_BERLIN), p(OTHER, OTHER)])
    assert metrics["exact_call_accuracy"] == metrics["skill_accuracy"] == metrics["parse_rate"] == 1.0
    assert metrics["argument_f1"] == 1.0
    assert metrics["false_activation_rate"] == metrics["missed_command_rate"] == 0.0


def test_known_mixture() -> None:
    wrong_day = Call("weather", (("location", "Berlin"), ("day", "friday")))
    timer = Call("timer", (("duration", "five minutes"),))
    predictions = [
        p(WEATHER_BERLIN, WEATHER_BERLIN, latency=10),  # right: 2 true-positive arguments
        p(WEATHER_BERLIN, wrong_day, latency=20),  # skill right, one argument wrong
        p(timer, OTHER, latency=30),  # missed command
        p(OTHER, timer, latency=40),  # false activation
        p(OTHER, OTHER, parsed=False, latency=50),  # unparseable counts as wrong everywhere
    ]
    metrics = score(predictions)
    assert metrics["n"] == 5
    assert metrics["parse_rate"] == pytest.approx(4 / 5)
    assert metrics["skill_accuracy"] == pytest.approx(2 / 5)
    assert metrics["exact_call_accuracy"] == pytest.approx(1 / 5)
    # arguments: tp = 2 + 1 = 3; fp = 1 (friday) + 1 (timer's duration under other) = 2; fn = 1 (tomorrow) + 1 = 2
    assert metrics["argument_precision"] == pytest.approx(3 / 5)
    assert metrics["argument_recall"] == pytest.approx(3 / 5)
    assert metrics["argument_f1"] == pytest.approx(3 / 5)
    assert metrics["false_activation_rate"] == pytest.approx(1 / 2)  # the timer; unparsed output does nothing
    assert metrics["missed_command_rate"] == pytest.approx(1 / 3)
    assert metrics["served_accuracy"] == pytest.approx(1 / 3)  # of the three that expect an action, one right
    assert metrics["latency_ms_p50"] == 30 and metrics["latency_ms_p95"] == 50
    assert metrics["per_skill"]["weather"] == {
        "n": 2,
        "skill_accuracy": 1.0,
        "exact_call_accuracy": 0.5,
        "resolved_call_accuracy": 0.5,
    }
    assert metrics["confusion"]["other"] == {"timer": 1, "(unparsed)": 1}
    assert metrics["predictions"][4] == {
        "user": "u",
        "expected": "other()",
        "predicted": "garbage",
        "correct": False,
        "resolved_correct": False,
        "latency_ms": 50.0,
        "confidence": 1.0,
        "confirmable": False,
    }


def test_an_honest_refusal_is_no_activation_and_acting_on_a_request_the_pack_cannot_do_is_counted() -> None:
    cant_do, timer = Call("cant_do"), Call("timer", (("duration", "five minutes"),))
    metrics = score(
        [
            p(OTHER, cant_do),  # overheard talk refused aloud: not an action, counted apart
            p(OTHER, OTHER),
            p(cant_do, timer),  # "remove my alarm" taken for a timer: acted on
            p(cant_do, cant_do),
            p(cant_do, OTHER),  # silence where a refusal was right: wrong, but no action
            p(timer, cant_do),  # a refused command is a missed one
        ]
    )
    assert metrics["false_activation_rate"] == 0.0
    assert metrics["refused_overheard_rate"] == pytest.approx(1 / 2)
    assert metrics["acted_on_cant_do_rate"] == pytest.approx(1 / 3)
    assert metrics["missed_command_rate"] == 1.0 and metrics["served_accuracy"] == 0.0
    assert metrics["exact_call_accuracy"] == pytest.approx(2 / 6)


def test_packs_without_other_have_no_activation_rates() -> None:
    metrics = score([p(WEATHER_BERLIN, WEATHER_BERLIN)])
    assert metrics["false_activation_rate"] is None and metrics["missed_command_rate"] is None


def test_empty_input_gives_no_numbers_rather_than_errors() -> None:
    metrics = score([])
    assert metrics["n"] == 0 and metrics["exact_call_accuracy"] is None and metrics["latency_ms_p50"] is None


def test_resolved_accuracy_counts_calls_that_resolve_to_the_same_action() -> None:
    said = Call("timer", (("duration", "ninety seconds"),))
    labelled = Call("timer", (("duration", "a minute and a half"),))
    one = Calls([labelled])
    predictions = [
        Prediction("u", one, Calls([said]), True, 1.0, resolved_same=(True,)),  # same action, other words
        Prediction("u", one, one, True, 1.0, resolved_same=(True,)),
        Prediction("u", one, Calls([OTHER]), True, 1.0, resolved_same=(False,)),
        Prediction("u", one, Calls([said]), False, 1.0, resolved_same=(True,)),  # unparsed output never counts
    ]
    metrics = score(predictions)
    assert metrics["exact_call_accuracy"] == pytest.approx(1 / 4)
    assert metrics["resolved_call_accuracy"] == pytest.approx(2 / 4)


def test_several_calls_are_right_only_all_together_and_in_order() -> None:
    timer = Call("timer", (("duration", "five minutes"),))
    both = Calls([timer, WEATHER_BERLIN])
    predictions = [
        p(both, both),  # 2 of 2 calls right
        p(both, Calls([WEATHER_BERLIN, timer])),  # wrong order: no call at its place
        p(both, Calls([timer])),  # one dropped: 1 of 2
        p(Calls([timer]), Calls([timer, OTHER])),  # one too many: 1 of 2 places
    ]
    metrics = score(predictions)
    assert metrics["exact_call_accuracy"] == pytest.approx(1 / 4)
    assert metrics["per_call_accuracy"] == pytest.approx((2 + 0 + 1 + 1) / (2 + 2 + 2 + 2))
    assert metrics["per_skill"]["(2 calls)"]["n"] == 3 and metrics["per_skill"]["timer"]["n"] == 1


def test_wilson_interval_matches_a_known_value_and_stays_in_bounds() -> None:
    known, none_right, all_right = wilson(90, 100), wilson(0, 10), wilson(10, 10)
    assert known is not None and none_right is not None and all_right is not None  # n > 0: an interval
    low, high = known
    assert low == pytest.approx(0.8256, abs=1e-3) and high == pytest.approx(0.9448, abs=1e-3)
    assert none_right[0] == 0.0 and all_right[1] == 1.0 and wilson(0, 0) is None


def test_the_confirm_curve_trades_questions_for_wrong_actions() -> None:
    def timer(duration: str) -> Calls:
        return Calls([Call("timer", (("duration", duration),))])

    ten, five = timer("ten minutes"), timer("five minutes")
    predictions = [
        Prediction("u", ten, ten, True, 1.0, confidence=0.93, confirmable=True),  # right
        Prediction("u", five, ten, True, 1.0, confidence=0.31, confirmable=True),  # wrong
        Prediction("u", Calls([OTHER]), Calls([Call("timecheck")]), True, 1.0, confidence=0.2),  # wrong, never asked
        Prediction("u", Calls([OTHER]), Calls([OTHER]), True, 1.0, confidence=0.1),  # no action
        Prediction("u", five, five, True, 1.0, confidence=0.57, confirmable=True),  # right
    ]
    rows = confirm_curve(predictions, [0.0, 0.4, 0.6, 1.0])
    assert [(r["asked"], r["wrong_actions_left"], r["right_actions_asked"]) for r in rows] == [
        (0, 2, 0),
        (1, 1, 0),
        (2, 1, 1),
        (3, 1, 2),
    ]
    assert [(r["asked_rate"], r["wrong_actions_left_rate"], r["right_actions_asked_rate"]) for r in rows] == [
        (0.0, 2 / 5, 0.0),
        (1 / 4, 1 / 5, 0.0),
        (2 / 4, 1 / 5, 1 / 2),
        (3 / 4, 1 / 5, 1.0),
    ]
    thresholds = curve_thresholds(predictions)  # the 20 steps and the deciles of what may be asked about
    assert len(thresholds) == 23 and {0.0, 0.31, 0.57, 0.93, 0.95} <= set(thresholds) and 1.0 not in thresholds
    assert confirm_curve([], [0.5]) == [
        {
            "threshold": 0.5,
            "asked": 0,
            "asked_rate": None,
            "wrong_actions_left": 0,
            "wrong_actions_left_rate": None,
            "right_actions_asked": 0,
            "right_actions_asked_rate": None,
        }
    ]


def test_a_paired_difference_counts_only_the_items_where_the_two_disagree() -> None:
    first = {f"r{i}": True for i in range(100)}
    second = {**first, "r0": False, "r1": False, "r2": False, "r3": False, "extra": True}
    difference, low, high, n = paired_difference(first, second)
    assert (difference, n) == (0.04, 100)  # "extra" was scored by one only
    assert low == pytest.approx(0.04 - 1.96 * (4 - 16 / 100) ** 0.5 / 100) and high > difference
    assert paired_difference(first, first)[:3] == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="no item scored in both"):
        paired_difference(first, {"x": True})
