"""Typed configuration: YAML files and command-line overrides checked into dataclasses.

Precedence, lowest first: the dataclass defaults, the chosen setting's defaults, the YAML file, and
`--set key=value` overrides. Every problem is a `ConfigError` whose message names the key, the bad value
and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lrctl.checks import check_at_most, check_choice, check_distinct, check_positive, check_seed
from lrctl.deploy.actions import ACTION_BASES, ACTION_MODES, is_cap_decisions, is_cut_cap_decisions, is_max_lr_ratio
from lrctl.deploy.feature_sets import FEATURE_SETS
from lrctl.envs.rewards import REWARDS, TWIN_REWARDS
from lrctl.error_text import first_line
from lrctl.errors import ConfigError
from lrctl.settings import setting_env_defaults, setting_label
from lrctl.strict_yaml import StrictYAMLError, excerpt, load_yaml

OPTIMIZERS = ("adam", "sgd")
DEVICES = ("cpu", "cuda", "auto")
VEC_ENVS = ("subproc", "dummy", "batched", "ray")
FEATURE_SET_NAMES = tuple(FEATURE_SETS)


def default_data_root() -> str:
    """Where datasets live unless a config says otherwise: $LRCTL_DATA or ~/.cache/lrctl/data."""
    return os.environ.get("LRCTL_DATA", str(Path.home() / ".cache" / "lrctl" / "data"))


@dataclass
class TaskDistribution:
    """Per-episode task draws for a general policy: each episode trains a child on a task drawn from
    these choices (uniformly over each list, from the episode's seeded RNG, so a value listed twice is
    drawn twice as often). `datasets` empty (default): no draws, every episode trains the setting's task."""

    datasets: tuple[str, ...] = ()
    """Datasets to draw from: digits, synthetic (a fresh scikit-learn make_classification problem per
    episode: size, features, classes and difficulty drawn too), mnist, fashion-mnist."""
    widths: tuple[int, ...] = (32, 64, 128, 256)
    """Hidden-layer widths of the MLP child (each layer draws its own)."""
    depths: tuple[int, ...] = (1, 2, 3)
    """Numbers of hidden layers (of convolution blocks for a CNN child)."""
    architectures: tuple[str, ...] = ("mlp",)
    """Child families: mlp, and cnn (strided 3x3 convolution blocks and a Linear head; for the image
    datasets digits, mnist and fashion-mnist only, so a synthetic problem draws among the others)."""
    channels: tuple[int, ...] = (8, 16, 32)
    """Channels of a CNN child's blocks (each block draws its own; `depths` gives the number of blocks)."""
    activations: tuple[str, ...] = ("relu", "tanh", "gelu")
    """Hidden activations: relu, tanh, gelu, leaky_relu."""
    batch_sizes: tuple[int, ...] = (32, 64, 128)
    """Child mini-batch sizes."""
    child_steps: tuple[int, ...] = (300, 500, 800)
    """Budgets in child steps; each a multiple of env.steps_per_action."""
    optimizers: tuple[str, ...] = ("adam",)
    """Child optimizers: adam, sgd (with env.momentum)."""


