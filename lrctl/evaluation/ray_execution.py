"""Evaluation runs as Ray tasks: submit them all, gather results in submission order.

Ray retries a task whose worker or node was lost (`max_retries`); a run is a pure function of its task,
so a retried run gives the same result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from lrctl.progress import Progress

Item = TypeVar("Item")
Result = TypeVar("Result")


def _with_threads(fn: Callable[[Any], Any], threads: int, item: Any) -> Any:
    import torch

    torch.set_num_threads(threads)
    return fn(item)


def map_on_ray(fn: Callable[[Item], Result], items: Sequence[Item], *, threads: int = 1,
               progress: Progress | None = None, weight: Callable[[Item], int] = lambda _: 1,
               ) -> list[Result]:
    """`[fn(item) for item in items]`, each call a Ray task reserving `threads` CPUs and running with that
    many torch threads, on the Ray this process is connected to. `progress(weight(item))` is called as
    each finishes."""
    import ray

    remote = ray.remote(_with_threads).options(num_cpus=threads, max_retries=3)
    pending = {remote.remote(fn, threads, item): i for i, item in enumerate(items)}
    results: list[Any] = [None] * len(items)
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            i = pending.pop(ref)
            results[i] = ray.get(ref)
            if progress:
                progress(weight(items[i]))
    return results
