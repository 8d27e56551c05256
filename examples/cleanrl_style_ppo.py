#!/usr/bin/env python
"""PPO on lrctl's environment in CleanRL's single-file style: one readable path from arguments to a
trained controller, with Gymnasium's vector API and no stable-baselines3.

The K environments are the batched children of the vector entry point (one batched pass per step),
under Gymnasium's vector wrappers (episode statistics, observation normalisation). They autoreset as
Gymnasium does by default (`NEXT_STEP`): the step after an episode ends only starts the next one, so
its transition is left out of the losses (`dones[t]` marks those steps).

    python examples/cleanrl_style_ppo.py --total-timesteps 20000 --num-envs 8
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, fields

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

import lrctl  # noqa: F401  registers lrctl/LRControl-v0


@dataclass
class Args:
    seed: int = 1
    """seed of the episodes, the network and the sampling"""
    total_timesteps: int = 20_000
    """decisions taken in all"""
    num_envs: int = 8
    """children trained side by side (one batched pass)"""
    num_steps: int = 64
    """decisions per environment per rollout"""
    learning_rate: float = 3e-4
    """Adam's LR for the actor-critic"""
    gamma: float = 0.99
    gae_lambda: float = 0.95
    update_epochs: int = 4
    num_minibatches: int = 4
    clip_coef: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    child_steps: int = 500
    """the child's budget in optimizer steps (digits-mlp decides every 5)"""


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for item in fields(Args):
        flag = "--" + item.name.replace("_", "-")
        parser.add_argument(flag, type=type(item.default), default=item.default)
    return Args(**vars(parser.parse_args()))


def layer(linear: nn.Linear, std: float = np.sqrt(2)) -> nn.Linear:
    nn.init.orthogonal_(linear.weight, std)
    nn.init.constant_(linear.bias, 0.0)
    return linear


class Agent(nn.Module):
    def __init__(self, n_obs: int, n_actions: int) -> None:
        super().__init__()
        self.critic = nn.Sequential(layer(nn.Linear(n_obs, 32)), nn.Tanh(), layer(nn.Linear(32, 32)), nn.Tanh(),
                                    layer(nn.Linear(32, 1), std=1.0))
        self.actor = nn.Sequential(layer(nn.Linear(n_obs, 32)), nn.Tanh(), layer(nn.Linear(32, 32)), nn.Tanh(),
                                   layer(nn.Linear(32, n_actions), std=0.01))

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x).squeeze(-1)

    def act(self, x: torch.Tensor, action: torch.Tensor | None = None):
        dist = Categorical(logits=self.actor(x))
        action = dist.sample() if action is None else action
        return action, dist.log_prob(action), dist.entropy(), self.value(x)


def main() -> None:
    args = parse_args()
    batch_size = args.num_envs * args.num_steps
    minibatch_size = batch_size // args.num_minibatches
    iterations = max(1, args.total_timesteps // batch_size)

    # Seeding, in one place.
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    envs = gym.make_vec("lrctl/LRControl-v0", num_envs=args.num_envs, vectorization_mode="vector_entry_point",
                        child_steps=args.child_steps, reward="log_improvement")
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    envs = gym.wrappers.vector.NormalizeObservation(envs)
    agent = Agent(envs.single_observation_space.shape[0], envs.single_action_space.n)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

    obs = torch.zeros((args.num_steps, args.num_envs, envs.single_observation_space.shape[0]))
    actions = torch.zeros((args.num_steps, args.num_envs), dtype=torch.long)
    logprobs, rewards, dones, values = (torch.zeros((args.num_steps, args.num_envs)) for _ in range(4))

    start = time.perf_counter()
    next_obs, _ = envs.reset(seed=args.seed)
    next_obs, next_done = torch.as_tensor(next_obs, dtype=torch.float32), torch.zeros(args.num_envs)
    returns_seen: list[float] = []
    for iteration in range(1, iterations + 1):
        for step in range(args.num_steps):
            obs[step], dones[step] = next_obs, next_done
            with torch.no_grad():
                action, logprob, _, value = agent.act(next_obs)
            actions[step], logprobs[step], values[step] = action, logprob, value
            next_obs, reward, terminated, truncated, infos = envs.step(action.numpy())
            rewards[step] = torch.as_tensor(reward, dtype=torch.float32)
            next_obs = torch.as_tensor(next_obs, dtype=torch.float32)
            next_done = torch.as_tensor(np.logical_or(terminated, truncated), dtype=torch.float32)
            if "episode" in infos:
                returns_seen += list(infos["episode"]["r"][infos["_episode"]])

        with torch.no_grad():  # generalised advantage estimation
            next_value = agent.value(next_obs)
            advantages, last = torch.zeros_like(rewards), torch.zeros(args.num_envs)
            for t in reversed(range(args.num_steps)):
                not_done = 1.0 - (next_done if t == args.num_steps - 1 else dones[t + 1])
                following = next_value if t == args.num_steps - 1 else values[t + 1]
                delta = rewards[t] + args.gamma * following * not_done - values[t]
                advantages[t] = last = delta + args.gamma * args.gae_lambda * not_done * last
            returns = advantages + values

        real = (dones.reshape(-1) == 0).nonzero().squeeze(1)  # not the steps that only restarted an episode
        b_obs, b_actions = obs.reshape(batch_size, -1), actions.reshape(-1)
        b_logprobs, b_advantages = logprobs.reshape(-1), advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        for _ in range(args.update_epochs):
            for mb in real[torch.randperm(len(real))].split(minibatch_size):
                _, new_logprob, entropy, new_value = agent.act(b_obs[mb], b_actions[mb])
                ratio = (new_logprob - b_logprobs[mb]).exp()
                adv = (b_advantages[mb] - b_advantages[mb].mean()) / (b_advantages[mb].std() + 1e-8)
                policy_loss = torch.max(-adv * ratio,
                                        -adv * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
                value_loss = 0.5 * ((new_value - b_returns[mb]) ** 2).mean()
                loss = policy_loss - args.ent_coef * entropy.mean() + args.vf_coef * value_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

        recent = np.mean(returns_seen[-20:]) if returns_seen else float("nan")
        print(f"iteration {iteration}/{iterations}: {iteration * batch_size} decisions, "
              f"{len(returns_seen)} episodes, mean return of the last 20 {recent:.3f}, "
              f"{time.perf_counter() - start:.0f} s")
    envs.close()


if __name__ == "__main__":
    main()
