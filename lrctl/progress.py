"""Progress of a long batch of runs: a tqdm bar on a terminal, plain lines in a log.

tqdm draws nothing when its stream is not a terminal, so an evaluation started with `nohup ... > log`
would say nothing for an hour. There each tenth of the work gets one line with the elapsed time and an
estimate of the time left.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

LINES_PER_BATCH = 10

Progress = Callable[[int], None]
"""`advance(n)`: told that `n` more runs have finished."""

ProgressFactory = Callable[[int, str], Progress]
"""`factory(total, label)`: the `Progress` of a batch of `total` runs called `label`."""


def progress_reporter(total: int, label: str, stream: TextIO | None = None,
                      clock: Callable[[], float] = time.monotonic) -> Progress:
    """`advance(n)`, to be called as `n` more of `total` runs of `label` finish.

    On a terminal it moves a tqdm bar; elsewhere it writes a line such as
    ``evaluation: 12/40 runs, 3m10s elapsed, about 7m24s left`` each time another tenth of `total` is done.
    """
    stream = sys.stderr if stream is None else stream
    if stream.isatty():
        return _tqdm_bar(total, label, stream)
    return _line_reporter(total, label, stream, clock)


def _tqdm_bar(total: int, label: str, stream: TextIO) -> Progress:
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit="run", file=stream)

    def advance(n: int) -> None:
        bar.update(n)
        if bar.n >= total:
            bar.close()

    return advance


def _line_reporter(total: int, label: str, stream: TextIO, clock: Callable[[], float]) -> Progress:
    start = clock()
    done = 0
    reported_tenths = 0

    def advance(n: int) -> None:
        nonlocal done, reported_tenths
        done = min(total, done + n)
        tenths = done * LINES_PER_BATCH // total if total else LINES_PER_BATCH
        if tenths <= reported_tenths:
            return
        reported_tenths = tenths
        elapsed = clock() - start
        line = f"{label}: {done}/{total} runs, {_duration(elapsed)} elapsed"
        if done < total:
            line += f", about {_duration(elapsed * (total - done) / done)} left"
        print(line, file=stream, flush=True)

    return advance


def _duration(seconds: float) -> str:
    """`seconds` as 42s, 3m10s or 1h05m."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
