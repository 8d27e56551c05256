"""K child networks of one setting trained together in one batched pass, as a stable-baselines3 VecEnv.

The K children's parameters live in one (K, P) tensor with a view per named parameter; one `vmap` of
`functional_call` computes every child's loss at once, one autograd pass their gradients, and an
elementwise Adam (or SGD with momentum) updates the flat parameters with one learning rate per child. Each child keeps the
seed, initialisation, batch order, validation subset and LR that `LRControlEnv.reset(seed=...)` gives
it, and observations come from `lrctl.features.model_features`, so the results match K single
environments within float tolerance. Children with BatchNorm are not supported (use `vec_env: subproc`).
"""

from __future__ import annotations

import copy
import functools
import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from gymnasium.utils import seeding
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvObs, VecEnvStepReturn
from torch import nn
from torch.func import functional_call, vmap

from lrctl.actions import next_lr
from lrctl.config import EnvConfig
from lrctl.data import DatasetSplits, load_dataset
from lrctl.envs.child import ChildSeeds, batch_order, build_child_model, final_metrics, validation_subset
from lrctl.envs.lr_control import resolve_device
from lrctl.features import FEATURE_NAMES, mean_train_loss, model_features
from lrctl.models import find_output_layer
from lrctl.settings import get_setting

_EVAL_CHUNK = 1024


def supports_batching(model: nn.Module) -> bool:
    """False for children whose forward pass depends on train/eval mode (BatchNorm, Dropout)."""
    return not any(isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.Dropout)) for m in model.modules())


class BatchedChildren:
    """K children of one setting with stacked parameters and a per-child Adam or SGD state."""

    def __init__(self, data: DatasetSplits, model_name: str, cfg: EnvConfig, k: int) -> None:
        self.data, self.model_name, self.cfg, self.k = data, model_name, cfg, k
        self.device = data.train_x.device
        template = build_child_model(model_name, data.num_classes, 0, torch.device("cpu"))
        if not supports_batching(template):
            raise ValueError(f"{model_name} has BatchNorm or Dropout; use vec_env: subproc for it")
        self.base = copy.deepcopy(template).to("meta")
        out_layer = find_output_layer(template)
        self.out_name = next(n for n, p in template.named_parameters() if p is out_layer.weight)
        # All K children's parameters live in one (K, P) leaf tensor; each named parameter is a view of
        # it. Gradients come from ordinary autograd through the vmapped forward pass (about half the cost
        # of a torch.func.grad transform per step), and the optimizer updates one flat tensor.
        self._layout: list[tuple[str, int, int, torch.Size]] = []
        offset = 0
        for name, p in template.named_parameters():
            self._layout.append((name, offset, p.numel(), p.shape))
            offset += p.numel()
        self.flat = torch.zeros(k, offset, device=self.device, requires_grad=True)
        self.m = torch.zeros(k, offset, device=self.device)
        self.v = torch.zeros(k, offset, device=self.device)
        self.t = torch.zeros(k, device=self.device)
        self.lrs = torch.zeros(k, device=self.device, dtype=torch.float64)
        self.orders = torch.zeros(k, cfg.child_steps, cfg.batch_size, dtype=torch.long, device=self.device)
        self.val_idx = torch.zeros(k, min(cfg.val_subset_size, len(data.val_x)), dtype=torch.long,
                                   device=self.device)
        self.steps = torch.zeros(k, dtype=torch.long, device=self.device)

        self._forward = vmap(lambda params, x: functional_call(self.base, params, (x,)))

    @property
    def params(self) -> dict[str, torch.Tensor]:
        """Each named parameter of all K children, (K, *shape), as a view of the flat tensor."""
        return {name: self.flat[:, a:a + n].view(self.k, *shape) for name, a, n, shape in self._layout}

    def reset_child(self, i: int, seed: int, lr: float) -> None:
        """Give child i a fresh network, optimizer state, batch order and validation subset."""
        seeds = ChildSeeds.from_seed(seed)
        model = build_child_model(self.model_name, self.data.num_classes, seeds.init, torch.device("cpu"))
        with torch.no_grad():
            self.flat[i] = torch.cat([p.detach().flatten() for p in model.parameters()]).to(self.device)
            self.m[i] = 0
            self.v[i] = 0
        self.t[i] = 0
        self.steps[i] = 0
        self.lrs[i] = lr
        self.orders[i] = batch_order(len(self.data.train_x), self.cfg.batch_size, self.cfg.child_steps,
                                     seeds.batches, self.device)
        self.val_idx[i] = validation_subset(len(self.data.val_x), self.cfg.val_subset_size,
                                            seeds.val_subset).to(self.device)

    @torch.no_grad()
    def train(self, n_steps: int) -> torch.Tensor:
        """`n_steps` optimizer steps of every child; returns the (K, n_steps) training losses."""
        x, y = self.data.train_x, self.data.train_y
        rows = torch.arange(self.k, device=self.device)
        losses = []
        for _ in range(n_steps):
            idx = self.orders[rows, self.steps]  # (K, B)
            with torch.enable_grad():
                logits = self._forward(self.params, x[idx])  # (K, B, C)
                loss = F.cross_entropy(logits.flatten(0, 1), y[idx].flatten(), reduction="none")
                loss = loss.view(self.k, -1).mean(dim=1)
                # Children are independent, so the gradient of the sum is each child's own gradient.
                (grad,) = torch.autograd.grad(loss.sum(), self.flat)
            self._update(grad)
            self.steps += 1
            losses.append(loss.detach())
        return torch.stack(losses, dim=1)

    def _update(self, grad: torch.Tensor) -> None:
        """One optimizer step of every child on the flat (K, P) parameters, one LR per child."""
        cfg = self.cfg
        self.t += 1
        lr = self.lrs.to(torch.float32).unsqueeze(1)
        if cfg.optimizer == "adam":
            b1, b2, eps = 0.9, 0.999, 1e-8
            step_size = lr / (1 - b1 ** self.t).unsqueeze(1)  # per child, as torch.optim.Adam computes it
            bias2_sqrt = (1 - b2 ** self.t).sqrt().unsqueeze(1)
            self.m.lerp_(grad, 1 - b1)
            self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
            denom = (self.v.sqrt() / bias2_sqrt).add_(eps)
            self.flat.addcdiv_(self.m * step_size, denom, value=-1.0)
        else:
            first = (self.t == 1).unsqueeze(1)
            self.m.copy_(torch.where(first, grad, self.m * cfg.momentum + grad))
            self.flat.sub_(lr * self.m)

    @torch.no_grad()
    def val_logits(self) -> torch.Tensor:
        """(K, N, C) logits of each child on its own validation subset."""
        xs = self.data.val_x[self.val_idx]
        return self._forward(self.params, xs)

    def val_labels(self) -> torch.Tensor:
        return self.data.val_y[self.val_idx]

    def output_weight(self) -> torch.Tensor:
        return self.params[self.out_name]

    @torch.no_grad()
    def evaluate(self, i: int, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """Loss and accuracy of child i on (x, y)."""
        params = {n: p[i] for n, p in self.params.items()}
        logits = torch.cat([functional_call(self.base, params, (x[j:j + _EVAL_CHUNK],))
                            for j in range(0, len(x), _EVAL_CHUNK)]).float()
        return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())

    @torch.no_grad()
    def finite(self) -> torch.Tensor:
        """(K,) True where every parameter of the child is finite."""
        return torch.isfinite(self.flat.sum(dim=1))


