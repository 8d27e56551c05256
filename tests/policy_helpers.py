"""Small hand-made policies for scheduler and policy-file tests, and the plain loop that deploys one."""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from lrctl.deploy.features import FEATURE_NAMES, feature_set
from lrctl.deploy.policy import Policy, PolicySpec, build_actor
from lrctl.deploy.scheduler import PolicyScheduler
from lrctl.envs import LRControlEnv
from tests.conftest import SMALL_ENV

_SCALE_FREE_STATS = {"log_val_ratio": (-0.3, 0.1), "log_train_ratio": (-0.3, 0.1), "log_lr_ratio": (0.0, 0.05),
                     "val_train_gap": (0.0, 0.01), "log_val_trend": (-0.02, 1e-3), "log_train_noise": (-2.0, 0.5)}


def make_policy(action_mode: str = "discrete", steps_per_action: int = 5, child_steps: int = 20,
                seed: int = 0, features: str = "paper", action_base: str = "constant",
                max_lr_ratio: float = 0.0, cap_decisions: int = 0) -> Policy:
    """A seeded random actor with plausible observation statistics: it takes varied actions."""
    names = feature_set(features)
    torch.manual_seed(seed)
    actor = build_actor([len(names), 32, 32, 3 if action_mode == "discrete" else 1])
    with torch.no_grad():
        for p in actor.parameters():
            p.mul_(3.0)
    spec = PolicySpec(names, action_mode, 0.05, 1e-6, 1.0, steps_per_action, child_steps,
                      "digits-mlp", (1e-2, 1e-3), "test", action_base=action_base,
                      max_lr_ratio=max_lr_ratio, cap_decisions=cap_decisions)
    paper = dict(zip(FEATURE_NAMES, zip([1.5, 1.5, 0.02, 1e-4, 0.0, 0.01, -3.0, 0.5],
                                        [0.3, 0.3, 1e-4, 1e-8, 1e-6, 1e-5, 0.5, 0.1])))
    stats = {**paper, **_SCALE_FREE_STATS}
    mean = np.array([stats[n][0] for n in names])
    var = np.array([stats[n][1] for n in names])
    return Policy(spec, actor, mean, var, 10.0, 1e-8, np.array([-0.5], dtype=np.float32))


def env_and_child(data, mode, seed=3, lr=1e-3, features="paper", **options):
    """A small environment reset to (`seed`, `lr`), its first observation, and a copy of its child's
    start: model, batch order, validation inputs and labels."""
    env = LRControlEnv("digits-mlp", data=data, action_mode=mode, features=features, **SMALL_ENV, **options)
    obs, _ = env.reset(seed=seed, options={"initial_lr": lr})
    child = env.child
    start = (copy.deepcopy(child.model), child.order.clone(), child.val_x.clone(), child.val_y.clone())
    return env, obs, start


def episode_lrs(env, obs, policy) -> list[float]:
    """The LR of every child step of `env`'s episode from `obs` on, with `policy` acting deterministically."""
    lrs, done = [], False
    while not done:
        obs, _, done, _, info = env.step(policy.act(obs))
        lrs += [info["lr"]] * env.unwrapped.config.steps_per_action
    return lrs


def plain_loop(data, model, order, val, policy, lr, steps=None, sched_state=None, opt_state=None,
               total_steps=None):
    """Train `model` on the batches of `order` (the first `steps`) with `PolicyScheduler`; the LR of
    every step, the scheduler and the optimizer. `*_state` resume both first."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True)  # the environment's child optimizer
    sched = PolicyScheduler(opt, policy, model=model, val_data=val, total_steps=total_steps)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
        sched.load_state_dict(sched_state)
    lrs = []
    for idx in order[:steps]:
        lrs.append(opt.param_groups[0]["lr"])
        loss = F.cross_entropy(model(data.train_x[idx]), data.train_y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step(loss.item())
    return lrs, sched, opt


def deployed_and_resumed_lrs(data, model, order, val, policy, lr, total_steps, split=12):
    """The LR of every step of `model` trained with `policy` in a plain loop, whole and resumed: the LRs of
    one uninterrupted run, and those of a run stopped after `split` steps and resumed from the scheduler's
    and optimizer's state dicts."""
    twin = copy.deepcopy(model)
    lrs, _, _ = plain_loop(data, model, order, val, policy, lr, total_steps=total_steps)
    first, sched, opt = plain_loop(data, twin, order, val, policy, lr, steps=split, total_steps=total_steps)
    rest, _, _ = plain_loop(data, twin, order[split:], val, policy, lr, total_steps=total_steps,
                            sched_state=copy.deepcopy(sched.state_dict()), opt_state=copy.deepcopy(opt.state_dict()))
    return lrs, first + rest