@dataclass
class EnvConfig:
    """The child-training problem and how the controller acts on it."""

    setting: str = "digits-mlp"
    """Setting (dataset + child network): digits-mlp, mnist-mlp, fmnist-mlp, fmnist-lenet5, cifar10-resnet18,
    or a user's own as an import path, module:attribute (see `lrctl.define_setting`)."""
    child_steps: int = 1000
    """Child optimizer steps per episode (the training budget)."""
    steps_per_action: int = 10
    """Child steps between two controller decisions; must divide child_steps."""
    batch_size: int = 128
    """Child mini-batch size."""
    optimizer: str = "adam"
    """Child optimizer: adam or sgd (with momentum)."""
    momentum: float = 0.9
    """Momentum of the sgd child optimizer (ignored for adam)."""
    initial_lrs: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
    """Initial learning rates; each episode draws one at reset (unless initial_lr_range is set). The
    training report and the evaluation start from each of them."""
    initial_lr_range: tuple[float, ...] = ()
    """[low, high]: each training episode draws its initial LR log-uniformly from this range instead of
    from initial_lrs; empty (default): from initial_lrs."""
    action_mode: str = "discrete"
    """discrete: Discrete(3) up/down/keep; continuous: Box(-1, 1) scaling by (1 + max_change) ** a."""
    action_base: str = "constant"
    """What the policy's LR is multiplied by before the optimizer gets it: constant (the policy moves the
    LR itself), cosine or linear (a residual policy: the base decays from the initial LR to 0 over the
    budget, keeping follows it, and each action corrects it by at most max_change per decision), or
    onecycle (the same over OneCycleLR's default shape with max_lr = the initial LR: up from 1/25 of it
    over the first 30% of the budget, then down)."""
    max_change: float = 0.05
    """Largest relative LR change per decision, in (0, 1)."""
    cap_decisions: int = 0
    """0: max_change caps every decision. N > 0: max_change is the cap at N decisions per budget, and a
    budget of n decisions caps each at (1 + max_change) ** (N / n) - 1, so that the LR can move as far
    over a short budget as over a long one."""
    cut_cap_decisions: int = 0
    """0: cuts are capped as climbs. N > 0 (with cap_decisions set): the cap of a decision that lowers the
    LR is set as cap_decisions sets it, at N decisions per budget instead, so that the policy may cut
    faster (N larger) than it climbs."""
    max_lr_ratio: float = 0.0
    """0: off. r >= 1: the policy's LR never rises above r times the episode's initial LR (before the base
    schedule multiplies it), so with a decaying action_base and r = 1 the applied LR stays at or below the
    base schedule: corrections may cut it, never lift it."""
    lr_noise_std: float = 0.0
    """Std of Gaussian noise on the log of each LR change (0 = none); the cap still holds."""
    lr_min: float = 1e-6
    """Lower clamp of the learning rate."""
    lr_max: float = 1.0
    """Upper clamp of the learning rate."""
    val_subset_size: int = 1000
    """Validation samples used for observations and rewards (a fixed subset per episode)."""
    features: str = "both"
    """Observation set: paper (the eight features of arXiv 1909.09712), scale_free (log ratios to the
    episode's first validation loss and initial LR, validation/training gap, trend, budget fraction), or
    both (the union; the default, chosen on the report seeds in docs/results/ablation.md), or
    scale_free_lr (scale_free and log10 of the LR), or scale_free_lr_noise (scale_free_lr and the noise
    of the per-step training losses)."""
    reward: str = "log_improvement_vs_constant"
    """val_loss: minus the validation loss at every decision (the paper's; the return is the area under
    the validation curve); log_improvement: log L[t-1] - log L[t] (it telescopes: with gamma 1 the return
    is the final-loss gain); log_improvement_vs_constant: the log
    improvement minus that of a twin child (same seed, task and initial LR) trained side by side at the
    initial LR, so the return is log(L_constant[T] / L[T]) (costs one more child per episode);
    log_improvement_vs_base: the same with a twin that follows action_base uncorrected, so the return is
    what the policy's corrections gained over the base schedule (with action_base constant, the same as
    log_improvement_vs_constant)."""
    reward_bound: float = 0.0
    """0: off. c > 0, with a twin reward (log_improvement_vs_constant or _vs_base): pay the change of
    c * tanh(log(L_twin[t] / L[t]) / c) instead, so the return is c * tanh(log(L_twin[T] / L[T]) / c),
    at most c in size: a task where the twin fails by far weighs no more than c against one where the
    policy loses a little, while each decision keeps its share of the credit."""
    divergence_penalty: float = 5.0
    """Reward charged per decision left when the child diverges (non-finite loss or weight)."""
    device: str = "cpu"
    """Where data tensors and the child live: cpu, cuda or auto."""
    data_root: str = field(default_factory=default_data_root)
    """Folder holding the torchvision datasets (not needed for digits)."""
    download: bool = True
    """Let torchvision download a missing dataset."""
    tasks: TaskDistribution = field(default_factory=TaskDistribution)
    """Draw each episode's task (dataset, child MLP, batch size, budget, optimizer) from these choices;
    off unless tasks.datasets is set."""


@dataclass
class RayConfig:
    """Environments as Ray actors (`ppo.vec_env: ray`); the cluster is named at run time
    (`--ray-address` or RAY_ADDRESS), never in the config."""

    num_cpus_per_env: float = 1.0
    """CPUs Ray reserves per environment; each actor uses that many torch threads (at least one)."""
    num_gpus_per_env: float = 0.0
    """GPUs Ray reserves per environment (fractions share a GPU); set env.device to cuda or auto to use them."""
    envs_per_actor: int = 1
    """Environments per actor: above 1, each actor trains its children as one batched pass (where the
    setting's children can be batched) and reserves the CPUs and GPUs of all of them."""
    max_restarts: int = 10
    """How often Ray may restart one lost actor (a lost node, a killed process) before training stops."""


