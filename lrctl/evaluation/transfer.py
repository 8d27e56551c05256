"""The held-out transfer benchmark: a policy against the schedules and learning-rate-free optimizers a
user would otherwise pick, on task families it never trained on (`transfer_families`), each with its
own seeds.

Per (family, initial LR) it reports the policy's rank among the methods that start from the same LR
(constant, step decay, cosine, linear, OneCycle) and every method's regret to the tuned oracle (mean
final validation loss / the oracle's - 1, with its paired-bootstrap interval). The oracle is tuned on
the tuning seeds, as in `lrctl evaluate`; nothing here is chosen on the benchmark's seeds.

Example:
    >>> from lrctl.evaluation.transfer import SAME_START, family_seeds
    >>> SAME_START
    ('constant', 'step-decay', 'cosine', 'linear', 'onecycle')
    >>> family_seeds(1, 3)
    (501000, 501001, 501002)
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from lrctl.evaluation.methods import ORACLE
from lrctl.evaluation.protocol import EvaluationResult
from lrctl.evaluation.records import RunResult, paired_final_losses
from lrctl.evaluation.statistics import Interval, regret_interval

LEARNED = "learned"
SAME_START = ("constant", "step-decay", "cosine", "linear", "onecycle")
"""The schedules that start from the user's initial LR: the policy is ranked among them."""
LR_FREE = ("schedule-free", "prodigy", "d-adaptation")
"""The learning-rate-free peers (`--baselines` names), compared by their regret."""
BASELINES = (*SAME_START, *LR_FREE, "oracle")
"""What the benchmark runs beside the policy (`lrctl evaluate --baselines` names)."""
SEED_BASE, SEED_STRIDE = 500_000, 1_000
"""Family i's evaluation seeds are SEED_BASE + i * SEED_STRIDE onward: apart from every other seed lrctl uses."""
WITHIN = 0.05
"""A cell counts as "within" when its regret is at most 5%."""


def family_seeds(index: int, count: int) -> tuple[int, ...]:
    """The evaluation seeds of the family at `index` in the benchmark's order."""
    start = SEED_BASE + index * SEED_STRIDE
    return tuple(range(start, start + count))


@dataclass
class Cell:
    """One (family, initial LR) of the benchmark."""

    family: str
    initial_lr: float
    oracle: tuple[str, float]
    """The tuned oracle's schedule and LR."""
    mean_loss: dict[str, float]
    """Each method's mean final validation loss over the seeds (+inf where a run diverged)."""
    regret: dict[str, Interval] = field(default_factory=dict)
    """Each method's regret to the oracle."""

    @property
    def rank(self) -> int:
        """The policy's rank among the same-start methods: 1 is best; a tie counts in its favour."""
        mine = self.mean_loss[LEARNED]
        return 1 + sum(self.mean_loss[m] < mine for m in SAME_START if m in self.mean_loss)

    @property
    def best_same_start(self) -> str:
        """The same-start schedule with the lowest mean loss."""
        return min((m for m in SAME_START if m in self.mean_loss), key=self.mean_loss.__getitem__)

    @property
    def behind_best_same_start(self) -> float:
        """The policy's mean loss / the best same-start schedule's - 1 (negative: the policy is ahead)."""
        return self.mean_loss[LEARNED] / self.mean_loss[self.best_same_start] - 1.0


def _family_of(name: str) -> str:
    """The `--baselines` name of a result's method (schedule-free runs carry their optimizer's name)."""
    return "schedule-free" if name.startswith("schedule-free") else "oracle" if name == ORACLE else name


def cells_of(family: str, result: EvaluationResult) -> list[Cell]:
    """The benchmark's cells of one family's evaluation."""
    if result.oracle is None:
        raise ValueError("the transfer benchmark needs the tuned oracle in the evaluation")
    cells = []
    for lr0 in result.plan.initial_lrs:
        runs: dict[str, list[RunResult]] = {}
        for run in result.runs:
            if run.initial_lr == lr0:
                runs.setdefault(_family_of(run.method), []).append(run)
        oracle_runs = runs.pop("oracle")
        cell = Cell(family, lr0, result.oracle, {m: statistics.fmean(r.final_val_loss for r in rs)
                                                  for m, rs in runs.items()})
        for method, method_runs in runs.items():
            pairs = paired_final_losses(method_runs, oracle_runs)
            cell.regret[method] = regret_interval([a for a, _ in pairs], [b for _, b in pairs])
        cells.append(cell)
    return cells


