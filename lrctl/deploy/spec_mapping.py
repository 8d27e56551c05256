"""Between an environment's config and a policy file's spec, both ways, in one place: what a policy
trained on a config records (`spec_of`), and the config under which an environment observes and acts as
a policy does (`acting_as`)."""

from __future__ import annotations

import dataclasses

from lrctl import __version__
from lrctl.config import EnvConfig
from lrctl.deploy.features import feature_set, feature_set_name
from lrctl.deploy.policy import TASK_DISTRIBUTION, PolicySpec
from lrctl.tasks import draws_tasks


def spec_of(env: EnvConfig) -> PolicySpec:
    """What a policy trained on `env` was trained for, and the features it observes."""
    return PolicySpec(
        feature_names=feature_set(env.features), action_mode=env.action_mode, action_base=env.action_base,
        max_change=env.max_change, cap_decisions=env.cap_decisions, cut_cap_decisions=env.cut_cap_decisions,
        max_lr_ratio=env.max_lr_ratio,
        lr_min=env.lr_min, lr_max=env.lr_max, steps_per_action=env.steps_per_action,
        child_steps=env.child_steps, setting=TASK_DISTRIBUTION if draws_tasks(env) else env.setting,
        initial_lrs=tuple(env.initial_lrs),
        lrctl_version=__version__,
        optimizers=tuple(env.tasks.optimizers) if draws_tasks(env) else (env.optimizer,),
    )


def acting_as(env: EnvConfig, spec: PolicySpec) -> EnvConfig:
    """`env` with the features, actions, cap, base, ceiling and LR bounds of the policy of `spec`, so that
    an environment observes and acts as that policy does (as `PolicyScheduler` reads them from the file),
    whatever `env` says of them."""
    return dataclasses.replace(env, features=feature_set_name(spec.feature_names), action_mode=spec.action_mode,
                               action_base=spec.action_base, max_change=spec.max_change,
                               cap_decisions=spec.cap_decisions, cut_cap_decisions=spec.cut_cap_decisions,
                               max_lr_ratio=spec.max_lr_ratio, lr_min=spec.lr_min, lr_max=spec.lr_max)
