"""report.md's verdict: where the learned policy's mean final loss beats the constant LR and the best baseline."""

from lrctl.evaluation.records import RunResult
from lrctl.evaluation.report import best_baseline, verdict


def _runs(method: str, lr: float, finals: list[float]) -> list[RunResult]:
    return [RunResult(method, seed, lr, final={"final_val_loss": v}) for seed, v in enumerate(finals)]


def _at(lr: float, **finals: list[float]) -> dict[str, list[RunResult]]:
    return {name.replace("_", "-"): _runs(name.replace("_", "-"), lr, v) for name, v in finals.items()}


def test_verdict_counts_initial_lrs_and_names_the_baseline_ahead():
    results = {
        0.01: _at(0.01, learned=[0.30, 0.32], constant=[0.40, 0.41], cosine=[0.20, 0.22], onecycle=[0.25, 0.25]),
        0.001: _at(0.001, learned=[0.10, 0.12], constant=[0.15, 0.11], cosine=[0.30, 0.31], onecycle=[0.2, 0.2]),
    }
    line = verdict(results)
    assert "than the constant LR at 2 of 2" in line
    assert "than the best baseline at 1 of 2" in line
    assert "0.01: cosine 0.2100 vs 0.3100" in line
    assert "0.001:" not in line


def test_a_diverged_policy_run_loses_the_verdict():
    diverged = RunResult("learned", 1, 0.01, diverged=True)
    results = {0.01: {"learned": [*_runs("learned", 0.01, [0.1]), diverged],
                      "constant": _runs("constant", 0.01, [0.5, 0.5])}}
    assert "than the constant LR at 0 of 1" in verdict(results)


def test_best_baseline_ignores_the_learned_policy():
    runs = _at(0.01, learned=[0.01], constant=[0.5], linear=[0.3], plateau=[0.4])
    assert best_baseline(runs) == "linear"
