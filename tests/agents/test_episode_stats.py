"""The per-episode TensorBoard scalars: every way an episode ends is logged without error."""

from stable_baselines3 import PPO
from stable_baselines3.common.logger import Logger

from lrctl.agents.callbacks import EpisodeStatsCallback


def _step(callback, infos):
    callback.update_locals({"infos": infos, "dones": [True] * len(infos)})
    assert callback.on_step()


def test_finished_diverged_and_round_truncated_runs_are_counted():
    callback = EpisodeStatsCallback()
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=16, batch_size=16, device="cpu")
    model.set_logger(Logger(folder=None, output_formats=[]))
    callback.init_callback(model)
    finished = {"lr": 1e-3, "initial_lr": 1e-3, "diverged": False, "final_val_loss": 0.3}
    diverged = {"lr": 1.0, "initial_lr": 1e-2, "diverged": True}
    # restarted after a divergence, then cut at the end of its round's task: no final evaluation
    truncated = {"lr": 1e-3, "initial_lr": 1e-3, "diverged": False, "TimeLimit.truncated": True}
    _step(callback, [finished, diverged, truncated])
    assert (callback.episodes, callback.diverged) == (3, 1)
    assert callback.logger.name_to_value["episode/final_val_loss"] == 0.3
