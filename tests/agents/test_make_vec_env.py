"""stable-baselines3's `make_vec_env` builds the environment from its id, as SB3 users do: in this
process (DummyVecEnv) and in subprocesses started from a user's script (SubprocVecEnv)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from stable_baselines3.common.env_util import make_vec_env

import lrctl  # noqa: F401  registers lrctl/LRControl-v0
from lrctl.envs import ENV_ID
from tests.conftest import SMALL_ENV

pytestmark = pytest.mark.slow  # starts processes: `-m "not slow"` leaves it out
ROOT = Path(__file__).resolve().parents[2]
USER_SCRIPT = f"""
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv

import lrctl  # registers {ENV_ID}

if __name__ == "__main__":
    venv = make_vec_env("{ENV_ID}", n_envs=2, vec_env_cls=SubprocVecEnv, seed=3, env_kwargs={SMALL_ENV!r})
    PPO("MlpPolicy", venv, n_steps=8, batch_size=16, n_epochs=1, seed=0).learn(32)
    print("trained on", venv.num_envs, "subprocesses")
    venv.close()
"""


def test_make_vec_env_with_the_id_in_this_process():
    venv = make_vec_env(ENV_ID, n_envs=2, seed=3, env_kwargs=SMALL_ENV)  # SB3 asks for render_mode="rgb_array"
    obs = venv.reset()
    assert obs.shape == (2, len(venv.get_attr("feature_names")[0]))
    assert venv.get_attr("render_mode") == ["rgb_array", "rgb_array"]
    venv.close()


def test_make_vec_env_with_the_id_in_subprocesses_from_a_users_script(tmp_path):
    script = tmp_path / "train_with_sb3.py"
    script.write_text(USER_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "trained on 2 subprocesses" in done.stdout