@dataclass
class PPOConfig:
    """stable-baselines3 PPO hyperparameters (actor and critic are fixed at 2x32)."""

    total_timesteps: int = 100_000
    """Controller decisions to train for, over all environments."""
    n_envs: int = 8
    """Child-training environments run side by side."""
    vec_env: str = "batched"
    """subproc: one process per environment (when cores allow); dummy: all in this process, one after
    another; batched: all children trained together in one batched pass (children with BatchNorm or
    Dropout fall back to subproc, with a warning); ray: Ray actors on a local Ray or a cluster (see `ray`)."""
    n_steps: int = 250
    """Decisions per environment between two PPO updates."""
    batch_size: int = 100
    """PPO minibatch size."""
    n_epochs: int = 10
    """PPO epochs per update."""
    learning_rate: float = 3e-4
    """Adam learning rate of the actor-critic."""
    gamma: float = 1.0
    """Discount factor (1: the telescoping rewards' return is the final-loss gain)."""
    gae_lambda: float = 1.0
    """GAE lambda (1: Monte Carlo returns; the critic has little to bootstrap from)."""
    clip_range: float = 0.2
    """PPO clipping parameter."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value-loss coefficient."""
    max_grad_norm: float = 0.5
    """Gradient clipping of the actor-critic."""
    log_std_init: float = 0.0
    """Initial log standard deviation of the Gaussian actions (`env.action_mode: continuous` only; SB3's
    default 0, a standard deviation of 1 on actions in [-1, 1])."""
    clip_obs: float = 10.0
    """VecNormalize clip of normalised observations."""
    ray: RayConfig = field(default_factory=RayConfig)
    """Where and how environments run with `vec_env: ray`."""


@dataclass
class TrainConfig:
    """A controller-training run: the environment, PPO and the run's bookkeeping."""

    seed: int = 0
    """Seed of PPO and of the training episodes."""
    run_dir: str = "runs/digits-mlp"
    """Where the run's config, checkpoints, logs, policy and report go."""
    checkpoint_every: int = 5_000
    """Decisions between two checkpoints."""
    report_seeds: tuple[int, ...] = (100_000, 100_001, 100_002)
    """Held-out episode seeds for report.md (disjoint from training seeds)."""
    progress_bar: bool = True
    """Show a progress bar while training."""
    env: EnvConfig = field(default_factory=EnvConfig)
    """The child-training environment."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """PPO hyperparameters."""


# ---------------------------------------------------------------------------------------------------
# Building and checking


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Check one leaf value against its type annotation and return it in canonical form."""
    origin = typing.get_origin(annotation)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {excerpt(value)}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer() and math.isfinite(value):
            return int(value)
        raise ConfigError(f"{key}: expected an integer, got {excerpt(value)}")
    if annotation is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{key}: expected a number, got {excerpt(value)}") from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"{key}: expected a finite number, got {excerpt(value)}")
            return float(value)
        raise ConfigError(f"{key}: expected a number, got {excerpt(value)}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {excerpt(value)}")
    if origin is tuple:
        item_type = typing.get_args(annotation)[0]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {excerpt(value)}")
        return tuple(_coerce(f"{key}[{i}]", v, item_type) for i, v in enumerate(value))
    raise TypeError(f"unsupported annotation {annotation!r} for {key}")  # a bug in this module


