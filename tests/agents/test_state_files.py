"""Nothing lrctl reads from a run folder can run code: its state is tensors and arrays, a crafted
pickle is never unpickled, and the one command that reads an older run's pickles must be asked for."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from lrctl.agents.state import StateFileError, load_agent, load_normalization
from lrctl.cli import main
from lrctl.config import dump_yaml, load_config
from lrctl.deploy.policy import load_policy

TINY = ["env.child_steps=20", "env.steps_per_action=5", "env.val_subset_size=64", "ppo.total_timesteps=48",
        "ppo.n_envs=2", "ppo.vec_env=dummy", "ppo.n_steps=12", "ppo.batch_size=12", "ppo.n_epochs=1",
        "checkpoint_every=24", "report_seeds=[7]", "progress_bar=false"]

pytestmark = pytest.mark.slow  # `-m "not slow"` leaves it out


class _Payload:
    """Unpickling this creates the file `marker`: what a crafted file in a shared run folder would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _crafted_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps(_Payload(marker)))


def _crafted_sb3_zip(path: Path, marker: Path) -> None:
    """An SB3-looking model.zip whose data entry and tensors are pickles that would create `marker`."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps({"policy_class": {":serialized:": pickle.dumps(_Payload(marker)).hex()}}))
        archive.writestr("policy.pth", pickle.dumps(_Payload(marker)))


@pytest.fixture
def old_run(tmp_path):
    """A run folder in the layout of an older lrctl (pickled state), every pickle of it crafted."""
    run = tmp_path / "shared_run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(dump_yaml(load_config(None, TINY)))
    marker = tmp_path / "code-ran"
    _crafted_sb3_zip(run / "model.zip", marker)
    _crafted_pickle(run / "vecnormalize.pkl", marker)
    _crafted_sb3_zip(run / "checkpoints" / "model_000000024.zip", marker)
    _crafted_pickle(run / "checkpoints" / "vecnormalize_000000024.pkl", marker)
    (run / "checkpoints" / "latest.json").write_text(json.dumps(
        {"timesteps": 24, "model": "model_000000024.zip", "vecnormalize": "vecnormalize_000000024.pkl"}))
    return run, marker


@pytest.mark.parametrize("argv", [["export", "{run}"], ["export", "{run}", "--out", "{tmp}/p.pt"],
                                  ["train", "--resume", "{run}"]])
def test_a_crafted_older_run_folder_runs_no_code_and_says_how_to_convert(old_run, tmp_path, capsys, argv):
    run, marker = old_run
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert main([a.format(run=run, tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lrctl upgrade-run" in err
    assert not marker.exists()
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_crafted_state_files_in_the_current_layout_are_refused_unread(tmp_path):
    marker = tmp_path / "code-ran"
    agent = tmp_path / "agent.pt"
    torch.save({"policy": _Payload(marker)}, agent)  # a torch file whose pickle would run code
    with pytest.raises(StateFileError, match="agent.pt"):
        load_agent(agent)
    stats = tmp_path / "vecnormalize.npz"
    np.savez(stats, obs_mean=np.array([_Payload(marker)], dtype=object))  # an object array is a pickle
    with pytest.raises(StateFileError, match="vecnormalize.npz"):
        load_normalization(stats)
    assert not marker.exists()


def test_upgrade_run_converts_a_trusted_older_run_to_the_same_policy(tmp_path, capsys):
    from lrctl.agents.state import NORMALIZATION_FILE, restore_normalization
    from lrctl.agents.trainer import train
    from lrctl.agents.vec_env import build_vec_env, normalize

    cfg = load_config(None, [*TINY, f"run_dir={tmp_path / 'run'}"])
    run = train(cfg, log=lambda *_: None).run_dir
    trained = load_policy(run / "policy.pt")
    # The older layout: SB3's model.zip (written by every run) and the statistics pickled by VecNormalize.
    venv = normalize(build_vec_env(cfg.env, cfg.ppo, cfg.seed), cfg.ppo)
    restore_normalization(venv, load_normalization(run / NORMALIZATION_FILE))
    venv.save(str(run / "vecnormalize.pkl"))
    venv.close()
    for name in ("agent.pt", NORMALIZATION_FILE, "policy.pt"):
        (run / name).unlink()

    assert main(["export", str(run)]) == 2
    assert "upgrade-run" in capsys.readouterr().err
    assert main(["upgrade-run", str(run)]) == 0
    assert main(["export", str(run)]) == 0
    exported = load_policy(run / "policy.pt")
    assert exported.spec == trained.spec
    for mine, theirs in zip(exported.actor.state_dict().values(), trained.actor.state_dict().values()):
        assert torch.equal(mine, theirs)
    assert np.array_equal(exported.obs_mean, trained.obs_mean) and np.array_equal(exported.obs_var, trained.obs_var)


def test_export_writes_the_policy_training_wrote(tmp_path):
    from lrctl.agents.trainer import train

    run = train(load_config(None, [*TINY, f"run_dir={tmp_path / 'run'}"]), log=lambda *_: None).run_dir
    assert main(["export", str(run), "--out", str(tmp_path / "again.pt")]) == 0
    trained, again = load_policy(run / "policy.pt"), load_policy(tmp_path / "again.pt")
    assert trained.spec == again.spec and np.array_equal(trained.obs_var, again.obs_var)
    for mine, theirs in zip(again.actor.state_dict().values(), trained.actor.state_dict().values()):
        assert torch.equal(mine, theirs)
    assert not any(name.endswith(".pkl") for name in os.listdir(run))
