#!/usr/bin/env python
"""Seconds of PPO training for N controller decisions of a config, without the end-of-run report (which
evaluates the policy on report seeds and does not grow with N), and the decisions per second.

Usage: python bench/ppo_throughput.py [--config configs/general.yaml] [--decisions 16000]
                                      [--set KEY=VALUE ...]
Compare two commits by running it from each checkout (a `git worktree`) in turn on a quiet machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from lrctl.agents import trainer
from lrctl.config import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="YAML config (default: the built-in default)")
    parser.add_argument("--decisions", type=int, default=16_000)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = load_config(args.config, [*args.overrides, f"ppo.total_timesteps={args.decisions}",
                                        f"run_dir={run_dir}", "progress_bar=false"])
        trainer.write_report = lambda *_, **__: None  # the report's evaluation is not training
        start = time.perf_counter()
        trainer.train(cfg, overwrite=True)
        seconds = time.perf_counter() - start
    print(f"{args.config or 'default'} {' '.join(args.overrides)}: {seconds:.1f} s for {args.decisions} decisions "
          f"({args.decisions / seconds:.0f} per second)")


if __name__ == "__main__":
    main()
