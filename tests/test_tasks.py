"""Task distributions: seeded draws from the configured choices, synthetic problems, and episodes on them."""

import numpy as np
import pytest
import torch

from lrctl.children.child import episode_rng
from lrctl.config import (
    ConfigError,
    EnvConfig,
    TaskDistribution,
    env_config,
    load_config,
)
from lrctl.tasks import ChildTask, draw_task, draws_tasks, synthetic_classification

TASKS = dict(datasets=["synthetic"], widths=[8, 16], depths=[1, 2], activations=["relu", "tanh"],
             batch_sizes=[8, 16], child_steps=[10, 20], optimizers=["adam", "sgd"])
SMALL = dict(steps_per_action=5, val_subset_size=32, tasks=TASKS)


def test_no_datasets_means_no_draws():
    assert not draws_tasks(EnvConfig())
    assert draws_tasks(env_config(**SMALL))


def test_draws_are_seeded_and_stay_within_the_choices():
    cfg = env_config(**SMALL)
    draws = [draw_task(cfg, episode_rng(s)) for s in range(40)]
    assert draws == [draw_task(cfg, episode_rng(s)) for s in range(40)]
    assert {t.batch_size for t in draws} == {8, 16}
    assert {t.child_steps for t in draws} == {10, 20}
    assert {t.optimizer for t in draws} == {"adam", "sgd"}
    models = {t.model for t in draws}
    assert all(m.split(":")[2] in ("relu", "tanh") for m in models)
    assert all(set(m.split(":")[1].split("-")) <= {"8", "16"} for m in models)
    assert len({t.data_seed for t in draws}) == 40  # a fresh synthetic problem per episode


def test_a_choice_among_one_value_draws_nothing():
    """So a choice list added with one entry (e.g. architectures: [mlp]) leaves every later draw as it was."""
    from lrctl.tasks import _choice

    rng, untouched = episode_rng(5), episode_rng(5)
    assert _choice(rng, ("mlp",)) == "mlp"
    assert rng.integers(2**31 - 1, size=4).tolist() == untouched.integers(2**31 - 1, size=4).tolist()


def test_cnn_children_are_drawn_for_images_only():
    cfg = env_config(**{**SMALL, "tasks": {**TASKS, "datasets": ["synthetic", "digits"],
                                           "architectures": ["mlp", "cnn"], "channels": [4, 6]}})
    draws = [draw_task(cfg, episode_rng(s)) for s in range(60)]
    assert all(t.model.startswith("mlp:") for t in draws if t.dataset == "synthetic")
    digits = {t.model.split(":")[0] for t in draws if t.dataset == "digits"}
    assert digits == {"mlp", "cnn"}
    assert all(set(t.model.split(":")[1].split("-")) <= {"4", "6"} for t in draws if t.model.startswith("cnn:"))


def test_a_value_listed_twice_is_drawn_twice_as_often():
    cfg = env_config(**{**SMALL, "tasks": {**TASKS, "datasets": ["digits"], "architectures": ["mlp", "cnn", "cnn"],
                                           "channels": [4]}})
    cnn_share = np.mean([draw_task(cfg, episode_rng(s)).model.startswith("cnn:") for s in range(600)])
    assert 0.6 < cnn_share < 0.73  # 2/3 in expectation; 1/2 if duplicates collapsed


def test_environment_trains_a_drawn_cnn_batched_and_alone():
    from lrctl.agents.batched_vec_env import BatchedLRControlVecEnv
    from lrctl.envs import LRControlEnv

    cfg = env_config(**{**SMALL, "tasks": {**TASKS, "datasets": ["digits"], "architectures": ["cnn"]}})
    task, decisions, last, _ = _episode(LRControlEnv(cfg), seed=4)
    assert task.model.startswith("cnn:") and decisions == task.child_steps // 5
    assert np.isfinite(last["final_val_loss"])
    venv = BatchedLRControlVecEnv(cfg, 2)
    venv.seed(4)
    venv.reset()
    _, rewards, _, _ = venv.step(np.zeros(2, dtype=np.int64))
    assert venv.children.task.model.startswith("cnn:") and np.isfinite(rewards).all()


def test_synthetic_problem_is_seeded_standardised_and_split():
    a, b = synthetic_classification(3), synthetic_classification(3)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_x[:5], synthetic_classification(4).train_x[:5])
    assert torch.allclose(a.train_x.mean(dim=0), torch.zeros(a.train_x.shape[1]), atol=1e-4)
    assert int(a.train_y.max()) < a.num_classes and 2 <= a.num_classes <= 10
    n = len(a.train_x) + len(a.val_x) + len(a.test_x)
    assert 600 <= n <= 3000 and len(a.test_x) == round(0.2 * n)


def test_task_env_takes_the_tasks_budget_batch_and_optimizer():
    task = ChildTask("digits", 0, "mlp:16:relu", batch_size=8, child_steps=20, optimizer="sgd")
    env = task.env(env_config(steps_per_action=5))
    assert (env.batch_size, env.child_steps, env.optimizer) == (8, 20, "sgd")


