#!/usr/bin/env python
"""How much the environment costs on top of plain child training, and against a DataLoader pipeline.

Prints, for a setting (default digits-mlp), one torch thread:
  (a) child steps per second inside LRControlEnv (constant LR, whole episodes);
  (b) env episode wall time / a bare PyTorch loop doing the same child steps and validation passes
      (same model, data tensors, batch order and validation subset)      target <= 1.05;
  (c) the same child trained as the paper's reproduction does it: a torchvision Dataset with ToTensor
      (+ Normalize) per sample, a shuffling DataLoader, the full validation set every steps_per_action
      steps; shown as its time / the env's time                          target >= 10.

Usage: python bench/env_overhead.py [--setting digits-mlp] [--episodes 5] [--steps-per-action 10] [--reward NAME]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from lrctl.children.child import ChildRun
from lrctl.deploy.actions import keep_action
from lrctl.envs import LRControlEnv


def time_env(env: LRControlEnv, seeds: list[int]) -> float:
    keep = keep_action(env.config.action_mode)
    start = time.perf_counter()
    for seed in seeds:
        env.reset(seed=seed, options={"initial_lr": 1e-3})
        done = False
        while not done:
            _, _, done, _, _ = env.step(keep)
    return time.perf_counter() - start


def bare_episode(child: ChildRun, steps: int, every: int) -> None:
    """What the env does, written as a plain loop: train, evaluate the validation subset every `every`
    steps, and at the end evaluate the full validation and test splits."""
    model, opt, x, y = child.model, child.optimizer, child.data.train_x, child.data.train_y
    with torch.no_grad():
        model.eval(); F.cross_entropy(model(child.val_x), child.val_y).item(); model.train()
    for step, idx in enumerate(child.order[:steps], start=1):
        loss = F.cross_entropy(model(x.index_select(0, idx)), y.index_select(0, idx))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % every == 0:
            with torch.no_grad():
                model.eval()
                F.cross_entropy(model(child.val_x), child.val_y).item()
                model.train()
    child.evaluate(child.data.val_x, child.data.val_y)
    child.evaluate(child.data.test_x, child.data.test_y)


def time_bare(env: LRControlEnv, seeds: list[int]) -> float:
    """The bare loop's episodes, set-up included (model init, optimizer, batch order, validation
    subset: what any training loop needs, and what the env's reset does besides its first observation)."""
    from lrctl.children.child import episode_rng, start_episode
    from lrctl.settings import get_setting

    cfg = env.config
    model_name = get_setting(cfg.setting).model
    total = 0.0
    for seed in seeds:
        start = time.perf_counter()
        child = ChildRun.for_episode(cfg, env.data, model_name, *start_episode(cfg, episode_rng(seed), 1e-3)[1:])
        bare_episode(child, cfg.child_steps, cfg.steps_per_action)
        total += time.perf_counter() - start
    return total


def time_dataloader_pipeline(env: LRControlEnv, seeds: list[int]) -> float:
    """The reproduction's pipeline: per-sample PIL -> ToTensor -> Normalize, DataLoader batches."""
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    cfg = env.config
    data = env.data
    # Back to 8-bit images, as torchvision datasets hold them.
    def to_uint8(t: torch.Tensor) -> np.ndarray:
        t = t.reshape(len(t), -1, *t.shape[-2:]) if t.dim() == 4 else t.reshape(len(t), 8, 8)
        t = (t - t.min()) / (t.max() - t.min())
        return (t * 255).round().to(torch.uint8).squeeze(1).numpy()

    class ImageDataset(Dataset):
        def __init__(self, images: np.ndarray, labels: torch.Tensor) -> None:
            self.images, self.labels = images, labels.tolist()
            self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])

        def __len__(self) -> int:
            return len(self.labels)

        def __getitem__(self, i: int):
            image = self.transform(Image.fromarray(self.images[i], mode="L"))
            return image.flatten() if image.shape[-1] == 8 else image, self.labels[i]

    train_set = ImageDataset(to_uint8(data.train_x.cpu()), data.train_y.cpu())
    val_set = ImageDataset(to_uint8(data.val_x.cpu()), data.val_y.cpu())
    total = 0.0
    for seed in seeds:
        env.reset(seed=seed, options={"initial_lr": 1e-3})
        model, opt = env.child.model, env.child.optimizer
        torch.manual_seed(seed)
        start = time.perf_counter()
        train_loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True)
        val_loader = DataLoader(val_set, batch_size=cfg.batch_size)
        batches = iter(train_loader)
        for step in range(1, cfg.child_steps + 1):
            try:
                xb, yb = next(batches)
            except StopIteration:
                batches = iter(train_loader)
                xb, yb = next(batches)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % cfg.steps_per_action == 0:
                model.eval()
                with torch.no_grad():
                    for vx, vy in val_loader:
                        F.cross_entropy(model(vx), vy).item()
                model.train()
        total += time.perf_counter() - start
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", default="digits-mlp")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--steps-per-action", type=int, default=10,
                        help="child steps between validation passes (10: the figures in bench/README.md)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--skip-dataloader", action="store_true", help="skip (c), the slow part")
    parser.add_argument("--reward", help="env.reward (default: the environment's, which trains a twin child)")
    parser.add_argument("--repeats", type=int, default=7, help="paired repetitions for (a) and (b)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    options = {"reward": args.reward} if args.reward else {}
    env = LRControlEnv(args.setting, device=args.device, steps_per_action=args.steps_per_action, **options)
    seeds = list(range(args.episodes))
    time_env(env, seeds[:1])  # warm-up: allocator, first-call overheads
    time_bare(env, seeds[:1])
    # Interleave repetitions so drift in machine load hits both sides alike; the ratio is the median of
    # the paired ratios (this VM's timings drift by 10-20% between runs).
    env_t, bare_t = [], []
    for _ in range(args.repeats):
        env_t.append(time_env(env, seeds))
        bare_t.append(time_bare(env, seeds))
    ratio = float(np.median([e / b for e, b in zip(env_t, bare_t)]))
    env_time, bare_time = float(np.median(env_t)), float(np.median(bare_t))
    loader_time = math.nan if args.skip_dataloader or env.device.type != "cpu" else \
        time_dataloader_pipeline(env, seeds)
    steps = env.config.child_steps * len(seeds)
    print(f"setting {args.setting}: {len(seeds)} episodes x {env.config.child_steps} child steps, "
          f"validation on {len(env.child.val_x)} samples every {env.config.steps_per_action} steps, "
          f"device {env.device}, 1 CPU thread")
    print(f"(a) child steps per second in LRControlEnv:      {steps / env_time:10.0f}")
    print(f"(b) env time / bare PyTorch loop (median of {args.repeats}):  {ratio:7.3f}   (target <= 1.05)")
    print(f"(c) DataLoader pipeline time / env time:         {loader_time / env_time:10.1f}x  (target >= 10)")
    print(f"    seconds: env {env_time:.2f}, bare {bare_time:.2f}, DataLoader pipeline {loader_time:.2f}")


if __name__ == "__main__":
    main()
