"""The Ray options of the command line: without Ray, a named cluster that does not answer, misuse.
Each is one line and exit 2 before any compute; nothing is written."""

import time

import pytest

from lrctl.cli import main

pytestmark = pytest.mark.slow  # `-m "not slow"` leaves it out

TRAIN_ON_RAY = ["train", "--set", "ppo.vec_env=ray", "--set", "ppo.total_timesteps=64", "--no-progress"]


def _fails_with(capsys, argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


@pytest.mark.parametrize("argv", [TRAIN_ON_RAY, ["evaluate", "--ray", "--quick"]])
def test_without_ray_installed_the_cli_says_how_to_install_it(monkeypatch, capsys, tmp_path, argv):
    monkeypatch.setattr("lrctl.ray_cluster.ray_installed", lambda: False)
    monkeypatch.chdir(tmp_path)
    _fails_with(capsys, argv, 'needs Ray, which is not installed; install it with: pip install "lrctl[ray]"')
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("address", ["127.0.0.1:1", "not-an-address"])
def test_a_cluster_that_does_not_answer_is_one_line(capsys, tmp_path, address):
    pytest.importorskip("ray")
    start = time.monotonic()
    _fails_with(capsys, TRAIN_ON_RAY + ["--ray-address", address, "--run-dir", str(tmp_path / "run")],
                f"no Ray cluster answers at {address!r}")
    _fails_with(capsys, ["evaluate", "--ray", address, "--quick", "--out", str(tmp_path / "eval")],
                f"no Ray cluster answers at {address!r}")
    assert time.monotonic() - start < 60  # Ray alone retries a dead address for minutes
    assert not (tmp_path / "run").exists() and not (tmp_path / "eval").exists()


def test_ray_address_without_the_ray_vec_env_is_a_usage_error(capsys, tmp_path):
    _fails_with(capsys, ["train", "--ray-address", "127.0.0.1:6379", "--run-dir", str(tmp_path / "run")],
                "--ray-address 127.0.0.1:6379 applies to ppo.vec_env=ray")


def test_envs_per_actor_must_divide_n_envs(capsys, tmp_path):
    pytest.importorskip("ray")
    _fails_with(capsys, TRAIN_ON_RAY + ["--set", "ppo.n_envs=4", "--set", "ppo.ray.envs_per_actor=3",
                                        "--run-dir", str(tmp_path / "run")],
                "ppo.ray.envs_per_actor: 3 does not divide ppo.n_envs (4)")
