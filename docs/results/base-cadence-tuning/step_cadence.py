"""Evaluate with a residual policy's base schedule applied at every child step instead of once per decision.

A measurement script, not part of lrctl: it patches `PolicyScheduler.step` in this process, then runs
`lrctl evaluate` with the arguments given. Use `--workers 1` (worker processes would not be patched).
The policy still acts every `steps_per_action` steps; between its decisions the LR follows the base at
the middle of each step, ``policy_lr * base((step + 0.5) / total_steps)``, clamped as `applied_lr` clamps.
"""

import sys

from lrctl.deploy import scheduler
from lrctl.deploy.actions import BASE_SHAPES, applied_lr
from lrctl.cli import main

_per_decision_step = scheduler.PolicyScheduler.step


def _per_step(self: scheduler.PolicyScheduler, train_loss=None) -> None:
    _per_decision_step(self, train_loss)
    spec = self.policy.spec
    if spec.action_base == "constant":
        return
    fraction = min(1.0, (self.steps_done + 0.5) / self.total_steps)
    new = applied_lr(self.policy_lr, BASE_SHAPES[spec.action_base](fraction), spec.lr_min, spec.lr_max)
    old = self.optimizer.param_groups[0]["lr"]
    for i, group in enumerate(self.optimizer.param_groups):
        group["lr"] = new if i == 0 else group["lr"] * new / old
    self._last_lr = self.get_lr()


if __name__ == "__main__":
    args = sys.argv[1:]
    workers = [args[i + 1] if arg == "--workers" and i + 1 < len(args) else arg.partition("=")[2]
               for i, arg in enumerate(args) if arg == "--workers" or arg.startswith("--workers=")]
    if workers != ["1"]:
        print(f"step_cadence.py: --workers {' '.join(workers) or '(not given)'}: pass --workers 1 (worker "
              "processes would run without the per-step base)", file=sys.stderr)
        sys.exit(2)
    scheduler.PolicyScheduler.step = _per_step
    sys.exit(main(["evaluate", *args]))
