"""Argument types for the command line that name the value and the fix when it is unusable.

argparse turns the `ArgumentTypeError` raised here into a usage error that names
the option, so every command reports a bad number the same way, with exit code 2.
"""

from __future__ import annotations

import argparse

# Upper bound for a per-stage time limit: longer waits hide a hung server.
MAX_SECONDS = 300.0


def seconds(text: str) -> float:
    """Parse a time limit in seconds, more than 0 and at most 300."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: give seconds as a number, such as 5"
        ) from None
    if not 0 < value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: give seconds from 0.1 to {MAX_SECONDS:g}, such as 5"
        )
    return value


def wait_seconds(text: str) -> float:
    """Parse a waiting time in seconds, from 0 to 600."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: give seconds as a number, such as 30"
        ) from None
    if not 0 <= value <= 600:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: give seconds from 0 to 600, such as 30"
        )
    return value


def positive_int(text: str) -> int:
    """Parse a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: give a whole number, such as 200"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: give 1 or more")
    return value
