"""Spoken numbers: the number said, or None when the words are not one number (never word2number's guess)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from assistant.runtime.spoken_numbers import spoken_amount, spoken_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("twenty five", 25),
        ("twenty-five", 25),
        ("one hundred and two", 102),
        ("twelve hundred", 1200),
        ("a thousand", 1000),
        ("thousand one", 1001),
        ("one thousand and five", 1005),
        ("400 thousand", 400_000),  # word2number: 1000
        ("1 million twelve hundred", 1_001_200),  # word2number: IndexError
        ("two million three thousand", 2_003_000),  # word2number: 2004003
        ("twelve hundred thousand", 1_200_000),
        ("1.5 million", 1_500_000),
        ("three point one four", Fraction("3.14")),
        ("point five", Fraction("0.5")),
        ("zero", 0),
        ("17", 17),
    ],
)
def test_a_number_said(text: str, value: Fraction) -> None:
    assert spoken_number(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "two three",
        "thousand million",
        "million thousand million",
        "hundred hundred",
        "point",
        "one point",
        "forty fifty",
        "one thousand twelve hundred",
        "three quarters",
        "1" * 31 + " million",
        "banana",
    ],
)
def test_words_that_are_not_one_number(text: str) -> None:
    assert spoken_number(text) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("half", Fraction(1, 2)),
        ("a quarter", Fraction(1, 4)),
        ("one half", Fraction(1, 2)),
        ("three quarters", Fraction(3, 4)),  # word2number: 3
        ("two thirds", Fraction(2, 3)),
        ("twelve and a half", Fraction(25, 2)),  # word2number: 12
        ("1 and a half", Fraction(3, 2)),
        ("two and three quarters", Fraction(11, 4)),
        ("one hundred and two and a half", Fraction(205, 2)),
        ("seven", 7),
    ],
)
def test_an_amount_is_a_number_a_fraction_or_both(text: str, value: Fraction) -> None:
    assert spoken_amount(text) == value


@pytest.mark.parametrize("text", ["and a half", "twelve and a half and a half", "a half quarter", "zero halves"])
def test_amounts_that_are_not_one(text: str) -> None:
    assert spoken_amount(text) is None
