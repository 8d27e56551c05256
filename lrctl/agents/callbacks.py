"""stable-baselines3 callbacks: per-episode TensorBoard scalars and periodic checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from stable_baselines3.common.callbacks import BaseCallback

from lrctl.agents.checkpoints import save_checkpoint


class EpisodeStatsCallback(BaseCallback):
    """Logs each finished child run: final validation loss, final LR, divergence (also per initial LR).

    Scalars go under `episode/` and are averaged over the episodes of one PPO iteration. Episodes cut
    short by a lost Ray actor are counted apart (`truncated_by_lost_actor`), not as child runs; a run
    truncated when its round of drawn tasks ends (it had restarted after a divergence) has no final loss.
    """

    def __init__(self, episodes: int = 0, diverged: int = 0, lost_actor_episodes: int = 0) -> None:
        super().__init__()
        self.episodes = episodes
        self.diverged = diverged
        self.lost_actor_episodes = lost_actor_episodes

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            if not done:
                continue
            if info.get("actor_restarted"):
                self.lost_actor_episodes += 1
                self.logger.record("episode/truncated_by_lost_actor", self.lost_actor_episodes)
                continue
            self.episodes += 1
            tag = f"lr0={info.get('initial_lr', float('nan')):.0e}"
            self.logger.record_mean("episode/final_lr", info["lr"])
            self.logger.record_mean(f"episode/final_lr/{tag}", info["lr"])
            if info.get("diverged"):
                self.diverged += 1
            elif "final_val_loss" in info:  # a run cut short at its round's end (TimeLimit.truncated) has none
                self.logger.record_mean("episode/final_val_loss", info["final_val_loss"])
                self.logger.record_mean(f"episode/final_val_loss/{tag}", info["final_val_loss"])
            self.logger.record("episode/diverged_total", self.diverged)
            self.logger.record("episode/count", self.episodes)
        return True


class PeriodicCheckpointCallback(BaseCallback):
    """Saves a resumable checkpoint every `every` timesteps (model + VecNormalize statistics).

    Saves happen at the start of a rollout, when the model has trained on every timestep it counts, so
    a resumed run neither loses nor repeats experience. `consistent_timesteps` and `consistent_counters`
    describe that last consistent point, for a save on Ctrl-C. `counters` returns the run totals.
    """

    def __init__(self, folder: Path, every: int, counters: Callable[[], dict[str, float]]) -> None:
        super().__init__()
        self.folder = folder
        self.every = every
        self.counters = counters
        self._next = every
        self.consistent_timesteps = 0
        self.consistent_counters: dict[str, float] = {}

    def _on_training_start(self) -> None:
        self._next = (self.num_timesteps // self.every + 1) * self.every

    def _on_rollout_start(self) -> None:
        self.consistent_timesteps = self.num_timesteps
        self.consistent_counters = self.counters()
        if self.num_timesteps >= self._next:
            save_checkpoint(self.folder, self.model, self.model.get_vec_normalize_env(), self.consistent_counters)
            self._next = (self.num_timesteps // self.every + 1) * self.every

    def _on_step(self) -> bool:
        return True
