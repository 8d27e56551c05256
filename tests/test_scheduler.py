"""PolicyScheduler: parity with the environment, resuming, param groups, errors and warnings."""

import copy
import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn

from lrctl.deploy.policy import save_policy
from lrctl.deploy.scheduler import PolicyScheduler
from tests.policy_helpers import env_and_child, episode_lrs, make_policy, plain_loop


@pytest.mark.parametrize("mode,features,seed", [("discrete", "paper", 0), ("continuous", "paper", 0),
                                                ("discrete", "scale_free", 0), ("continuous", "both", 0),
                                                ("discrete", "scale_free_lr", 1)])
def test_lr_sequence_equals_the_environment_exactly(digits_like, mode, features, seed):
    policy = make_policy(mode, features=features, seed=seed)  # a seed whose random policy moves the LR
    env, obs, (model, order, vx, vy) = env_and_child(digits_like, mode, features=features)
    env_lrs = episode_lrs(env, obs, policy)
    lrs, _, _ = plain_loop(digits_like, model, order, (vx, vy), policy, 1e-3)
    assert lrs == env_lrs  # exact, step by step
    assert len(set(lrs)) > 1  # the policy did move the LR


@pytest.mark.parametrize("features", ["paper", "scale_free", "scale_free_lr"])
def test_resuming_from_state_dict_gives_the_same_later_lrs(digits_like, features):
    policy = make_policy("continuous", features=features)
    _, _, (model, order, vx, vy) = env_and_child(digits_like, "continuous")
    twin = copy.deepcopy(model)
    full, _, _ = plain_loop(digits_like, model, order, (vx, vy), policy, 1e-3)
    first, sched, opt = plain_loop(digits_like, twin, order, (vx, vy), policy, 1e-3, steps=12)
    saved = (copy.deepcopy(twin.state_dict()), copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict()))
    resumed = copy.deepcopy(twin)
    resumed.load_state_dict(saved[0])
    rest, _, _ = plain_loop(digits_like, resumed, order[12:], (vx, vy), policy, 1e-3,
                             sched_state=saved[2], opt_state=saved[1])
    assert first + rest == full


def test_all_param_groups_get_the_same_factor():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": 1e-3},
                           {"params": model[2].parameters(), "lr": 4e-3}])
    sched = PolicyScheduler(opt, make_policy("discrete", seed=1), model=model,
                            val_data=(torch.randn(16, 64), torch.randint(0, 10, (16,))))
    for _ in range(20):
        opt.step()
        sched.step(1.0)
        a, b = sched.get_last_lr()
        assert b / a == pytest.approx(4.0, rel=1e-12)


class _ConvHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Conv2d(1, 10, 8)

    def forward(self, x):
        return self.body(x).flatten(1)


def test_model_without_output_layer_needs_one_named():
    model = _ConvHead()
    val = (torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,)))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    with pytest.raises(ValueError, match="output_layer="):
        PolicyScheduler(opt, make_policy(), model=model, val_data=val)
    with pytest.raises(ValueError, match="nn.Linear"):
        PolicyScheduler(opt, make_policy(), model=model, val_data=val, output_layer=model.body)


def test_caller_given_output_layer_is_used():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = PolicyScheduler(opt, make_policy(), model=model, output_layer=model[0],
                            val_data=(torch.randn(16, 64), torch.randint(0, 10, (16,))))
    assert sched.output_layer is model[0]


def _small_setup(**kwargs):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return PolicyScheduler(opt, make_policy(), model=model,
                           val_data=(torch.randn(16, 64), torch.randint(0, 10, (16,))), **kwargs), opt


def test_other_steps_per_action_warns_with_what_it_was_trained_for():
    with pytest.warns(UserWarning, match="trained to act every 5 steps"):
        _small_setup(steps_per_action=7)


def test_running_past_the_budget_warns_once():
    sched, opt = _small_setup()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(25):
            opt.step()
            sched.step(0.5)
    budget = [w for w in caught if "past the budget" in str(w.message)]
    assert len(budget) == 1 and "trained for 20 steps" in str(budget[0].message)


def test_step_without_loss_is_a_clear_error():
    sched, _ = _small_setup()
    with pytest.raises(ValueError, match="loss.item"):
        sched.step()


def test_non_finite_features_never_reach_the_policy():
    sched, opt = _small_setup()
    lr = opt.param_groups[0]["lr"]
    for _ in range(5):
        sched.step(float("nan"))
    assert sched.skipped_decisions == 1
    assert opt.param_groups[0]["lr"] == lr


def test_deploys_with_sb3_and_gymnasium_blocked(tmp_path):
    path = tmp_path / "policy.pt"
    save_policy(make_policy("continuous"), path)
    code = f"""
import sys
sys.modules["stable_baselines3"] = None
sys.modules["gymnasium"] = None
import torch, lrctl
model = torch.nn.Sequential(torch.nn.Linear(64, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
sched = lrctl.PolicyScheduler(opt, {str(path)!r}, model=model,
                              val_data=(torch.randn(8, 64), torch.randint(0, 10, (8,))))
for _ in range(10):
    opt.step(); sched.step(1.0)
assert "stable_baselines3" not in [m.split(".")[0] for m in sys.modules if sys.modules[m] is not None]
print(sched.get_last_lr()[0])
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout) > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_scheduler_on_a_cuda_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)).cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = PolicyScheduler(opt, make_policy("continuous"), model=model,
                            val_data=(torch.randn(16, 64), torch.randint(0, 10, (16,))))
    for _ in range(10):
        opt.step()
        sched.step(torch.tensor(0.5, device="cuda"))
    assert sched.tracker.val_x.is_cuda and sched.get_last_lr()[0] > 0
