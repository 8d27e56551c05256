"""`--baselines`: an evaluation runs the learned policy and only the baselines it names, and tunes only
the ones that need tuning."""

import pytest

from lrctl.config import ConfigError, env_config
from lrctl.evaluation import protocol
from lrctl.evaluation.outputs import summary_markdown
from lrctl.evaluation.protocol import evaluate, plan_for
from tests.evaluation.conftest import EVAL_ENV


def _plan(policy_path, baselines, **kwargs):
    return plan_for(env_config("digits-mlp", **EVAL_ENV), policy_path, seeds=[11], initial_lrs=[1e-3], workers=1,
                    baselines=baselines, **kwargs)


def test_only_the_named_baselines_run_and_nothing_is_tuned(policy_path, monkeypatch):
    batches = []
    real_run_tasks = protocol.run_tasks
    monkeypatch.setattr(protocol, "run_tasks", lambda tasks, *a, **k: batches.append(tasks) or real_run_tasks(tasks, *a, **k))
    result = evaluate(_plan(policy_path, ["cosine", "constant"], include_peers=False))
    assert {r.method for r in result.runs} == {"learned", "constant", "cosine"}
    assert len(batches) == 1  # the evaluation grid only: no tuning runs
    assert result.best_constant_lr is None and result.clara_damping == {}
    assert "none (no tuned baseline in this evaluation)" in summary_markdown(result)


def test_clara_alone_is_tuned_and_named_after_the_child_optimizer(policy_path):
    result = evaluate(_plan(policy_path, ["clara"], include_peers=False))
    assert {r.method for r in result.runs} == {"learned", "clara-adam"}
    assert set(result.clara_damping) == {1e-3} and result.best_constant_lr is None


def test_an_unknown_baseline_is_refused_with_the_names_to_choose_from(policy_path):
    with pytest.raises(ConfigError, match="unknown baseline 'adagrad'; choose from: constant, best-constant"):
        _plan(policy_path, ["cosine", "adagrad"])


def test_a_peer_baseline_says_how_to_install_it(policy_path, monkeypatch):
    monkeypatch.setattr(protocol, "optional_peer_available", lambda package: False)
    with pytest.raises(ConfigError, match=r'schedulefree: pip install "lrctl\[peers\]"'):
        _plan(policy_path, ["schedule-free"])
    with pytest.raises(ConfigError, match="--no-peers leaves out"):
        _plan(policy_path, ["prodigy"], include_peers=False)
