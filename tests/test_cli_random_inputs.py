"""Random command lines for train, evaluate, export and data import: each is refused with exit status 2
and one line before anything is written, or gets as far as its compute (stubbed out here), never a
traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrctl.cli import main

pytestmark = pytest.mark.slow  # `-m "not slow"` leaves it out


class ComputeStarted(Exception):
    """Raised by the stubs in place of training, evaluating, exporting or importing."""


def _stop(*_args, **_kwargs):
    raise ComputeStarted


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    (root / "afile").write_text("x")
    (root / "cfg.yaml").write_text("env:\n  child_steps: 20\n")
    (root / "src").mkdir()
    return root


_VALUES = st.sampled_from(["0", "1", "-1", "2.5", "nan", "inf", "1e38", "300000", "4294967296", "", "x",
                           "[1]", "[-5]", "{a: 1}", "afile", "afile/sub", "out", "cfg.yaml", "missing.yaml",
                           "src", "digits-mlp", "nope", "true", "0.001"])
_KEYS = st.sampled_from(["seed", "report_seeds", "run_dir", "checkpoint_every", "env.child_steps",
                         "env.steps_per_action", "env.initial_lrs", "env.max_change", "env.lr_min",
                         "env.setting", "env.tasks.widths", "ppo.total_timesteps", "ppo.n_envs",
                         "ppo.batch_size", "ppo.gamma", "bogus", "env", "env.bogus"])
_SET = st.tuples(st.just("--set"), st.builds(lambda k, v: f"{k}={v}", _KEYS, _VALUES))
_OPTION = {
    "train": st.one_of(_SET, st.tuples(st.sampled_from(["--config", "--run-dir", "--seed", "--resume"]), _VALUES),
                       st.tuples(st.sampled_from(["--overwrite", "--no-progress"]))),
    "evaluate": st.one_of(_SET, st.tuples(st.sampled_from(["--setting", "--run-dir", "--policy", "--seeds",
                                                           "--initial-lrs", "--out", "--workers"]), _VALUES),
                          st.tuples(st.sampled_from(["--quick", "--no-peers", "--batched"]))),
    "export": st.tuples(st.sampled_from(["--out"]), _VALUES),
    "import": st.tuples(st.sampled_from(["--root"]), _VALUES),
}


@st.composite
def command_lines(draw) -> list[str]:
    command = draw(st.sampled_from(sorted(_OPTION)))
    head = {"train": ["train"], "evaluate": ["evaluate"], "export": ["export", draw(_VALUES)],
            "import": ["data", "import", draw(st.sampled_from(["mnist", "fashion-mnist", "cifar"])),
                       draw(_VALUES)]}[command]
    options = draw(st.lists(_OPTION[command], max_size=4))
    return head + [token for option in options for token in option]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=command_lines())
def test_random_command_lines_exit_0_or_2_without_partial_output(workspace, monkeypatch, capsys, argv):
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("LRCTL_DATA", str(workspace / "data"))
    monkeypatch.setattr("lrctl.agents.trainer.build_vec_env", _stop)
    monkeypatch.setattr("lrctl.evaluation.protocol.evaluate", _stop)
    monkeypatch.setattr("lrctl.agents.export.export_policy", _stop)
    monkeypatch.setattr("lrctl.data.write_atomic", _stop)
    before = _tree(workspace)
    try:
        status = main(argv)
    except ComputeStarted:
        status = 0
    except SystemExit as stop:  # argparse: usage errors exit 2, --help 0
        status = stop.code
    err = capsys.readouterr().err
    assert status in (0, 2), (argv, err)
    assert "Traceback" not in err
    if status == 2 and err.startswith("lrctl: error:"):
        assert err.count("\n") == 1, (argv, err)
    assert _tree(workspace) == before, argv
