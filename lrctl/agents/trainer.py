"""Train a PPO controller on LRControl environments and write a run directory.

Run directory layout:
    config.yaml            the resolved config (loadable with --config)
    checkpoints/           resumable checkpoints (model_N.pt, vecnormalize_N.npz, latest.json)
    tb/                    TensorBoard logs (PPO losses, episode/final_val_loss, episode/final_lr, ...)
    agent.pt               the final PPO weights and optimizer state (tensors only)
    vecnormalize.npz       its VecNormalize statistics (arrays only)
    model.zip              the final model as SB3 saves it, for SB3 users; lrctl never reads it
    policy.pt              the deployable policy (torch only; see lrctl.deploy.policy)
    report.md              learned policy vs constant LR per initial LR, on held-out seeds

lrctl reads nothing from a run folder that can run code (see `lrctl.agents.state`), and one process
at a time writes into it (`lrctl.run_lock`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.vec_env import VecNormalize

from lrctl.agents.callbacks import EpisodeStatsCallback, PeriodicCheckpointCallback
from lrctl.agents.checkpoints import (
    Checkpoint,
    CheckpointError,
    latest_checkpoint,
    save_checkpoint,
)
from lrctl.agents.export import export_policy
from lrctl.agents.state import (
    AGENT_FILE,
    NORMALIZATION_FILE,
    StateFileError,
    load_agent,
    load_normalization,
    restore_agent,
    restore_normalization,
    save_agent,
    save_normalization,
)
from lrctl.agents.vec_env import build_vec_env, normalize
from lrctl.atomic import (
    remove_leftovers,
    unwritable_reason,
    write_atomic,
    write_text_atomic,
)
from lrctl.config import ConfigError, TrainConfig, dump_yaml, load_config, validate
from lrctl.data import ensure_data
from lrctl.evaluation.report import write_report
from lrctl.run_lock import LOCK_FILE, OWNER_FILE, run_folder_lock

CONFIG_FILE = "config.yaml"
NET_ARCH = dict(pi=[32, 32], vf=[32, 32])


class TrainingInterrupted(Exception):
    """Training stopped on Ctrl-C after saving a checkpoint."""

    def __init__(self, run_dir: Path, timesteps: int) -> None:
        super().__init__(
            f"interrupted at {timesteps} timesteps; checkpoint saved in {run_dir / 'checkpoints'}; "
            f"continue with: lrctl train --resume {run_dir}"
        )


@dataclass(frozen=True)
class TrainResult:
    """What a finished training run produced."""

    run_dir: Path
    timesteps: int
    episodes: int
    diverged: int
    wall_time_s: float
    lost_actor_episodes: int = 0


def check_run_dir(cfg: TrainConfig, overwrite: bool) -> Path:
    """The run directory, checked without writing anything: a folder (or a path one can be made at)
    that this process can write, and that holds no other run unless `overwrite`."""
    run_dir = Path(cfg.run_dir)
    problem = unwritable_reason(run_dir, folder=True)
    if problem:
        raise ConfigError(f"run_dir {str(run_dir)!r} cannot be used ({problem}); choose another with --run-dir")
    if (run_dir / CONFIG_FILE).exists() and not overwrite:
        raise ConfigError(
            f"run_dir {str(run_dir)!r} already holds a run; continue it with --resume {run_dir}, "
            "start over with --overwrite, or choose another with --set run_dir=..."
        )
    return run_dir


def start_run_dir(cfg: TrainConfig, run_dir: Path, overwrite: bool) -> None:
    """Create the checked run directory, clear an overwritten run's checkpoints, write the config."""
    if overwrite and (run_dir / "checkpoints").exists():
        for old in (run_dir / "checkpoints").iterdir():
            old.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(run_dir)
    write_text_atomic(run_dir / CONFIG_FILE, dump_yaml(cfg))


def build_ppo(cfg: TrainConfig, venv: VecNormalize, run_dir: Path) -> PPO:
    """A fresh SB3 PPO with the 2x32 actor and critic and the config's hyperparameters."""
    ppo = cfg.ppo
    return PPO(
        "MlpPolicy",
        venv,
        n_steps=ppo.n_steps,
        batch_size=ppo.batch_size,
        n_epochs=ppo.n_epochs,
        learning_rate=ppo.learning_rate,
        gamma=ppo.gamma,
        gae_lambda=ppo.gae_lambda,
        clip_range=ppo.clip_range,
        ent_coef=ppo.ent_coef,
        vf_coef=ppo.vf_coef,
        max_grad_norm=ppo.max_grad_norm,
        policy_kwargs=dict(net_arch=NET_ARCH, log_std_init=ppo.log_std_init),
        tensorboard_log=str(run_dir / "tb"),
        seed=cfg.seed,
        device="cpu",
        verbose=0,
    )


