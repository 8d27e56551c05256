"""A measurement that chooses nothing (ablation step 50): how close to the tuned oracle can a schedule
get on the transfer benchmark's digits-short (200 steps, a decision every 5) if it climbs from the start
at a given factor per decision to a given peak and then decays linearly to zero?

The factor is the short-budget member's cap on a 40-decision budget: 1.1 ** (cap_decisions / 40), 1.61
at the shipped 200 decisions and 2.59 at 400. The runs are the benchmark's (its evaluation seeds, the
same children and batches); the oracle's mean loss is read from `transfer-general/results.csv`.

usage: python docs/results/short-climb-bound/climb_bound.py
"""

import csv
from pathlib import Path

import numpy as np
from torch.optim.lr_scheduler import LambdaLR

import lrctl.evaluation.runner as runner
from lrctl.evaluation.methods import Driver, MethodSpec, build_driver
from lrctl.evaluation.setup import resolve_environment
from lrctl.evaluation.transfer import family_seeds
from lrctl.evaluation.transfer_families import FAMILIES

FAMILY, FAMILY_INDEX, SEEDS = "digits-short", 5, 5
RESULTS = Path(__file__).parents[1] / "transfer-general" / "results.csv"


def oracle_loss() -> float:
    with RESULTS.open() as f:
        row = next(r for r in csv.DictReader(f) if r["family"] == FAMILY and r["method"] == "learned")
    return float(row["mean_final_val_loss"]) / (1 + float(row["regret"]))


def with_climbs(spec, model, optimizer, initial_lr, budget):
    """`build_driver`, plus the kind "climb": multiply the LR by `factor` per decision up to `peak`, then
    decay it linearly to zero at the end of the budget."""
    if spec.kind != "climb":
        return build_driver(spec, model, optimizer, initial_lr, budget)
    steps, k = budget.steps, budget.steps_per_action
    peak, factor = spec.params["peak"], spec.params["factor"]
    top = peak / initial_lr
    t_peak = k * max(0, int(np.ceil(np.log(top) / np.log(factor))))

    def shape(t: int) -> float:
        if t < t_peak:
            return min(top, factor ** (t // k))
        return top * max(0.0, 1 - (t - t_peak) / max(1, steps - t_peak))

    return Driver(optimizer, LambdaLR(optimizer, shape))


def main() -> None:
    runner.build_driver = with_climbs
    env, _ = resolve_environment(FAMILIES[FAMILY], policy="lrctl/policies/general.pt")
    seeds, oracle = family_seeds(FAMILY_INDEX, SEEDS), oracle_loss()
    print(f"{FAMILY}: oracle mean final validation loss {oracle:.4f}")
    print("| climb per decision (cap) | peak | from 1e-2 | from 1e-3 | from 1e-4 |")
    print("| --- | --- | --- | --- | --- |")
    for cap in (200, 400):
        factor = 1.1 ** (cap / 40)
        for peak in (1e-2, 2e-2):
            spec = MethodSpec("climb", "climb", {"peak": peak, "factor": factor})
            cells = []
            for lr in (1e-2, 1e-3, 1e-4):
                loss = np.mean([runner.run_task(runner.Task(env, spec, s, lr)).final["final_val_loss"] for s in seeds])
                cells.append(f"{loss:.4f} ({loss / oracle - 1:+.1%})")
            print(f"| {factor:.2f} ({cap}) | {peak:g} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
