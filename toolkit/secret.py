"""A wrapper that keeps a password or token out of every printed form.

A `Secret` prints as a mask in `repr`, `str` and f-strings, refuses pickling and
JSON encoding, and hands out its value only through `reveal()`, so a call site
that sends the secret to a server is easy to find with grep.
"""

from __future__ import annotations

from typing import NoReturn

MASK = "********"


class Secret:
    """A password, app password or OAuth2 token that must never be printed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a secret must be a str")
        self._value = value

    def reveal(self) -> str:
        """Return the clear value, for the one call that sends it to a server."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: object) -> Secret:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("a secret cannot be pickled or copied to another process")
