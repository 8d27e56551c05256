#!/usr/bin/env python
"""Train a small MLP on scikit-learn digits with the policy shipped in lrctl as its LR scheduler.

Run: python examples/digits_with_shipped_policy.py [--initial-lr 1e-3] [--policy FILE]
The default policy is the general one, trained on a distribution of tasks (`lrctl.shipped_policy_path()`);
the optimizer, the budget and the initial LR pick which of its members drives the run. `--policy` takes a policy
file instead.
It needs no download. The loop is a plain PyTorch loop: the only lrctl line is the scheduler.
"""

import argparse

import torch
import torch.nn.functional as F
from torch import nn

import lrctl
from lrctl.data import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initial-lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policy", default="general", help="a shipped policy's name (general) or a policy file")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    data = load_dataset("digits")  # normalised tensors: train / validation / test
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.initial_lr)
    val_batch = (data.val_x[:256], data.val_y[:256])  # the policy was trained with 256 validation samples
    total_steps, batch_size = 500, 64
    policy = lrctl.shipped_policy_path(args.policy) if args.policy == "general" else args.policy
    scheduler = lrctl.PolicyScheduler(optimizer, policy,
                                      model=model, val_data=val_batch, total_steps=total_steps)
    generator = torch.Generator().manual_seed(args.seed)
    for step in range(1, total_steps + 1):
        idx = torch.randint(len(data.train_x), (batch_size,), generator=generator)
        loss = F.cross_entropy(model(data.train_x[idx]), data.train_y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step(loss.item())  # every `steps_per_action` steps (the policy's own) it moves the LR
        if step % 100 == 0:
            model.eval()
            with torch.no_grad():
                val_loss = F.cross_entropy(model(data.val_x), data.val_y).item()
            model.train()
            print(f"step {step:4d}  lr {scheduler.get_last_lr()[0]:.2e}  train {loss.item():.4f}  val {val_loss:.4f}")
    model.eval()
    with torch.no_grad():
        accuracy = (model(data.test_x).argmax(1) == data.test_y).float().mean().item()
    print(f"test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
