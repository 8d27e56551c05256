"""Deploy-time rules around the policy file (ablation steps 53 and after), scored on tuning tasks of the
training distribution with budgets of 100 to 250 steps. Each variant of $VARIANTS and the file alone,
from every start, are scored as in `tuning-oracle-split` on EPISODES held-out episodes of each task
against the oracle chosen on the task's own episode. Prints one JSON line per task, the regret summary,
and per variant its paired difference to the file with a 95% bootstrap interval over tasks.

Variants:
- ``probe-linear:B``, ``probe-policy:B``: an LR range test inside the run. The LR is multiplied by GROWTH
  per step from the initial LR while the smoothed training loss stays within 10% of its lowest; at the
  first step where it rises above that (or after a quarter of the budget) the LR is set to that step's
  LR divided by B (not divided where the loss never rose), and the steps left go to a linear decay to
  zero or to the policy file, which starts as at an episode's reset with that LR and budget.
- ``cooldown:F``: over the last fraction F of the budget the policy no longer acts and the LR falls
  linearly from where the policy left it to zero at the budget's end (warm-up-stable-decay's decay).
- ``guard:T``: at the first validation loss more than the fraction T above the lowest one so far, the
  policy no longer acts and the LR falls linearly from a tenth of where the policy left it to zero.

usage: VARIANTS="cooldown:0.2 guard:0.1" GROWTH=1.3 EPISODES=2 \
    python docs/results/short-deploy-rules/deploy_rules.py FIRST_SEED END_SEED POLICY
"""

import math
import os
import runpy
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import torch

import lrctl.evaluation.runner as runner
from lrctl.deploy.scheduler import PolicyScheduler
from lrctl.evaluation.methods import Budget, Driver, MethodSpec, build_driver
from lrctl.evaluation.report import LEARNED

GROWTH = float(os.environ.get("GROWTH", "1.3"))
VARIANTS = os.environ.get("VARIANTS", "cooldown:0.2 guard:0.1").split()
PROBE_TOLERANCE, SMOOTHING, PROBE_FRACTION, GUARD_CUT = 0.1, 0.8, 0.25, 0.1
SPLIT_SCRIPT = Path(__file__).parents[1] / "tuning-oracle-split" / "oracle_regret_split.py"


class Rule:
    """A policy scheduler (or none) until the rule hands over; then a linear fall to zero at the budget's end."""

    def __init__(self, optimizer: torch.optim.Optimizer, budget: Budget, policy: PolicyScheduler | None) -> None:
        self.optimizer, self.budget, self.policy = optimizer, budget, policy
        self.t = 0
        self.fall_from: tuple[int, list[float]] | None = None  # (step, LRs) where the fall starts

    def _set(self, lrs: list[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr

    def hand_over(self, factor: float = 1.0) -> None:
        self.fall_from = (self.t, [factor * g["lr"] for g in self.optimizer.param_groups])
        self._set(self.fall_from[1])

    def step(self, loss: float) -> None:
        self.t += 1
        if self.fall_from is None:
            self.before(loss)
        if self.fall_from is not None:
            start, top = self.fall_from
            left = (self.budget.steps - self.t) / max(1, self.budget.steps - start)
            self._set([lr * left for lr in top])

    def before(self, loss: float) -> None:
        self.policy.step(loss)

    def validated(self, val_loss: float) -> None:
        pass


class Probe(Rule):
    def __init__(self, optimizer, budget, model: torch.nn.Module, backoff: float, policy_path: str | None) -> None:
        super().__init__(optimizer, budget, None)
        self.model, self.backoff, self.policy_path = model, backoff, policy_path
        self.average, self.lowest = 0.0, math.inf

    def before(self, loss: float) -> None:
        if self.policy is not None:
            self.policy.step(loss)
            return
        lr = float(self.optimizer.param_groups[0]["lr"])
        self.average = SMOOTHING * self.average + (1 - SMOOTHING) * loss
        smoothed = self.average / (1 - SMOOTHING ** self.t)
        self.lowest = min(self.lowest, smoothed)
        rose = not math.isfinite(loss) or (self.t >= 3 and smoothed > (1 + PROBE_TOLERANCE) * self.lowest)
        if not rose and self.t < PROBE_FRACTION * self.budget.steps:
            self._set([lr * GROWTH])
            return
        self._set([lr / self.backoff if rose else lr])
        if self.policy_path is None:
            self.hand_over()
            return
        self.policy = PolicyScheduler(self.optimizer, self.policy_path, model=self.model,
                                      val_data=(self.budget.val_x, self.budget.val_y),
                                      total_steps=self.budget.steps - self.t,
                                      steps_per_action=self.budget.steps_per_action)


class CoolDown(Rule):
    def __init__(self, optimizer, budget, policy: PolicyScheduler, fraction: float) -> None:
        super().__init__(optimizer, budget, policy)
        self.start = budget.steps - round(fraction * budget.steps)

    def before(self, loss: float) -> None:
        if self.t >= self.start:
            self.hand_over()
        else:
            self.policy.step(loss)


class Guard(Rule):
    def __init__(self, optimizer, budget, policy: PolicyScheduler, tolerance: float) -> None:
        super().__init__(optimizer, budget, policy)
        self.tolerance, self.lowest, self.rose = tolerance, math.inf, False

    def before(self, loss: float) -> None:
        if self.rose:
            self.hand_over(GUARD_CUT)
        else:
            self.policy.step(loss)

    def validated(self, val_loss: float) -> None:
        self.lowest = min(self.lowest, val_loss)
        self.rose = self.rose or val_loss > (1 + self.tolerance) * self.lowest


class RuleDriver(Driver):
    def after_validation(self, val_loss: float) -> None:
        self.scheduler.validated(val_loss)


def with_rules(spec: MethodSpec, model, optimizer, initial_lr: float, budget: Budget) -> Driver:
    """`build_driver`, plus the kind "rule": the variant `spec.params["variant"]` of the policy file."""
    if spec.kind != "rule":
        return build_driver(spec, model, optimizer, initial_lr, budget)
    name, value = spec.params["variant"].split(":")
    path = spec.params["path"]
    if name.startswith("probe"):
        for group in optimizer.param_groups:
            group["lr"] = initial_lr
        rule = Probe(optimizer, budget, model, float(value), path if name == "probe-policy" else None)
    else:
        policy = build_driver(replace(LEARNED, params={"path": path}), model, optimizer, initial_lr, budget).scheduler
        rule = CoolDown(optimizer, budget, policy, float(value)) if name == "cooldown" else \
            Guard(optimizer, budget, policy, float(value))
    return RuleDriver(optimizer, rule, "loss")


runner.build_driver = with_rules  # at import, so that the spawned workers build them too


def main() -> None:
    split = SimpleNamespace(**runpy.run_path(str(SPLIT_SCRIPT)))
    seeds = list(range(int(sys.argv[1]), int(sys.argv[2])))
    policy = sys.argv[3]
    methods = {policy: replace(LEARNED, params={"path": policy})}
    methods |= {v: MethodSpec(v, "rule", {"path": policy, "variant": v}) for v in VARIANTS}
    regrets = split.held_out_regrets(split.short_task_env(), seeds, methods)
    split.print_regret_summary(regrets)
    split.print_paired_differences(regrets, policy, list(methods)[1:])


if __name__ == "__main__":
    main()
