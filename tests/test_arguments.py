"""The command-line value types of the training tools: a bad value is refused in one line that names it."""

from __future__ import annotations

import argparse

import pytest

from finetune.arguments import fraction, nonnegative_int, positive


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="tool")
    made.add_argument("--steps", type=positive(int))
    made.add_argument("--timeout", type=positive(float))
    made.add_argument("--share", type=fraction)
    made.add_argument("--compose", type=nonnegative_int)
    return made


def test_good_values_are_read_as_their_kind() -> None:
    args = parser().parse_args(["--steps", "80", "--timeout", "2.5", "--share", "0.3", "--compose", "0"])
    assert (args.steps, args.timeout, args.share, args.compose) == (80, 2.5, 0.3, 0)
    assert isinstance(args.steps, int) and isinstance(args.timeout, float)


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (["--steps", "0"], "argument --steps: must be greater than 0, got 0"),
        (["--timeout", "-1.5"], "argument --timeout: must be greater than 0, got -1.5"),
        (["--steps", "ten"], "argument --steps: invalid int value: 'ten'"),
        (["--share", "1"], "argument --share: must be between 0 and 1 (exclusive), got 1"),
        (["--compose", "-3"], "argument --compose: must be 0 or more, got -3"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_option(given: list[str], said: str, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        parser().parse_args(given)
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"tool: error: {said}"
