"""Helpers shared by the command modules: KEY=VALUE, NAME[:VERSION] and positive-number arguments, tables, JSON."""

import argparse
import json
import sys

from training.errors import InvalidArgument


def key_value(text: str) -> tuple[str, str]:
    """argparse type for ``KEY=VALUE`` (the value may contain '=' and be empty; the key may not be empty)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def add_key_value_option(parser: argparse.ArgumentParser, flag: str, help: str) -> None:
    """Add a repeatable ``flag KEY=VALUE`` option collected as a list of ``(key, value)`` pairs (default: [])."""
    parser.add_argument(flag, type=key_value, action="append", default=[], metavar="KEY=VALUE", help=help)


def refuse_ignored(options: dict[str, object], where: str, hint: str) -> None:
    """Refuse options (``{flag: parsed value}``) given where they would do nothing, rather than ignore them silently.

    An option counts as given when its value is not None or False (so such options default to None or False).

    Raises ``InvalidArgument`` naming them, ``where`` they have no effect, and the ``hint`` (what they need).
    """
    given = [flag for flag, value in options.items() if value is not None and value is not False]
    if given:
        raise InvalidArgument(f"{', '.join(given)} {'has' if len(given) == 1 else 'have'} no effect {where}: {hint}.")


def model_ref(text: str) -> tuple[str, int | None]:
    """Split ``NAME[:VERSION]`` into the name and the version (None = latest).

    Raises ``InvalidArgument`` when VERSION is not an integer >= 1.
    """
    name, sep, version = text.partition(":")
    if not sep:
        return name, None
    if not version.isdigit() or int(version) < 1:
        raise InvalidArgument(f"Invalid model reference {text!r}: expected NAME or NAME:VERSION with VERSION an "
                              f"integer >= 1, e.g. sklearn-iris:3.")
    return name, int(version)


def print_json(data) -> None:
    """Write ``data`` as indented JSON to stdout."""
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def print_table(headers: list[str], rows: list[list]) -> None:
    """Write an aligned plain-text table to stdout ("(none)" when there are no rows)."""
    if not rows:
        print("(none)")
        return
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def format_pairs(values: dict) -> str:
    """``k=v,k2=v2`` for a table cell."""
    return ",".join(f"{key}={value}" for key, value in values.items())