def _build(cls: type, data: Any, prefix: str, base: Any = None) -> Any:
    """Build dataclass `cls` from a mapping, starting from `base` (or the defaults)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        where = prefix.rstrip(".") or "the config"
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {excerpt(data)}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {} if base is None else {n: getattr(base, n) for n in names}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if not isinstance(key, str) or key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean {prefix}{close[0]}?" if close else f"; known keys: {', '.join(names)}"
            raise ConfigError(f"unknown key {excerpt(full)}{hint}")
        annotation = hints[key]
        if dataclasses.is_dataclass(annotation):
            values[key] = _build(annotation, value, f"{full}.", values.get(key))
        else:
            values[key] = _coerce(full, value, annotation)
    return cls(**values)


_ENV_LIMITS = {"child_steps": 10**7, "batch_size": 10**6, "val_subset_size": 10**7}
_TASK_LIMITS = {"widths": 2**16, "channels": 2**12, "depths": 64, "batch_sizes": 10**6, "child_steps": 10**7}
_PPO_LIMITS = {"total_timesteps": 10**9, "n_envs": 256, "n_steps": 10**6, "batch_size": 10**7, "n_epochs": 10**4}
"""Upper bounds on sizes: far above any sensible run, low enough that a typo fails at once instead of
training without end or exhausting memory."""


def validate_env(cfg: EnvConfig, prefix: str = "env.") -> EnvConfig:
    """Range checks on an EnvConfig; returns it unchanged or raises ConfigError."""
    p = prefix
    setting_env_defaults(f"{p}setting", cfg.setting)
    check_choice(f"{p}action_mode", cfg.action_mode, ACTION_MODES)
    check_choice(f"{p}action_base", cfg.action_base, ACTION_BASES)
    check_choice(f"{p}optimizer", cfg.optimizer, OPTIMIZERS)
    check_choice(f"{p}reward", cfg.reward, REWARDS)
    check_choice(f"{p}features", cfg.features, FEATURE_SET_NAMES)
    check_choice(f"{p}device", cfg.device, DEVICES)
    for key in ("child_steps", "steps_per_action", "batch_size", "val_subset_size"):
        check_positive(f"{p}{key}", getattr(cfg, key))
    for key, limit in _ENV_LIMITS.items():
        check_at_most(f"{p}{key}", getattr(cfg, key), limit)
    if cfg.steps_per_action > cfg.child_steps or cfg.child_steps % cfg.steps_per_action:
        raise ConfigError(
            f"{p}steps_per_action: {cfg.steps_per_action} must divide {p}child_steps "
            f"({cfg.child_steps}); choose a divisor such as 10"
        )
    check_positive(f"{p}lr_min", cfg.lr_min)
    check_positive(f"{p}lr_max", cfg.lr_max)
    if cfg.lr_min >= cfg.lr_max:
        raise ConfigError(f"{p}lr_min: {cfg.lr_min} must be below {p}lr_max ({cfg.lr_max})")
    if not cfg.initial_lrs:
        raise ConfigError(f"{p}initial_lrs: must list at least one learning rate, e.g. [0.001]")
    for i, lr in enumerate(cfg.initial_lrs):
        if not cfg.lr_min <= lr <= cfg.lr_max:
            raise ConfigError(
                f"{p}initial_lrs[{i}]: {lr} must lie in [lr_min, lr_max] = [{cfg.lr_min}, {cfg.lr_max}]"
            )
    if cfg.initial_lr_range:
        low_high = cfg.initial_lr_range
        if len(low_high) != 2 or not cfg.lr_min <= low_high[0] < low_high[1] <= cfg.lr_max:
            raise ConfigError(f"{p}initial_lr_range: expected [low, high] with lr_min <= low < high <= lr_max "
                              f"= [{cfg.lr_min}, {cfg.lr_max}], got {list(low_high)}")
    if not 0 < cfg.max_change < 1:
        raise ConfigError(f"{p}max_change: must lie in (0, 1), got {cfg.max_change}")
    if not is_cap_decisions(cfg.cap_decisions):
        raise ConfigError(f"{p}cap_decisions: must be 0 (max_change caps every decision) or a positive number of "
                          f"decisions, got {cfg.cap_decisions!r}")
    if not is_cut_cap_decisions(cfg.cut_cap_decisions, cfg.cap_decisions):
        raise ConfigError(f"{p}cut_cap_decisions: must be 0 (cuts capped as climbs) or, with cap_decisions set, a "
                          f"positive number of decisions, got {cfg.cut_cap_decisions!r}")
    if not is_max_lr_ratio(cfg.max_lr_ratio):
        raise ConfigError(f"{p}max_lr_ratio: must be 0 (off) or at least 1 (a ceiling below the initial LR "
                          f"would move the first decision by more than max_change), got {cfg.max_lr_ratio}")
    if cfg.lr_noise_std < 0:
        raise ConfigError(f"{p}lr_noise_std: must be >= 0, got {cfg.lr_noise_std}")
    if cfg.divergence_penalty < 0:
        raise ConfigError(f"{p}divergence_penalty: must be >= 0, got {cfg.divergence_penalty}")
    if not (math.isfinite(cfg.reward_bound) and cfg.reward_bound >= 0):
        raise ConfigError(f"{p}reward_bound: must be 0 (off) or a positive number, got {cfg.reward_bound}")
    if cfg.reward_bound > 0 and cfg.reward not in TWIN_REWARDS:
        raise ConfigError(f"{p}reward_bound: {cfg.reward_bound} bounds the gain over a twin; set {p}reward to "
                          f"one of {', '.join(TWIN_REWARDS)} or {p}reward_bound to 0")
    if not 0 <= cfg.momentum < 1:
        raise ConfigError(f"{p}momentum: must lie in [0, 1), got {cfg.momentum}")
    check_distinct(f"{p}initial_lrs", cfg.initial_lrs)
    check_task_distribution(cfg, f"{p}tasks.")
    return cfg


def check_task_distribution(cfg: EnvConfig, p: str) -> None:
    """The task distribution's values; the task and model registries check their own names."""
    from lrctl.tasks import architectures_for, check_task_names

    tasks = cfg.tasks
    if not tasks.datasets:
        default = TaskDistribution()
        for item in dataclasses.fields(TaskDistribution):
            if getattr(tasks, item.name) != getattr(default, item.name):
                raise ConfigError(f"{p}{item.name} is set, but {p}datasets is not, so no task is drawn and it "
                                  f"would be ignored; add {p}datasets (e.g. [digits]) or drop {p}{item.name}")
        return
    check_task_names(tasks, p)
    for i, value in enumerate(tasks.optimizers):
        check_choice(f"{p}optimizers[{i}]", value, OPTIMIZERS)
    for key in ("architectures", "widths", "channels", "depths", "batch_sizes", "child_steps", "activations",
                "optimizers"):
        values = getattr(tasks, key)
        if not values:
            raise ConfigError(f"{p}{key}: must list at least one choice when {p}datasets is set")
        for i, value in enumerate(values):
            if not isinstance(value, str):
                check_positive(f"{p}{key}[{i}]", value)
                check_at_most(f"{p}{key}[{i}]", value, _TASK_LIMITS[key])
    for i, dataset in enumerate(tasks.datasets):
        if not architectures_for(dataset, tasks.architectures):
            raise ConfigError(f"{p}datasets[{i}]: {dataset} has no child in {p}architectures "
                              f"{list(tasks.architectures)}; a CNN needs images, so add mlp")
    for i, steps in enumerate(tasks.child_steps):
        if steps % cfg.steps_per_action:
            raise ConfigError(f"{p}child_steps[{i}]: {steps} is not a multiple of env.steps_per_action "
                              f"({cfg.steps_per_action}); choose multiples such as 500")


