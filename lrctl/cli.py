"""The `lrctl` command line: train, evaluate, export, data import.

Every user error ends with one line on stderr naming the bad value and what to do, and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a PPO controller and write a run directory",
                       description="Train a PPO learning-rate controller. Without --config: the built-in "
                                   "default (digits-mlp, no download).")
    p.add_argument("--config", help="YAML config (see configs/); default: built-in digits-mlp")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config key, e.g. --set ppo.total_timesteps=5000 (repeatable)")
    p.add_argument("--run-dir", help="shorthand for --set run_dir=...")
    p.add_argument("--seed", type=int, help="shorthand for --set seed=...")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="start over in a run_dir that holds a run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="compare a policy with a constant LR on held-out seeds")
    p.add_argument("run_dir", help="a run directory (its config.yaml and policy.pt are used)")
    p.add_argument("--seeds", type=int, nargs="+", help="held-out seeds (default: the run's report_seeds)")


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write RUN_DIR/policy.pt from a finished run")
    p.add_argument("run_dir")
    p.add_argument("--out", help="where to write the policy file (default RUN_DIR/policy.pt)")


def _add_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="manage datasets")
    dsub = p.add_subparsers(dest="data_command", required=True)
    imp = dsub.add_parser("import", help="import a folder of MNIST-format IDX files into the data root")
    imp.add_argument("dataset", choices=["mnist", "fashion-mnist"])
    imp.add_argument("source", help="folder with the four IDX files (.gz or plain)")
    imp.add_argument("--root", help="data root (default: $LRCTL_DATA or ~/.cache/lrctl/data)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `lrctl`."""
    parser = argparse.ArgumentParser(prog="lrctl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_evaluate(sub)
    _add_export(sub)
    _add_data(sub)
    return parser


def _train(args: argparse.Namespace) -> int:
    from lrctl.agents.trainer import resume, train
    from lrctl.config import load_config

    if args.resume:
        if args.config or args.overrides or args.run_dir or args.seed is not None:
            raise _UsageError("--resume uses the run's own config.yaml; drop --config/--set/--run-dir/--seed")
        resume(args.resume)
        return 0
    overrides = list(args.overrides)
    if args.run_dir:
        overrides.append(f"run_dir={args.run_dir}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.no_progress:
        overrides.append("progress_bar=false")
    cfg = load_config(args.config, overrides)
    train(cfg, overwrite=args.overwrite)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from lrctl.config import load_config
    from lrctl.report import compare_on_seeds, render_report

    run_dir = Path(args.run_dir)
    cfg = load_config(run_dir / "config.yaml")
    if args.seeds:
        cfg = replace(cfg, report_seeds=tuple(args.seeds))
    results = compare_on_seeds(cfg, run_dir / "policy.pt")
    print(render_report(cfg, results, {"timesteps": "?", "episodes": "?", "diverged": "?", "wall_time_s": 0}))
    return 0


def _export(args: argparse.Namespace) -> int:
    from lrctl.policy import export_policy

    print(export_policy(args.run_dir, args.out))
    return 0


def _data(args: argparse.Namespace) -> int:
    from lrctl.config import default_data_root
    from lrctl.data import import_idx_folder

    raw = import_idx_folder(args.dataset, args.source, args.root or default_data_root())
    print(f"imported {args.dataset} into {raw}")
    return 0


class _UsageError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `lrctl` command line; returns the exit status."""
    from lrctl.agents.checkpoints import CheckpointError
    from lrctl.agents.trainer import TrainingInterrupted
    from lrctl.config import ConfigError
    from lrctl.data import DataError
    from lrctl.policy import PolicyFileError

    args = build_parser().parse_args(argv)
    handlers = {"train": _train, "evaluate": _evaluate, "export": _export, "data": _data}
    try:
        return handlers[args.command](args)
    except TrainingInterrupted as stop:
        print(f"lrctl: {stop}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("lrctl: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ConfigError, DataError, PolicyFileError, CheckpointError, _UsageError) as err:
        print(f"lrctl: error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
