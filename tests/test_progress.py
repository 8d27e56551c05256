"""Progress of a batch of runs: one line per tenth in a log, a bar on a terminal."""

import io

from lrctl.progress import progress_reporter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_line_per_tenth_with_elapsed_and_left():
    stream, clock = io.StringIO(), FakeClock()
    advance = progress_reporter(40, "evaluation", stream, clock)
    for _ in range(40):
        clock.now += 15.0
        advance(1)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0] == "evaluation: 4/40 runs, 1m00s elapsed, about 9m00s left"
    assert lines[-1] == "evaluation: 40/40 runs, 10m00s elapsed"


def test_runs_finishing_together_report_once_and_never_past_the_total():
    stream, clock = io.StringIO(), FakeClock()
    advance = progress_reporter(8, "tuning", stream, clock)
    clock.now += 7200.0
    advance(5)
    advance(5)
    assert stream.getvalue().splitlines() == ["tuning: 5/8 runs, 2h00m elapsed, about 1h12m left",
                                              "tuning: 8/8 runs, 2h00m elapsed"]


def test_a_terminal_gets_a_bar_instead_of_lines():
    stream = Terminal()
    advance = progress_reporter(3, "evaluation", stream, FakeClock())
    for _ in range(3):
        advance(1)
    text = stream.getvalue()
    assert "3/3" in text and "runs," not in text
