"""Checks on configured values, shared by the config schema and the registries that own their names.

Each raises a `ConfigError` whose one line names the key, the bad value and what is allowed.
"""

from __future__ import annotations

import typing

from lrctl.errors import ConfigError
from lrctl.strict_yaml import excerpt

SEED_LIMIT = 2**31
"""Seeds lie in [0, 2**31): a run's seed plus its timesteps (resume) stays a valid NumPy seed."""


def check_choice(key: str, value: str, allowed: typing.Iterable[str]) -> None:
    """A ConfigError unless `value` is one of `allowed`."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(f"{key}: unknown value {excerpt(value)}; allowed: {', '.join(allowed)}")


def check_positive(key: str, value: float) -> None:
    """A ConfigError unless `value` > 0."""
    if not value > 0:
        raise ConfigError(f"{key}: must be > 0, got {excerpt(value)}")


def check_at_most(key: str, value: float, limit: float) -> None:
    """A ConfigError if `value` exceeds `limit` (a typo that would train without end)."""
    if value > limit:
        raise ConfigError(f"{key}: {excerpt(value)} is above the limit {limit:,}; lower it")


def check_seed(key: str, seed: int) -> None:
    """A ConfigError unless `seed` lies in [0, SEED_LIMIT)."""
    if not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"{key}: {excerpt(seed)} is out of range; seeds are integers in [0, 2**31)")


def check_distinct(key: str, values: typing.Sequence[object]) -> None:
    """A ConfigError naming the first value that `values` repeats (it would count twice)."""
    seen: set[object] = set()
    for value in values:
        if value in seen:
            raise ConfigError(f"{key}: {excerpt(value)} is listed twice; list each value once")
        seen.add(value)
