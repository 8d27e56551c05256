"""Training on Ray actors: a lost actor does not stop the run and is counted; --resume works on Ray."""

import json
import os
import signal

import pytest

from lrctl.agents.ray_vec_env import RayVecEnv
from lrctl.agents.trainer import resume, train
from lrctl.config import load_config

pytestmark = [pytest.mark.usefixtures("local_ray"), pytest.mark.slow]  # `-m "not slow"` leaves Ray out
TINY_ON_RAY = [
    "env.child_steps=40", "env.steps_per_action=10", "env.batch_size=16", "env.val_subset_size=32",
    "ppo.n_envs=2", "ppo.vec_env=ray", "ppo.n_steps=8", "ppo.batch_size=16", "ppo.n_epochs=1",
    "report_seeds=[7]", "env.initial_lrs=[0.001]", "progress_bar=false",
]


def test_training_goes_on_when_an_actor_is_killed_mid_episode(tmp_path, monkeypatch):
    cfg = load_config(None, TINY_ON_RAY + ["ppo.total_timesteps=96", "checkpoint_every=16",
                                           f"run_dir={tmp_path / 'run'}"])
    killed: list[int] = []
    steps_sent = 0
    step_async = RayVecEnv.step_async

    def kill_actor_0_before_the_tenth_step(self: RayVecEnv, actions) -> None:
        # The tenth step is the second decision of an episode, after the first checkpoint (16 timesteps).
        nonlocal steps_sent
        steps_sent += 1
        if steps_sent == 10:
            pid = self.actor_pids()[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        step_async(self, actions)

    monkeypatch.setattr(RayVecEnv, "step_async", kill_actor_0_before_the_tenth_step)
    with pytest.warns(RuntimeWarning, match="was lost"):
        result = train(cfg, log=lambda *_: None)
    assert len(killed) == 1
    assert result.timesteps == 96 and result.lost_actor_episodes == 1
    assert result.episodes + result.lost_actor_episodes >= 96 // 4 - 2
    assert "1 more truncated by lost Ray actors" in (tmp_path / "run" / "report.md").read_text()
    counters = json.loads((tmp_path / "run" / "checkpoints" / "latest.json").read_text())["counters"]
    assert counters["lost_actor_episodes"] == 1


def test_resume_from_a_mid_run_checkpoint_on_ray(tmp_path):
    run_dir = tmp_path / "run"
    cfg = load_config(None, TINY_ON_RAY + ["ppo.total_timesteps=64", "checkpoint_every=32", f"run_dir={run_dir}"])
    train(cfg, log=lambda *_: None)
    # What a kill -9 after the first checkpoint leaves: latest.json naming the checkpoint at 32.
    pointer = run_dir / "checkpoints" / "latest.json"
    saved = json.loads(pointer.read_text())
    pointer.write_text(json.dumps({**saved, "timesteps": 32, "model": "model_000000032.pt",
                                   "vecnormalize": "vecnormalize_000000032.npz",
                                   "counters": {"episodes": 8, "diverged": 0, "wall_time_s": 1.0}}))
    (run_dir / "policy.pt").unlink()
    result = resume(run_dir, log=lambda *_: None)
    assert result.timesteps == 64 and result.episodes == 16  # 8 before the checkpoint, 8 after
    assert (run_dir / "policy.pt").is_file()
    assert json.loads(pointer.read_text())["timesteps"] == 64
