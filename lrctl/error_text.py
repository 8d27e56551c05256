"""How another library's exception reads inside one of lrctl's one-line messages."""

from __future__ import annotations


def first_line(err: BaseException) -> str:
    """The first line of `err`'s message ("" when it has none)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else ""


def describe(err: BaseException) -> str:
    """`TypeName: first line of the message`, or `TypeName` alone when the message is empty."""
    line = first_line(err)
    return f"{type(err).__name__}: {line}" if line else type(err).__name__
