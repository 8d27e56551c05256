"""What an LR rule on top of schedule-free AdamW could gain on fmnist-mlp from 1e-2 (tuning seeds).

A measurement script, not part of lrctl. Each run is the child `evaluate.py` trains for that seed
(`lrctl.evaluation.runner.run_task`); the schedule-free rows build `schedulefree.AdamWScheduleFree` on it
as the `schedule-free` baseline does, with the named LR shape on top (`LambdaLR`) or its own
`warmup_steps`. Prints one Markdown row per method: mean final validation loss over the seeds, and per
seed.

    python docs/results/schedule-free-shapes/shapes.py 100000 100001 ...
"""

import statistics
import sys

from torch.optim.lr_scheduler import LambdaLR

from lrctl.deploy.actions import DECAY_SHAPES, onecycle_shape
from lrctl.config import config_from_dict
from lrctl.evaluation import runner
from lrctl.evaluation.methods import Driver, MethodSpec, build_driver
from lrctl.deploy.policy import shipped_policy_path

SETTING, INITIAL_LR = "fmnist-mlp", 1e-2
SHAPES = {
    "linear": DECAY_SHAPES["linear"],
    "cosine": DECAY_SHAPES["cosine"],
    "onecycle": onecycle_shape,
    "warm-up 5% (LambdaLR)": lambda f: min(1.0, f / 0.05),
    "warm-up 10% (LambdaLR)": lambda f: min(1.0, f / 0.10),
}


def sf_driver(spec: MethodSpec, model, optimizer, initial_lr, budget) -> Driver:
    if spec.kind != "sf":
        return build_driver(spec, model, optimizer, initial_lr, budget)
    import schedulefree

    warmup = round(spec.params.get("warmup", 0.0) * budget.steps)
    opt = schedulefree.AdamWScheduleFree(list(model.parameters()), lr=initial_lr, warmup_steps=warmup)
    opt.train()
    shape = SHAPES.get(spec.params.get("shape"))
    if shape is None:
        return Driver(opt)
    return Driver(opt, LambdaLR(opt, lambda t: shape(t / budget.steps)))


METHODS = [
    MethodSpec("shipped policy (Adam)", "policy", {"path": str(shipped_policy_path())}),
    MethodSpec("onecycle (Adam)", "onecycle"),
    MethodSpec("schedule-free AdamW (the baseline)", "sf"),
    *[MethodSpec(f"schedule-free AdamW, {name}", "sf", {"shape": name}) for name in SHAPES],
    *[MethodSpec(f"schedule-free AdamW, warmup_steps {pct}%", "sf", {"warmup": pct / 100}) for pct in (5, 10, 20)],
]

if __name__ == "__main__":
    if not sys.argv[1:] or not all(arg.isdigit() for arg in sys.argv[1:]):
        print(f"shapes.py: expected tuning seeds as non-negative integers, got {sys.argv[1:]}; "
              "e.g. 100000 100001 100002", file=sys.stderr)
        sys.exit(2)
    seeds = [int(s) for s in sys.argv[1:]]
    runner.build_driver = sf_driver
    runner.init_worker()  # one torch thread, as evaluate.py's runs
    env = config_from_dict({"env": {"setting": SETTING}}).env
    print(f"| {SETTING} from {INITIAL_LR:g} ({len(seeds)} seeds) | mean | per seed |")
    print("| --- | --- | --- |")
    for method in METHODS:
        losses = [runner.run_task(runner.Task(env, method, seed, INITIAL_LR)).final["final_val_loss"]
                  for seed in seeds]
        print(f"| {method.name} | {statistics.mean(losses):.4f} | {' '.join(f'{x:.4f}' for x in losses)} |",
              flush=True)