def _episode(env, seed):
    obs, info = env.reset(seed=seed)
    trace, done, steps = [obs.tobytes()], False, 0
    while not done:
        obs, reward, done, _, step_info = env.step(0)
        trace += [obs.tobytes(), reward]
        steps += 1
    return info["task"], steps, step_info, trace


def test_environment_trains_the_drawn_task_for_its_budget():
    from lrctl.envs import LRControlEnv

    env = LRControlEnv("digits-mlp", **SMALL)
    seen = set()
    for seed in range(6):
        task, decisions, last, _ = _episode(env, seed)
        seen.add(task.model)
        assert decisions == task.child_steps // 5
        assert last["child_step"] == task.child_steps and np.isfinite(last["final_val_loss"])
        assert env.child.data.num_classes == env.child.model[-1].out_features
    assert len(seen) > 1


def test_same_seed_gives_the_same_task_and_episode_bit_for_bit():
    from lrctl.envs import LRControlEnv

    first = _episode(LRControlEnv("digits-mlp", **SMALL), seed=9)
    second = _episode(LRControlEnv("digits-mlp", **SMALL), seed=9)
    assert first[0] == second[0] and first[3] == second[3]


def test_environment_with_tasks_passes_the_checkers():
    from gymnasium.utils.env_checker import check_env as gym_check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    from lrctl.envs import LRControlEnv

    sb3_check_env(LRControlEnv("digits-mlp", **SMALL), warn=False)
    gym_check_env(LRControlEnv("digits-mlp", **SMALL), skip_render_check=True)


def test_evaluation_run_trains_the_seeds_task():
    from lrctl.envs import LRControlEnv
    from lrctl.evaluation.methods import MethodSpec
    from lrctl.evaluation.runner import Task, run_task

    cfg = env_config(**SMALL)
    env = LRControlEnv(cfg)
    _, info = env.reset(seed=21, options={"initial_lr": 1e-3})
    run = run_task(Task(cfg, MethodSpec("constant", "constant"), 21, 1e-3))
    assert len(run.lrs) == info["task"].child_steps
    assert run.val_losses[0] == pytest.approx(info["val_loss"], rel=1e-5)


def test_evaluation_runs_of_several_seeds_train_one_seeds_task():
    from lrctl.evaluation.methods import MethodSpec
    from lrctl.evaluation.runner import Task, run_task
    from lrctl.tasks import episode_task

    cfg = env_config(**SMALL)
    constant = MethodSpec("constant", "constant")
    task_22, task_23 = (episode_task(cfg, episode_rng(seed)) for seed in (22, 23))
    assert (task_22.child_steps, task_23.child_steps) == (10, 20)  # budgets tell the two tasks apart
    own_22, own_23 = (run_task(Task(cfg, constant, seed, 1e-3)) for seed in (22, 23))
    borrowed = run_task(Task(cfg, constant, 22, 1e-3, task_seed=23))
    assert len(borrowed.lrs) == 20  # task 23's budget
    assert borrowed.val_losses[0] != own_23.val_losses[0]  # its own child, drawn from seed 22
    assert run_task(Task(cfg, constant, 22, 1e-3, task_seed=23)).val_losses == borrowed.val_losses
    assert len(own_22.lrs) == 10  # without task_seed each seed trains its own task


def _rounds(venv, n_steps):
    venv.seed(3)
    venv.reset()
    tasks, trace = [venv._round_task], []
    for _ in range(n_steps):
        obs, rewards, dones, infos = venv.step(np.zeros(venv.num_envs, dtype=np.int64))
        trace += [obs.tobytes(), rewards.tobytes()]
        if dones.any():
            assert dones.all()  # a round ends for every child at once
            tasks.append(venv._round_task)
    return tasks, trace


def test_batched_children_share_one_task_per_round_reproducibly():
    from lrctl.agents.batched_vec_env import BatchedLRControlVecEnv

    cfg = env_config(**SMALL)
    venv = BatchedLRControlVecEnv(cfg, 3)
    tasks, trace = _rounds(venv, 12)
    assert len(tasks) >= 3 and len(set(tasks)) > 1
    assert venv.children.task == tasks[-1]
    assert _rounds(BatchedLRControlVecEnv(cfg, 3), 12) == (tasks, trace)


def test_training_on_tasks_runs_batched():
    from lrctl.agents.batched_vec_env import BatchedLRControlVecEnv
    from lrctl.agents.vec_env import build_vec_env
    from lrctl.config import PPOConfig

    venv = build_vec_env(env_config(**SMALL), PPOConfig(vec_env="batched", n_envs=2), seed=0)
    assert isinstance(venv.venv, BatchedLRControlVecEnv)


def test_evaluation_of_tasks_runs_one_by_one_with_a_warning(tmp_path):
    from lrctl.deploy.policy import save_policy
    from lrctl.evaluation.methods import MethodSpec
    from lrctl.evaluation.runner import Task, run_task, run_tasks
    from tests.policy_helpers import make_policy

    path = tmp_path / "policy.pt"
    save_policy(make_policy(steps_per_action=5), path)
    cfg = env_config(**SMALL)
    tasks = [Task(cfg, MethodSpec("learned", "policy", {"path": str(path)}), s, 1e-3) for s in (1, 2)]
    with pytest.warns(UserWarning, match="each seed draws its own task"):
        runs = run_tasks(tasks, batched=True)
    assert [r.lrs for r in runs] == [run_task(t).lrs for t in tasks]  # each seed's own task and budget