def _percent(value: float) -> str:
    return "diverged" if math.isinf(value) else f"{100 * value:+.1f}%"


def _interval(r: Interval) -> str:
    bounds = "" if math.isnan(r.low) else f" [{100 * r.low:+.1f}, {100 * r.high:+.1f}]"
    return _percent(r.value) + bounds


def _summary_row(name: str, regrets: list[float]) -> str:
    """Median regret (a diverged cell, +inf, counts as the worst), cells within 5%, the worst cell."""
    within = sum(r <= WITHIN for r in regrets)
    return (f"| {name} | {_percent(statistics.median(regrets))} | {within}/{len(regrets)} | "
            f"{_percent(max(regrets))} |")


def transfer_markdown(cells: Sequence[Cell], command: str = "") -> str:
    """The benchmark's report: the goal's measures over all cells, then one row per (family, initial LR)."""
    peers = [m for m in LR_FREE if all(m in c.regret for c in cells)]
    lines = ["# Transfer benchmark", ""]
    if command:
        lines += ["```bash", command, "```", ""]
    first = sum(c.rank == 1 for c in cells)
    own_lr = [c for c in cells if math.isclose(c.initial_lr, c.oracle[1])]
    lines += [f"{len(cells)} cells ((family, initial LR)), {len({c.family for c in cells})} families never trained on.",
              "",
              f"- learned policy first among the same-start schedules in {first}/{len(cells)} cells; "
              f"mean rank {statistics.fmean(c.rank for c in cells):.2f} of {1 + len(SAME_START)}.",
              f"- where the start is the oracle's own LR ({len(own_lr)} cells): the policy at most "
              f"{_percent(max((c.behind_best_same_start for c in own_lr), default=math.nan))} behind the best "
              "same-start schedule." if own_lr else "- no cell starts at the oracle's own LR.",
              "",
              "Regret to the tuned oracle over all cells:", "",
              "| method | median regret | within 5% | worst |", "| --- | --- | --- | --- |"]
    for method in (LEARNED, *SAME_START, *peers):
        lines.append(_summary_row(method, [c.regret[method].value for c in cells]))
    lines += ["", "Per cell: regret to the oracle [95% paired-bootstrap interval] and the policy's rank among "
              "the same-start schedules.", "",
              "| family | initial LR | oracle | rank | learned | best same-start | " + " | ".join(peers) + " |",
              "| --- | --- | --- | --- | --- | --- |" + " --- |" * len(peers)]
    for c in cells:
        best = c.best_same_start
        peer_cells = " | ".join(_interval(c.regret[m]) for m in peers)
        lines.append(f"| {c.family} | {c.initial_lr:g} | {c.oracle[0]} {c.oracle[1]:g} | {c.rank} | "
                     f"{_interval(c.regret[LEARNED])} | {best} {_percent(c.regret[best].value)} | {peer_cells} |")
    return "\n".join(lines) + "\n"


TRANSFER_FIELDS = ("family", "initial_lr", "method", "mean_final_val_loss", "regret", "regret_low", "regret_high",
                   "learned_rank", "oracle_schedule", "oracle_lr")


def transfer_csv(cells: Sequence[Cell]) -> str:
    """One row per (family, initial LR, method)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TRANSFER_FIELDS)
    for c in cells:
        for method, r in c.regret.items():
            writer.writerow([c.family, repr(c.initial_lr), method, repr(c.mean_loss[method]), repr(r.value),
                             repr(r.low), repr(r.high), c.rank, c.oracle[0], repr(c.oracle[1])])
    return buffer.getvalue()
