"""Write one policy file whose actor outputs the mean of the actors of several policy files (ablation
step 40): PPO seeds of one config averaged, as one member of ordinary shape.

Each member's observation normalisation is folded into its first layer, the hidden layers are stacked
block-diagonally (the members do not see each other's units) and the output layer takes the mean. The
result equals the mean of the members' action means wherever no member's normalised feature lies beyond
its clip bound (10 standard deviations), where a member clips and the average does not.

usage: python docs/results/short-member-average/average_members.py OUT POLICY...
"""

import sys

import numpy as np
import torch
from torch import nn

from lrctl.deploy.policy import Policy, build_actor, load_policy, save_policy


def folded_layers(policy: Policy) -> list[nn.Linear]:
    """The policy's linear layers, the first one reading raw features (its normalisation folded in)."""
    linears = [m for m in policy.actor if isinstance(m, nn.Linear)]
    scale = torch.as_tensor(1.0 / np.sqrt(policy.obs_var + policy.epsilon), dtype=torch.float64)
    shift = torch.as_tensor(policy.obs_mean, dtype=torch.float64)
    first = nn.Linear(linears[0].in_features, linears[0].out_features)
    weight = linears[0].weight.double() * scale
    first.weight.data = weight.float()
    first.bias.data = (linears[0].bias.double() - weight @ shift).float()
    return [first, *linears[1:]]


def average(policies: list[Policy]) -> Policy:
    """One policy whose deterministic action is the mean of `policies`' (see the module docstring)."""
    spec = policies[0].spec
    if any(p.spec != spec for p in policies):
        raise SystemExit("the policies to average must share their spec (PPO seeds of one config)")
    layers = [folded_layers(p) for p in policies]
    depth = len(layers[0])
    sizes = [layers[0][0].in_features] + [sum(ls[i].out_features for ls in layers) for i in range(depth - 1)]
    actor = build_actor(sizes + [layers[0][-1].out_features])
    merged = [m for m in actor if isinstance(m, nn.Linear)]
    with torch.no_grad():
        merged[0].weight.copy_(torch.cat([ls[0].weight for ls in layers]))
        merged[0].bias.copy_(torch.cat([ls[0].bias for ls in layers]))
        for i in range(1, depth - 1):
            merged[i].weight.copy_(torch.block_diag(*[ls[i].weight for ls in layers]))
            merged[i].bias.copy_(torch.cat([ls[i].bias for ls in layers]))
        merged[-1].weight.copy_(torch.cat([ls[-1].weight for ls in layers], dim=1) / len(layers))
        merged[-1].bias.copy_(torch.stack([ls[-1].bias for ls in layers]).mean(dim=0))
    features = len(spec.feature_names)
    log_stds = [p.log_std for p in policies if p.log_std is not None]
    log_std = np.mean(log_stds, axis=0) if log_stds else None
    epsilon = 1e-8  # var + epsilon = 1: the actor reads the raw features
    return Policy(spec, actor, np.zeros(features), np.full(features, 1.0 - epsilon), clip_obs=1e6, epsilon=epsilon,
                  log_std=log_std)


def action_mean(policy: Policy, features: np.ndarray) -> float:
    """The policy's action mean for one feature vector, before `Policy.act` clips it to [-1, 1]."""
    return policy.actor(torch.as_tensor(policy.normalize(features), dtype=torch.float32)[None])[0].item()


def main() -> None:
    out, paths = sys.argv[1], sys.argv[2:]
    policies = [load_policy(p) for p in paths]
    if len(policies) < 2 or not all(isinstance(p, Policy) for p in policies):
        raise SystemExit("give two or more files of one policy each")
    averaged = average(policies)
    rng = np.random.default_rng(0)
    gap = 0.0
    for _ in range(1000):  # features within every member's clip bound
        features = np.mean([p.obs_mean for p in policies], axis=0) + rng.normal(size=len(policies[0].obs_mean)) * \
            np.sqrt(np.min([p.obs_var for p in policies], axis=0))
        gap = max(gap, abs(action_mean(averaged, features) - np.mean([action_mean(p, features) for p in policies])))
    print(f"largest gap to the members' mean action on 1000 feature vectors: {gap:.2e}")
    save_policy(averaged, out)


if __name__ == "__main__":
    with torch.no_grad():
        main()