class BatchedLRControlVecEnv(VecEnv):
    """`num_envs` LRControl environments of one setting, stepped together in one batched pass.

    Behaves as `num_envs` `LRControlEnv`s with seeds seed, seed + 1, ... under an SB3 VecEnv: the same
    observations, rewards, dones and infos (within float tolerance), with automatic reset.
    """

    def __init__(self, env_cfg: EnvConfig, num_envs: int, data: DatasetSplits | None = None) -> None:
        self.cfg = env_cfg
        self.device = resolve_device(env_cfg.device)
        setting = get_setting(env_cfg.setting)
        if data is None:
            data = load_dataset(setting.dataset, env_cfg.data_root, self.device, env_cfg.download)
        self.data = data.to(self.device)
        self.children = BatchedChildren(self.data, setting.model, env_cfg, num_envs)
        n_features = len(FEATURE_NAMES)
        obs_space = gym.spaces.Box(-np.inf, np.inf, shape=(n_features,), dtype=np.float32)
        if env_cfg.action_mode == "discrete":
            act_space: gym.spaces.Space = gym.spaces.Discrete(3)
        else:
            act_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.render_mode = None
        super().__init__(num_envs, obs_space, act_space)
        self.n_decisions = env_cfg.child_steps // env_cfg.steps_per_action
        self._rngs: list[np.random.Generator] = [seeding.np_random(None)[0] for _ in range(num_envs)]
        self._lrs = [math.nan] * num_envs
        self._initial_lrs = [math.nan] * num_envs
        self._decisions = [0] * num_envs
        self._prev_probs: torch.Tensor | None = None
        self._last_obs = np.zeros((num_envs, n_features), dtype=np.float32)
        self._actions: np.ndarray | None = None

    # --- child bookkeeping ----------------------------------------------------------------------
    def _reset_child(self, i: int, seed: int | None) -> None:
        if seed is not None:
            self._rngs[i] = seeding.np_random(seed)[0]
        rng = self._rngs[i]
        child_seed = int(rng.integers(2**63 - 1))  # the order LRControlEnv.reset draws in
        lr = float(self.cfg.initial_lrs[int(rng.integers(len(self.cfg.initial_lrs)))])
        self.children.reset_child(i, child_seed, lr)
        self._lrs[i] = lr
        self._initial_lrs[i] = lr
        self._decisions[i] = 0

    def _observe(self, train_loss: torch.Tensor | None) -> tuple[np.ndarray, np.ndarray]:
        """Observations (K, F) and validation losses (K,) of all children, in one batched pass."""
        values, self._prev_probs = model_features(self.children.val_logits(), self.children.val_labels(),
                                                  self._prev_probs, self.children.output_weight(), train_loss)
        return self._assemble(values)

    def _assemble(self, values: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        rows = values.cpu().numpy()  # the one device sync of an observation
        fractions = self.children.steps.cpu().numpy() / self.cfg.child_steps
        log_lrs = np.array([math.log10(lr) for lr in self._lrs])
        obs = np.concatenate([rows, log_lrs[:, None], fractions[:, None]], axis=1)
        return obs.astype(np.float32), rows[:, 1]

    # --- VecEnv API -----------------------------------------------------------------------------
    def reset(self) -> VecEnvObs:
        for i in range(self.num_envs):
            self._reset_child(i, self._seeds[i] if self._seeds else None)
        self._reset_seeds()
        self._prev_probs = None
        obs, val_losses = self._observe(None)
        obs = np.where(np.isfinite(obs), obs, 0.0).astype(np.float32)
        self._last_obs = obs
        self.reset_infos = [{"lr": self._lrs[i], "initial_lr": self._initial_lrs[i], "child_step": 0,
                             "val_loss": float(val_losses[i]), "train_loss": float(val_losses[i]),
                             "diverged": False} for i in range(self.num_envs)]
        return obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        cfg, k = self.cfg, self.num_envs
        assert self._actions is not None
        for i in range(k):
            noise = float(self._rngs[i].normal(0.0, cfg.lr_noise_std)) if cfg.lr_noise_std > 0 else 0.0
            self._lrs[i] = next_lr(self._lrs[i], self._actions[i], cfg.action_mode, cfg.max_change,
                                   cfg.lr_min, cfg.lr_max, noise)
        self.children.lrs.copy_(torch.tensor(self._lrs, dtype=torch.float64))
        losses = self.children.train(cfg.steps_per_action)
        train_loss = torch.stack([mean_train_loss(losses[i]) for i in range(k)])
        obs, val_losses = self._observe(train_loss)
        finite = self.children.finite().cpu().numpy() & np.isfinite(obs).all(axis=1)
        rewards = np.zeros(k, dtype=np.float32)
        dones = np.zeros(k, dtype=bool)
        infos: list[dict[str, Any]] = []
        ended = []
        for i in range(k):
            self._decisions[i] += 1
            step = int(self.children.steps[i])
            info: dict[str, Any] = {"lr": self._lrs[i], "initial_lr": self._initial_lrs[i],
                                    "train_loss": float(train_loss[i]), "val_loss": float(val_losses[i]),
                                    "child_step": step, "diverged": False}
            if not finite[i]:
                info["diverged"] = True
                rewards[i] = -cfg.divergence_penalty * (self.n_decisions - self._decisions[i] + 1)
                obs[i] = self._last_obs[i]
                dones[i] = True
            else:
                rewards[i] = -val_losses[i]
                if step >= cfg.child_steps:
                    dones[i] = True
                    info.update(self._final_metrics(i))
            if dones[i]:
                info["terminal_observation"] = obs[i].copy()
                info["TimeLimit.truncated"] = False
                ended.append(i)
            infos.append(info)
        self._last_obs = obs.copy()
        if ended:
            for i in ended:
                self._reset_child(i, None)
            fresh_obs, fresh_val = self._observe_fresh(ended)
            for i in ended:
                obs[i] = fresh_obs[i]
            self._last_obs = obs.copy()
        return obs.copy(), rewards, dones, infos

    def _observe_fresh(self, ended: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """First observations of restarted children, leaving the others' previous predictions alone."""
        values, probs = model_features(self.children.val_logits(), self.children.val_labels(), None,
                                       self.children.output_weight(), None)
        assert self._prev_probs is not None
        self._prev_probs[ended] = probs[ended]
        obs, val_losses = self._assemble(values)
        return np.where(np.isfinite(obs), obs, 0.0).astype(np.float32), val_losses

    def _final_metrics(self, i: int) -> dict[str, float]:
        return final_metrics(functools.partial(self.children.evaluate, i), self.data)

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        raise NotImplementedError("BatchedLRControlVecEnv has no per-environment objects")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]
