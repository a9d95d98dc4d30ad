"""The coffee maker of Picovoice's speech-to-intent benchmark as a skill pack: one skill per intent.

``orderDrink`` takes the six slots of the benchmark's grammar (``coffee_maker.yaml``), named as its
labels, each a ``Literal`` of the grammar's slot values: a misheard value cannot be copied into the
call, and the recogniser is told these words (assistant/voice/vocabulary.py). Speech that is not an
order is the shipped ``other``. These are benchmark skills: an order only answers with its frame.
"""

from __future__ import annotations

from typing import Literal

from assistant import skill
from skills.other import other  # the shipped fallback, taught by examples/other_examples.txt

__all__ = ["order_drink", "other"]

Drink = Literal[
    "americano",
    "cappuccino",
    "espresso",
    "iced mocha",
    "latte",
    "mocha",
    "coffee",
    "drip coffee",
    "house coffee",
    "iced coffee",
]
Size = Literal["small", "medium", "large", "eight ounce", "twelve ounce", "sixteen ounce", "twenty ounce"]
Roast = Literal["light roast", "medium roast", "dark roast"]
Shots = Literal["single shot", "double shot", "triple shot"]
Milk = Literal[
    "milk",
    "a little bit of milk",
    "a bit of milk",
    "some milk",
    "a lot of milk",
    "lots of milk",
    "skim milk",
    "a little bit of skim milk",
    "a bit of skim milk",
    "some skim milk",
    "a lot of skim milk",
    "lots of skim milk",
    "whole milk",
    "a little bit of whole milk",
    "a bit of whole milk",
    "some whole milk",
    "a lot of whole milk",
    "lots of whole milk",
    "soy milk",
    "a little bit of soy milk",
    "a bit of soy milk",
    "some soy milk",
    "a lot of soy milk",
    "lots of soy milk",
    "almond milk",
    "a little bit of almond milk",
    "a bit of almond milk",
    "some almond milk",
    "a lot of almond milk",
    "lots of almond milk",
    "cream",
    "a little bit of cream",
    "a bit of cream",
    "some cream",
    "a lot of cream",
    "lots of cream",
]
Sugar = Literal[
    "sugar",
    "a little bit of sugar",
    "a bit of sugar",
    "some sugar",
    "a lot of sugar",
    "lots of sugar",
    "brown sugar",
    "a little bit of brown sugar",
    "a bit of brown sugar",
    "some brown sugar",
    "a lot of brown sugar",
    "lots of brown sugar",
    "sweetener",
    "a little bit of sweetener",
    "a bit of sweetener",
    "some sweetener",
    "a lot of sweetener",
    "lots of sweetener",
]


@skill(name="orderDrink")
def order_drink(
    coffeeDrink: Drink,
    size: Size | None = None,
    roast: Roast | None = None,
    numberOfShots: Shots | None = None,
    milkAmount: Milk | None = None,
    sugarAmount: Sugar | None = None,
) -> str:
    """order a coffee drink, with its size, roast, shots, milk and sugar"""
    given = [value for value in (size, roast, numberOfShots, coffeeDrink) if value]
    extras = [value for value in (milkAmount, sugarAmount) if value]
    return " ".join(given) + (f" with {' and '.join(extras)}" if extras else "")
