"""Train a PPO controller on LRControl environments and write a run directory.

Run directory layout:
    config.yaml            the resolved config (loadable with --config)
    checkpoints/           resumable checkpoints (model_N.zip, vecnormalize_N.pkl, latest.json)
    tb/                    TensorBoard logs (PPO losses, episode/final_val_loss, episode/final_lr, ...)
    model.zip              the final SB3 model
    vecnormalize.pkl       its VecNormalize statistics
    policy.pt              the deployable policy (torch only; see lrctl.policy)
    report.md              learned policy vs constant LR per initial LR, on held-out seeds
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from collections.abc import Callable
from pathlib import Path

from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.vec_env import VecNormalize

from lrctl.agents.callbacks import EpisodeStatsCallback, PeriodicCheckpointCallback
from lrctl.agents.checkpoints import CheckpointError, latest_checkpoint, save_checkpoint
from lrctl.agents.vec_env import build_vec_env, normalize
from lrctl.atomic import remove_leftovers, unwritable_reason, write_atomic, write_text_atomic
from lrctl.config import ConfigError, TrainConfig, dump_yaml, load_config, validate
from lrctl.data import ensure_data
from lrctl.agents.export import export_policy
from lrctl.evaluation.report import write_report

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
        policy_kwargs=dict(net_arch=NET_ARCH),
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
    ensure_data(cfg.env)
    venv = normalize(build_vec_env(cfg.env, cfg.ppo, cfg.seed, ray_address), cfg.ppo)
    model = build_ppo(cfg, venv, run_dir)
    start_run_dir(cfg, run_dir, overwrite)  # only now: a run that could not start leaves no folder behind
    return _learn(cfg, model, venv, run_dir, counters={}, fresh=True, log=log)


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
    ckpt = latest_checkpoint(run_dir / "checkpoints")
    if ckpt is None:
        raise CheckpointError(f"--resume {run_dir}: no checkpoint yet; start again with --overwrite")
    if total_timesteps is not None:
        if total_timesteps <= ckpt.timesteps:
            raise ConfigError(f"--total-timesteps {total_timesteps}: the run already has {ckpt.timesteps} "
                              f"timesteps; give a larger total to train it further")
        cfg = validate(replace(cfg, ppo=replace(cfg.ppo, total_timesteps=total_timesteps)))
        write_text_atomic(run_dir / CONFIG_FILE, dump_yaml(cfg))
    ensure_data(cfg.env)
    for folder in (run_dir, run_dir / "checkpoints"):
        remove_leftovers(folder)
    raw = build_vec_env(cfg.env, cfg.ppo, cfg.seed + ckpt.timesteps, ray_address)
    try:
        venv = VecNormalize.load(str(ckpt.vecnormalize), raw)
        model = PPO.load(str(ckpt.model), env=venv, device="cpu", tensorboard_log=str(run_dir / "tb"))
    except Exception as err:  # SB3 raises many types for a damaged zip or pickle
        raw.close()
        raise CheckpointError(
            f"cannot load checkpoint {ckpt.model.name} ({type(err).__name__}); delete "
            f"{run_dir / 'checkpoints' / 'latest.json'} to start over"
        ) from None
    model.set_random_seed(cfg.seed + ckpt.timesteps)
    log(f"resuming {run_dir} at {ckpt.timesteps} of {cfg.ppo.total_timesteps} timesteps")
    return _learn(cfg, model, venv, run_dir, counters=ckpt.counters, fresh=False, log=log)


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
    write_atomic(run_dir / "model.zip", model.save, suffix=".zip")
    write_atomic(run_dir / "vecnormalize.pkl", venv.save)
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