def train(cfg: TrainConfig, *, overwrite: bool = False, log: Callable[[str], object] = print,
          ray_address: str | None = None) -> TrainResult:
    """Train a controller from scratch as `cfg` says and write the run directory.

    `ray_address` names the Ray cluster of `ppo.vec_env: ray` (default: RAY_ADDRESS, or a local Ray).
    """
    run_dir = check_run_dir(cfg, overwrite)
    created = _first_missing(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with run_folder_lock(run_dir):
            check_run_dir(cfg, overwrite)  # again under the lock: another process may have started a run
            ensure_data(cfg.env)
            venv = normalize(build_vec_env(cfg.env, cfg.ppo, cfg.seed, ray_address), cfg.ppo)
            model = build_ppo(cfg, venv, run_dir)
            start_run_dir(cfg, run_dir, overwrite)
            return _learn(cfg, model, venv, run_dir, counters={}, fresh=True, log=log)
    finally:
        if created is not None:
            _remove_if_unused(run_dir, created)


def _first_missing(path: Path) -> Path | None:
    """The outermost folder on the way to `path` (itself included) that does not exist yet; None if it does."""
    if path.exists():
        return None
    while not path.parent.exists():
        path = path.parent
    return path


def _remove_if_unused(run_dir: Path, created: Path) -> None:
    """Remove the folders this run made, up to `created`, where nothing but its lock was written: a run
    that could not start leaves no folder behind."""
    if not run_dir.is_dir() or {p.name for p in run_dir.iterdir()} - {LOCK_FILE, OWNER_FILE}:
        return
    for name in (LOCK_FILE, OWNER_FILE):
        (run_dir / name).unlink(missing_ok=True)
    folder = run_dir
    while True:
        folder.rmdir()
        if folder == created or any(folder.parent.iterdir()):
            break
        folder = folder.parent


def resume(run_dir: str | Path, *, log: Callable[[str], object] = print,
           ray_address: str | None = None, total_timesteps: int | None = None) -> TrainResult:
    """Continue the run in `run_dir` from its latest checkpoint up to the total timesteps it asked for.

    Works after Ctrl-C and after a hard kill: checkpoints are written atomically and `latest.json`
    only ever names complete ones. The resumed part is seeded from the checkpoint's timestep count, so
    resuming twice from the same checkpoint gives the same run. `total_timesteps` trains the run further
    (also a finished one) up to that many timesteps; the run's config.yaml records the new total.
    """
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise ConfigError(f"--resume {str(run_dir)!r}: no {CONFIG_FILE} there; is it a run directory?")
    cfg = load_config(run_dir / CONFIG_FILE)
    if not os.access(run_dir, os.W_OK | os.X_OK):
        raise ConfigError(f"--resume {str(run_dir)!r}: the folder is not writable; fix its permissions")
    _checked_checkpoint(run_dir, total_timesteps)  # before the lock: a refused resume writes nothing
    with run_folder_lock(run_dir):
        ckpt = _checked_checkpoint(run_dir, total_timesteps)  # again: the run may have moved on meanwhile
        if total_timesteps is not None:
            cfg = validate(replace(cfg, ppo=replace(cfg.ppo, total_timesteps=total_timesteps)))
        def unloadable(err: StateFileError) -> CheckpointError:
            return CheckpointError(f"cannot load checkpoint {ckpt.model.name}: {err}; delete "
                                   f"{run_dir / 'checkpoints' / 'latest.json'} to start over")

        try:
            agent, statistics = load_agent(ckpt.model), load_normalization(ckpt.vecnormalize)
        except StateFileError as err:
            raise unloadable(err) from None
        ensure_data(cfg.env)
        for folder in (run_dir, run_dir / "checkpoints"):
            remove_leftovers(folder)
        venv = normalize(build_vec_env(cfg.env, cfg.ppo, cfg.seed + ckpt.timesteps, ray_address), cfg.ppo)
        try:
            restore_normalization(venv, statistics)
            model = build_ppo(cfg, venv, run_dir)
            restore_agent(model, agent)
        except StateFileError as err:
            venv.close()
            raise unloadable(err) from None
        if total_timesteps is not None:  # only once the checkpoint loaded: a failed resume leaves the config
            write_text_atomic(run_dir / CONFIG_FILE, dump_yaml(cfg))
        model.set_random_seed(cfg.seed + ckpt.timesteps)
        log(f"resuming {run_dir} at {ckpt.timesteps} of {cfg.ppo.total_timesteps} timesteps")
        return _learn(cfg, model, venv, run_dir, counters=ckpt.counters, fresh=False, log=log)


def _checked_checkpoint(run_dir: Path, total_timesteps: int | None) -> Checkpoint:
    """The run's latest checkpoint, where one exists and `total_timesteps` (if given) lies beyond it."""
    ckpt = latest_checkpoint(run_dir / "checkpoints")
    if ckpt is None:
        raise CheckpointError(f"--resume {run_dir}: no checkpoint yet; start again with --overwrite")
    if total_timesteps is not None and total_timesteps <= ckpt.timesteps:
        raise ConfigError(f"--total-timesteps {total_timesteps}: the run already has {ckpt.timesteps} "
                          f"timesteps; give a larger total to train it further")
    return ckpt


def _learn(cfg: TrainConfig, model: PPO, venv: VecNormalize, run_dir: Path, *,
           counters: dict[str, float], fresh: bool, log: Callable[[str], object]) -> TrainResult:
    stats = EpisodeStatsCallback(int(counters.get("episodes", 0)), int(counters.get("diverged", 0)),
                                 int(counters.get("lost_actor_episodes", 0)))
    wall_before = float(counters.get("wall_time_s", 0.0))
    start = time.perf_counter()

    def totals() -> dict[str, float]:
        return {"episodes": stats.episodes, "diverged": stats.diverged,
                "lost_actor_episodes": stats.lost_actor_episodes, "wall_time_s": wall_before + time.perf_counter() - start}

    ckpt_dir = run_dir / "checkpoints"
    checkpoints = PeriodicCheckpointCallback(ckpt_dir, cfg.checkpoint_every, totals)
    checkpoints.consistent_timesteps = model.num_timesteps
    checkpoints.consistent_counters = totals()
    callbacks = CallbackList([stats, checkpoints])
    remaining = cfg.ppo.total_timesteps - model.num_timesteps
    try:
        if remaining > 0:
            model.learn(
                total_timesteps=remaining,
                callback=callbacks,
                progress_bar=cfg.progress_bar,
                tb_log_name="ppo",
                reset_num_timesteps=fresh,
            )
    except KeyboardInterrupt:
        # Back to the last point where the model had learned from every counted timestep.
        model.num_timesteps = checkpoints.consistent_timesteps
        save_checkpoint(ckpt_dir, model, venv, {**checkpoints.consistent_counters,
                                                "wall_time_s": totals()["wall_time_s"]})
        venv.close()
        raise TrainingInterrupted(run_dir, model.num_timesteps) from None
    final = totals()
    save_checkpoint(ckpt_dir, model, venv, final)
    save_agent(run_dir / AGENT_FILE, model)
    save_normalization(run_dir / NORMALIZATION_FILE, venv)
    write_atomic(run_dir / "model.zip", model.save, suffix=".zip")
    policy_path = export_policy(model, venv, cfg.env, run_dir / "policy.pt")
    venv.close()
    lost = (f", {stats.lost_actor_episodes} truncated by lost Ray actors" if stats.lost_actor_episodes else "")
    log(f"trained {model.num_timesteps} timesteps in {final['wall_time_s']:.0f} s ({stats.episodes} episodes, "
        f"{stats.diverged} diverged{lost}); policy: {policy_path}")
    write_report(run_dir, cfg, timesteps=int(model.num_timesteps), episodes=stats.episodes,
                 diverged=stats.diverged, wall_time_s=final["wall_time_s"],
                 lost_actor_episodes=stats.lost_actor_episodes, log=log)
    return TrainResult(run_dir, int(model.num_timesteps), stats.episodes, stats.diverged, final["wall_time_s"],
                       stats.lost_actor_episodes)
