"""Argument types shared by the benchmark commands (python -m bench, python -m bench.load_times)."""

import argparse


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1, else the usage error (exit 2) names what came."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value