def validate(cfg: TrainConfig) -> TrainConfig:
    """Range checks on a whole TrainConfig; returns it unchanged or raises ConfigError."""
    validate_env(cfg.env)
    ppo = cfg.ppo
    check_choice("ppo.vec_env", ppo.vec_env, VEC_ENVS)
    for key in ("total_timesteps", "n_envs", "n_steps", "batch_size", "n_epochs", "learning_rate",
                "clip_range", "max_grad_norm", "clip_obs"):
        check_positive(f"ppo.{key}", getattr(ppo, key))
    for key, limit in _PPO_LIMITS.items():
        check_at_most(f"ppo.{key}", getattr(ppo, key), limit)
    for key in ("gamma", "gae_lambda"):
        if not 0 < getattr(ppo, key) <= 1:
            raise ConfigError(f"ppo.{key}: must lie in (0, 1], got {getattr(ppo, key)}")
    if not -5 <= ppo.log_std_init <= 1:
        raise ConfigError(f"ppo.log_std_init: must lie in [-5, 1], got {ppo.log_std_init}")
    if ppo.log_std_init != 0 and cfg.env.action_mode != "continuous":
        raise ConfigError(f"ppo.log_std_init: {ppo.log_std_init} applies to Gaussian actions only; "
                          "set env.action_mode=continuous or leave it at 0")
    if ppo.batch_size > ppo.n_steps * ppo.n_envs:
        raise ConfigError(
            f"ppo.batch_size: {ppo.batch_size} exceeds one rollout (n_steps * n_envs = "
            f"{ppo.n_steps * ppo.n_envs}); lower it or raise ppo.n_steps"
        )
    from lrctl.ray_cluster import check_ray_options

    check_ray_options(ppo)
    check_seed("seed", cfg.seed)
    check_positive("checkpoint_every", cfg.checkpoint_every)
    if not cfg.report_seeds:
        raise ConfigError("report_seeds: must list at least one seed")
    for i, seed in enumerate(cfg.report_seeds):
        check_seed(f"report_seeds[{i}]", seed)
    check_distinct("report_seeds", cfg.report_seeds)
    if not cfg.run_dir:
        raise ConfigError("run_dir: must not be empty")
    return cfg