def test_evaluation_outputs_list_the_task_each_seed_trained_and_plot_runs_of_other_budgets(tmp_path):
    from lrctl.deploy.policy import save_policy
    from lrctl.evaluation.outputs import summary_markdown, write_outputs
    from lrctl.evaluation.protocol import evaluate, plan_for
    from tests.policy_helpers import make_policy

    path = tmp_path / "policy.pt"
    save_policy(make_policy(steps_per_action=5), path)
    seeds = [0, 1, 2]  # budgets of 10, 20 and 20 steps
    result = evaluate(plan_for(env_config(**SMALL), str(path), seeds=seeds, initial_lrs=[1e-3], workers=1,
                               baselines=["constant"], include_peers=False))
    summary = summary_markdown(result)
    assert summary.startswith("# Evaluation: tasks drawn from synthetic (env.tasks)")
    assert "Tasks drawn per seed from synthetic" in summary and "Budget " not in summary
    rows = summary.split("## Tasks")[1].strip().splitlines()[2:]
    assert len(rows) == len(seeds)
    for seed, row in zip(seeds, rows):
        task = draw_task(env_config(**SMALL), episode_rng(seed))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells == [str(seed), f"synthetic (data seed {task.data_seed})", task.model, str(task.batch_size),
                         str(task.child_steps), task.optimizer]
        trained = [r for r in result.runs if r.seed == seed]
        assert {len(r.lrs) for r in trained} == {task.child_steps}  # the row is the task the seed trained
    assert len({len(r.lrs) for r in result.runs}) == 2  # budgets of 10 and 20 steps among the seeds
    paths = write_outputs(result, tmp_path / "eval")
    assert paths["plot_0.001"].stat().st_size > 0


def test_runs_of_other_budgets_are_averaged_over_the_fraction_of_each_budget():
    from lrctl.evaluation.outputs import _mean_curves
    from lrctl.evaluation.records import RunResult

    short = RunResult("m", 1, 1e-3, lrs=[1e-3] * 10, val_steps=[0, 5, 10], val_losses=[2.0, 1.0, 0.5])
    long = RunResult("m", 2, 1e-3, lrs=[1e-3] * 10 + [3e-3] * 10, val_steps=[0, 5, 10, 15, 20],
                     val_losses=[2.0, 1.5, 1.0, 0.75, 0.5])
    lr_x, lrs, val_x, vals = _mean_curves([short, long], by_fraction=True)
    assert lr_x[0] == 0.0 and lr_x[-1] == 1.0 and list(val_x) == list(lr_x)
    assert lrs[-1] == pytest.approx((1e-3 + 3e-3) / 2) and vals[0] == 2.0 and vals[-1] == 0.5
    assert vals[len(vals) // 2] == pytest.approx(1.0)  # both at half their budget (step 5 and step 10)
    steps, same_lrs, _, _ = _mean_curves([short, short], by_fraction=False)
    assert list(steps) == list(range(1, 11)) and list(same_lrs) == [1e-3] * 10


@pytest.mark.parametrize("override, message", [
    ("env.tasks.datasets=[imagenet]", "env.tasks.datasets[0]: unknown value 'imagenet'"),
    ("env.tasks.activations=[swish]", "env.tasks.activations[0]: unknown value 'swish'"),
    ("env.tasks.child_steps=[103]", "env.tasks.child_steps[0]: 103 is not a multiple"),
    ("env.tasks.widths=[0]", "env.tasks.widths[0]: must be > 0"),
    ("env.tasks.depths=[]", "env.tasks.depths: must list at least one choice"),
    ("env.tasks.architectures=[rnn]", "env.tasks.architectures[0]: unknown value 'rnn'"),
    ("env.tasks.channels=[0]", "env.tasks.channels[0]: must be > 0"),
])
def test_bad_task_choices_are_one_line_config_errors(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(None, ["env.tasks.datasets=[digits]", override])


def test_a_dataset_that_no_architecture_fits_is_a_config_error():
    with pytest.raises(ConfigError, match=r"env\.tasks\.datasets\[1\]: synthetic has no child .* add mlp"):
        load_config(None, ["env.tasks.datasets=[digits, synthetic]", "env.tasks.architectures=[cnn]"])


def test_task_distribution_round_trips_through_yaml(tmp_path):
    from lrctl.config import dump_yaml

    cfg = load_config(None, ["env.tasks.datasets=[digits, synthetic]", "env.tasks.widths=[32]"])
    assert cfg.env.tasks == TaskDistribution(datasets=("digits", "synthetic"), widths=(32,))
    path = tmp_path / "c.yaml"
    path.write_text(dump_yaml(cfg))
    assert load_config(path) == cfg