def env_config(setting: str = "digits-mlp", **overrides: Any) -> EnvConfig:
    """An EnvConfig for `setting` with its defaults, then `overrides` (checked like YAML keys)."""
    base = _build(EnvConfig, {"setting": setting, **setting_env_defaults("setting", setting)}, "")
    return validate_env(_build(EnvConfig, overrides, "", base), prefix="")


def resolve_env_config(config: "EnvConfig | str", options: dict[str, Any]) -> EnvConfig:
    """An `EnvConfig` from a config or a setting name, with keyword `options` on top (checked as YAML keys)."""
    if isinstance(config, EnvConfig):
        if not options:
            return validate_env(config, prefix="")
        return validate_env(_build(EnvConfig, options, "", config), prefix="")
    if not isinstance(config, str):
        raise ConfigError(f"config: expected an EnvConfig or a setting name, got {excerpt(config)}")
    options = dict(options)
    setting = options.pop("setting", config)  # gymnasium.make(..., setting=...) names it as a keyword
    if not isinstance(setting, str):
        raise ConfigError(f"setting: expected a string, got {excerpt(setting)}")
    return env_config(setting, **options)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `a.b=value` into (["a", "b"], parsed YAML value)."""
    if "=" not in text:
        raise ConfigError(f"override {excerpt(text)}: expected KEY=VALUE, e.g. env.child_steps=200")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {excerpt(text)}: missing key before '='")
    try:
        value = load_yaml(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    except StrictYAMLError as err:
        raise ConfigError(f"override {excerpt(key)}: {err}") from None
    return key.split("."), value


def _merge(data: dict[str, Any], path: list[str], value: Any) -> None:
    node = data
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {'.'.join(path)}: {excerpt(part)} is not a section")
        node = child
    node[path[-1]] = value


def config_from_dict(data: Any, overrides: typing.Sequence[str] = ()) -> TrainConfig:
    """Build and check a TrainConfig from a parsed YAML mapping and `key=value` overrides."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"the config must be a mapping of keys to values, got {type(data).__name__}")
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for text in overrides:
        path, value = parse_override(text)
        _merge(data, path, value)
    env_data = data.get("env") or {}
    if not isinstance(env_data, dict):
        raise ConfigError(f"env: expected a mapping of keys to values, got {excerpt(env_data)}")
    setting = env_data.get("setting", EnvConfig.setting)
    if not isinstance(setting, str):
        raise ConfigError(f"env.setting: expected a string, got {excerpt(setting)}")
    env_base = _build(EnvConfig, {"setting": setting, **setting_env_defaults("env.setting", setting)}, "env.")
    base = TrainConfig(env=env_base, run_dir=f"runs/{setting_label(setting)}")
    return validate(_build(TrainConfig, data, "", base))


def env_with_overrides(env: EnvConfig, overrides: typing.Sequence[str]) -> EnvConfig:
    """`env` with `env.KEY=VALUE` overrides (the names `train --set` uses), checked like a config file.

    Naming another setting (`env.setting=...`) starts from that setting's defaults.
    """
    data: dict[str, Any] = {"env": to_dict(env)}
    for text in overrides:
        path, value = parse_override(text)
        if len(path) < 2 or path[0] != "env":
            raise ConfigError(f"override {excerpt(text)}: only environment keys can be set here, as env.KEY=VALUE "
                              "(e.g. env.child_steps=200)")
        if path[1:] == ["setting"]:
            data = {"env": {"setting": value, **{k: v for k, v in data["env"].items()
                                                 if k in ("device", "data_root", "download")}}}
        _merge(data, path, value)
    return config_from_dict(data).env


def load_config(path: str | os.PathLike[str] | None, overrides: typing.Sequence[str] = ()) -> TrainConfig:
    """Load a YAML config file (None: the built-in default) and apply `key=value` overrides."""
    if path is None:
        return config_from_dict({}, overrides)
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found; see configs/ for examples")
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except StrictYAMLError as err:
        raise ConfigError(f"config file {str(path)!r}: {err}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        first = first_line(err) or type(err).__name__
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {first}") from None
    return config_from_dict(data, overrides)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain, YAML-safe dict of a config dataclass (tuples become lists)."""
    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    return {
        f.name: to_dict(getattr(cfg, f.name)) if dataclasses.is_dataclass(getattr(cfg, f.name))
        else plain(getattr(cfg, f.name))
        for f in dataclasses.fields(cfg)
    }


def dump_yaml(cfg: Any) -> str:
    """The config as YAML text, loadable again with `load_config`."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)

