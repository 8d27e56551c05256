"""The `lrctl` command line: train, evaluate, transfer, export, select, combine, upgrade-run, data import.

Every user error ends with one line on stderr naming the bad value and what to do, and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from lrctl.atomic import (
    is_within,
    output_name_problem,
    remove_leftovers,
    unwritable_reason,
)
from lrctl.evaluation.baseline_names import BASELINES

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
    p.add_argument("--total-timesteps", type=int, metavar="N",
                   help="with --resume: train the run further, up to N timesteps in all (also a finished run)")
    p.add_argument("--overwrite", action="store_true", help="start over in a run_dir that holds a run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--ray-address", metavar="ADDRESS",
                   help="Ray cluster for ppo.vec_env=ray, e.g. 10.0.0.1:6379 (default: $RAY_ADDRESS, or a local "
                        "Ray started for the run)")


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="compare a policy with CLARA and hand-designed schedules",
                       description="Run the learned policy and every baseline on held-out seeds; write "
                                   "results.csv, curves.csv, summary.md and plots.")
    p.add_argument("--setting", help="setting to evaluate on: a built-in name or your own as module:attribute "
                   "(default: the run's, or digits-mlp)")
    p.add_argument("--run-dir", help="take config and policy.pt from a training run")
    p.add_argument("--policy", help="policy file (default: the run's, or the one shipped for the setting)")
    p.add_argument("--seeds", type=int, nargs="+", help="held-out seeds (default: 200000..200009)")
    p.add_argument("--initial-lrs", type=float, nargs="+", help="initial LRs (default: the setting's)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one environment key as for training, e.g. --set env.child_steps=200 "
                        "(repeatable)")
    p.add_argument("--out", help="output folder (default: eval/SETTING)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, a fifth of the budget")
    p.add_argument("--no-peers", action="store_true", help="leave out schedule-free Adam, Prodigy and D-Adaptation")
    p.add_argument("--baselines", nargs="+", metavar="NAME",
                   help="run only these baselines beside the learned policy (default: all): " + ", ".join(BASELINES))
    p.add_argument("--batched", action="store_true",
                   help="run the learned policy's episodes as children of one batched pass (vec_env: batched; "
                        "children with BatchNorm or Dropout run one by one)")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run every run as a Ray task: on the cluster at ADDRESS, else at $RAY_ADDRESS, else on a "
                        "local Ray started for it (needs: pip install \"lrctl[ray]\")")


def _add_transfer(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transfer", help="rank a policy and its regret to a tuned oracle on held-out task families",
                       description="The held-out transfer benchmark: on task families no shipped policy trained "
                                   "on, each with its own seeds, the policy's rank among the same-start schedules "
                                   "and every method's regret to the tuned oracle; writes one evaluation folder "
                                   "per family, and summary.md and results.csv over all of them.")
    p.add_argument("--policy", help="policy file (default: the shipped general policy)")
    p.add_argument("--families", nargs="+", metavar="NAME", help="run only these families (default: all)")
    p.add_argument("--seeds-per-family", type=int, default=5, help="evaluation seeds per family (default 5)")
    p.add_argument("--initial-lrs", type=float, nargs="+", default=[1e-2, 1e-3, 1e-4],
                   help="initial LRs (default: 1e-2 1e-3 1e-4)")
    p.add_argument("--out", default="eval/transfer", help="output folder (default: eval/transfer)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, a fifth of each budget")
    p.add_argument("--no-peers", action="store_true", help="leave out schedule-free Adam, Prodigy and D-Adaptation")


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write RUN_DIR/policy.pt from a finished run")
    p.add_argument("run_dir")
    p.add_argument("--out", help="where to write the policy file (default RUN_DIR/policy.pt)")


def _add_select(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("select", help="rank training runs (e.g. PPO seeds) on tuning seeds and name the best",
                       description="Run each run's policy and the constant LR on tuning seeds (default: the "
                                   "runs' report seeds; never the evaluation seeds) and rank the runs by the "
                                   "sum over initial LRs of the mean over seeds of log(policy / constant LR). "
                                   "Every policy runs on the tasks of the first RUN_DIR (its budget and task "
                                   "distribution).")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="finished training runs of one setting; the first one's tasks are the tuning tasks")
    p.add_argument("--seeds", type=int, nargs="+", help="tuning seeds (default: the runs' report seeds)")
    p.add_argument("--episodes-per-task", type=int, default=1, metavar="N",
                   help="where the runs draw tasks: score every policy on N episodes (children and batches) of "
                        "each seed's task, which steadies the score (default 1)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--out", help="also write the table to this Markdown file")


def _add_combine(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("combine", help="write one policy file in which the initial LR picks the policy",
                       description="Combine policy files of the same setting, budget, decision interval and LR "
                                   "bounds (each keeps its own features, action mode, base schedule, ceiling and "
                                   "cap) into one: a run starts with the first "
                                   "policy's rule, unless its initial LR is at or above a --from-lrs value, where "
                                   "the policy after it takes over. PolicyScheduler, evaluate and the trainer "
                                   "callbacks read the file as any other policy file.")
    p.add_argument("policies", nargs="+", metavar="POLICY", help="policy files, for increasing initial LRs")
    p.add_argument("--from-lrs", type=float, nargs="*", default=[], metavar="LR",
                   help="for each POLICY after the first, the initial LR from which it drives the run")
    p.add_argument("--sgd-policies", nargs="+", metavar="POLICY",
                   help="policy files that drive the runs with SGD instead, for increasing initial LRs (some of "
                        "the POLICY files or others); default: the POLICY files")
    p.add_argument("--sgd-from-lrs", type=float, nargs="*", metavar="LR",
                   help="--from-lrs among the SGD policies (none: the first drives every SGD run); default: "
                        "none with --sgd-policies, else the same as --from-lrs")
    p.add_argument("--sgd-lr-offsets", type=float, nargs="+", metavar="DECADES",
                   help="for each --sgd-policies file, the decades it adds to the LR it observes on SGD runs, so "
                        "that a policy trained on Adam sees an SGD LR in Adam's terms (-1: ten times lower); "
                        "default: 0 each, as trained")
    p.add_argument("--short-policies", nargs="+", metavar="POLICY",
                   help="policy files that drive the other runs of fewer than --short-below steps, for increasing "
                        "initial LRs (some of the POLICY files or others; SGD runs follow --sgd-policies)")
    p.add_argument("--short-from-lrs", type=float, nargs="*", default=[], metavar="LR",
                   help="--from-lrs among the short-budget policies (none: the first drives every such run)")
    p.add_argument("--short-below", type=int, metavar="STEPS",
                   help="with --short-policies: the budget in optimizer steps below which they drive the run")
    p.add_argument("--out", required=True, help="the policy file to write")
    p.add_argument("--cap-decisions", type=int, metavar="N",
                   help="deploy every policy trained with a cap per decision with its cap set per budget: its "
                        "max change at N decisions per budget, larger over fewer decisions (env.cap_decisions); "
                        "a policy trained with a cap per budget keeps its own; default: as each was trained")
    p.add_argument("--cut-cap-decisions", type=int, nargs="+", metavar="N",
                   help="for each POLICY, the cap per budget of its decisions that lower the LR, set as "
                        "--cap-decisions sets it (env.cut_cap_decisions; 0: as for climbs); the SGD policies keep "
                        "theirs; default: as each was trained")


def _add_upgrade_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upgrade-run", help="convert a run folder of an older lrctl (pickled state) to this one's",
                       description="Read the pickled model.zip and vecnormalize.pkl (and the latest checkpoint's) "
                                   "of a run folder written by an older lrctl and write them again as tensors "
                                   "and arrays, which lrctl reads without running code. Reading a pickle can "
                                   "run code: convert only run folders you trust.")
    p.add_argument("run_dir")


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
    _add_transfer(sub)
    _add_export(sub)
    _add_select(sub)
    _add_combine(sub)
    _add_upgrade_run(sub)
    _add_data(sub)
    return parser


def _train(args: argparse.Namespace) -> int:
    from lrctl.agents.trainer import resume, train
    from lrctl.config import load_config

    if args.resume:
        if args.config or args.overrides or args.run_dir or args.seed is not None:
            raise _UsageError("--resume uses the run's own config.yaml; drop --config/--set/--run-dir/--seed")
        resume(args.resume, ray_address=args.ray_address, total_timesteps=args.total_timesteps)
        return 0
    if args.total_timesteps is not None:
        raise _UsageError("--total-timesteps goes with --resume RUN_DIR; for a new run use "
                          "--set ppo.total_timesteps=N")
    overrides = list(args.overrides)
    if args.run_dir:
        overrides.append(f"run_dir={args.run_dir}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.no_progress:
        overrides.append("progress_bar=false")
    cfg = load_config(args.config, overrides)
    if args.config and args.overwrite and is_within(args.config, cfg.run_dir):
        raise _UsageError(f"--config {args.config!r} lies in the run folder that --overwrite clears; copy it "
                          "out of the folder first")
    if args.ray_address and cfg.ppo.vec_env != "ray":
        raise _UsageError(f"--ray-address {args.ray_address} applies to ppo.vec_env=ray, but this run uses "
                          f"{cfg.ppo.vec_env}; add --set ppo.vec_env=ray")
    train(cfg, overwrite=args.overwrite, ray_address=args.ray_address)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from lrctl.data import ensure_data
    from lrctl.evaluation.outputs import write_outputs
    from lrctl.evaluation.protocol import evaluate, plan_for
    from lrctl.evaluation.setup import resolve_environment
    from lrctl.progress import progress_reporter
    from lrctl.settings import setting_label

    env, policy = resolve_environment(args.setting, args.run_dir, args.policy, args.overrides)
    plan = plan_for(env, policy, seeds=args.seeds, initial_lrs=args.initial_lrs, workers=args.workers,
                    quick=args.quick, include_peers=not args.no_peers, batched=args.batched,
                    on_ray=args.ray is not None, ray_address=args.ray or None, baselines=args.baselines)
    out = _writable_folder(Path(args.out or f"eval/{setting_label(env.setting)}"), "--out")
    if args.run_dir and is_within(out, args.run_dir):
        raise _UsageError(f"--out {str(out)!r} lies in the run folder it evaluates; choose a folder outside it")
    ensure_data(env)  # and on a missing dataset, before any worker starts
    result = evaluate(plan, progress_factory=progress_reporter)
    command = "lrctl evaluate " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["evaluate"] else \
        "python evaluate.py " + " ".join(sys.argv[1:])
    command = _printable(command)
    remove_leftovers(out)
    paths = write_outputs(result, out, command.strip())
    print(paths["summary"].read_text())
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def _transfer(args: argparse.Namespace) -> int:
    from lrctl.atomic import write_text_atomic
    from lrctl.data import ensure_data
    from lrctl.evaluation.outputs import write_outputs
    from lrctl.evaluation.protocol import evaluate, plan_for
    from lrctl.evaluation.setup import resolve_environment
    from lrctl.evaluation.transfer import BASELINES, LR_FREE, cells_of, family_seeds, transfer_csv, transfer_markdown
    from lrctl.evaluation.transfer_families import FAMILIES
    from lrctl.progress import progress_reporter

    names = list(dict.fromkeys(args.families or FAMILIES))
    for name in names:
        if name not in FAMILIES:
            raise _UsageError(f"--families: unknown family {name!r}; choose from: {', '.join(FAMILIES)}")
    if args.seeds_per_family < 2:
        raise _UsageError(f"--seeds-per-family {args.seeds_per_family}: intervals need at least 2 seeds; use 5 or more")
    baselines = [b for b in BASELINES if not (args.no_peers and b in LR_FREE)]
    out = _writable_folder(Path(args.out), "--out")
    plans = {}
    for name in names:  # every family checked before any run starts
        env, policy = resolve_environment(FAMILIES[name], None, args.policy)
        plans[name] = plan_for(env, policy, seeds=family_seeds(list(FAMILIES).index(name), args.seeds_per_family),
                               initial_lrs=args.initial_lrs, workers=args.workers, quick=args.quick,
                               include_peers=not args.no_peers, baselines=baselines)
        ensure_data(env)
    command = _printable("lrctl " + " ".join(sys.argv[1:]))
    cells = []
    for name, plan in plans.items():
        print(f"family {name}", file=sys.stderr)
        result = evaluate(plan, progress_factory=progress_reporter)
        remove_leftovers(out / name)
        write_outputs(result, out / name, f"{command}  # family {name}")
        cells += cells_of(name, result)
    report = transfer_markdown(cells, command)
    write_text_atomic(out / "results.csv", transfer_csv(cells))
    write_text_atomic(out / "summary.md", report)
    print(report)
    print(f"wrote {out / 'summary.md'}, {out / 'results.csv'} and a folder per family")
    return 0


def _writable_folder(path: Path, option: str) -> Path:
    """`path` as a folder this process could write into, checked before any compute; nothing is created."""
    problem = output_name_problem(path) or unwritable_reason(path, folder=True)
    if problem:
        raise _UsageError(f"{option} {_shown(path)} cannot be used ({problem}); choose another folder")
    return path


def _writable_file(path: Path, option: str, inputs: Sequence[str | Path] = (),
                   input_folders: Sequence[str | Path] = ()) -> Path:
    """`path` as a file this process could write, checked before any compute; nothing is created.

    It may not be one of the command's `inputs` nor lie in one of its `input_folders` (run folders)."""
    problem = output_name_problem(path) or unwritable_reason(path, folder=False)
    if problem:
        raise _UsageError(f"{option} {_shown(path)} cannot be used ({problem}); choose another file")
    for item in inputs:
        if Path(item).exists() and path.exists() and path.resolve() == Path(item).resolve():
            raise _UsageError(f"{option} {_shown(path)} is one of the command's inputs; choose another file")
    for folder in input_folders:
        if is_within(path, folder):
            raise _UsageError(f"{option} {_shown(path)} lies in the run folder {str(folder)!r}, which the command "
                              "reads; choose a file outside it")
    return path


def _printable(text: str) -> str:
    """`text` (a command line or path, which may carry bytes that are not UTF-8) with those bytes escaped."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _shown(path: Path | str) -> str:
    """`path` quoted for a message."""
    return repr(_printable(str(path)))


def _export(args: argparse.Namespace) -> int:
    from lrctl.agents.export import export_run

    print(export_run(args.run_dir, args.out))
    return 0


def _upgrade_run(args: argparse.Namespace) -> int:
    from lrctl.agents.upgrade import upgrade_run

    for path in upgrade_run(args.run_dir):
        print(f"wrote {path}")
    return 0


def _select(args: argparse.Namespace) -> int:
    from lrctl.atomic import write_text_atomic
    from lrctl.data import ensure_data
    from lrctl.evaluation.selection import load_candidates, render_selection, score_runs
    from lrctl.progress import progress_reporter

    if args.workers < 1:
        raise _UsageError(f"--workers {args.workers}: must be at least 1")
    if args.out:
        _writable_file(Path(args.out), "--out", input_folders=args.run_dirs)
    runs, seeds = load_candidates(args.run_dirs, args.seeds, args.episodes_per_task)
    ensure_data(runs[0][1].env)
    scores = score_runs(runs, seeds, workers=args.workers, progress_factory=progress_reporter,
                        episodes_per_task=args.episodes_per_task)
    text = render_selection(scores, seeds, tasks_of=runs[0][0], episodes_per_task=args.episodes_per_task)
    if args.out:
        write_text_atomic(Path(args.out), text)
    print(text)
    return 0


def _combine(args: argparse.Namespace) -> int:
    from lrctl.checks import check_positive
    from lrctl.deploy.policy import combine_policies, save_policy

    if args.cap_decisions is not None:
        check_positive("--cap-decisions", args.cap_decisions)
    if len(args.from_lrs) != len(args.policies) - 1:
        raise _UsageError(f"--from-lrs: {len(args.policies)} POLICY files take {len(args.policies) - 1} initial LR(s), "
                          f"got {len(args.from_lrs)}; give one for each POLICY after the first")
    if args.cut_cap_decisions is not None:
        if len(args.cut_cap_decisions) != len(args.policies):
            raise _UsageError(f"--cut-cap-decisions: {len(args.policies)} POLICY files take {len(args.policies)} "
                              f"value(s), got {len(args.cut_cap_decisions)}; give one for each POLICY")
        for value in args.cut_cap_decisions:
            if value < 0:
                raise _UsageError(f"--cut-cap-decisions: {value} is negative; give 0 (as for climbs) or a number "
                                  "of decisions")
    if args.sgd_lr_offsets is not None:
        if args.sgd_policies is None or len(args.sgd_lr_offsets) != len(args.sgd_policies):
            raise _UsageError(f"--sgd-lr-offsets: give one per --sgd-policies file, got {len(args.sgd_lr_offsets)} "
                              f"for {len(args.sgd_policies or [])}")
        bad = next((v for v in args.sgd_lr_offsets if not math.isfinite(v)), None)
        if bad is not None:
            raise _UsageError(f"--sgd-lr-offsets: {bad} is not a finite number of decades")
    if (args.short_policies is None) != (args.short_below is None):
        raise _UsageError("--short-policies and --short-below go together; give both or neither")
    if args.short_below is not None and args.short_below < 2:
        raise _UsageError(f"--short-below: {args.short_below} steps; give the budget below which the "
                          "--short-policies drive the run, at least 2")
    if args.short_policies is not None and len(args.short_from_lrs) != len(args.short_policies) - 1:
        raise _UsageError(f"--short-from-lrs: {len(args.short_policies)} --short-policies take "
                          f"{len(args.short_policies) - 1} initial LR(s), got {len(args.short_from_lrs)}")
    _writable_file(Path(args.out), "--out",
                   inputs=args.policies + (args.sgd_policies or []) + (args.short_policies or []))
    by_optimizer = {}
    if args.sgd_policies is not None or args.sgd_from_lrs is not None:
        sgd_from_lrs = args.sgd_from_lrs or []
        sgd_policies = args.sgd_policies or args.policies[:len(sgd_from_lrs) + 1]
        by_optimizer["sgd"] = (sgd_policies, sgd_from_lrs)
    short = None if args.short_policies is None else (args.short_below, args.short_policies, args.short_from_lrs)
    combined = combine_policies(args.policies, args.from_lrs, args.cap_decisions, by_optimizer,
                                args.cut_cap_decisions, short,
                                {"sgd": args.sgd_lr_offsets} if args.sgd_lr_offsets is not None else None)
    save_policy(combined, args.out)
    ranges = [_hand_over_text(args.policies, args.from_lrs)]
    if by_optimizer:
        ranges.append("with SGD " + _hand_over_text(*by_optimizer["sgd"]))
    if short:
        ranges.append(f"below {args.short_below} steps " + _hand_over_text(args.short_policies, args.short_from_lrs))
    print(f"wrote {args.out} (initial LR {'; '.join(ranges)})")
    return 0


def _hand_over_text(policies: list[str], from_lrs: list[float]) -> str:
    if not from_lrs:
        return f"always {policies[0]}"
    return f"below {from_lrs[0]:g}: {policies[0]}, " + ", ".join(
        f"from {lr:g}: {path}" for lr, path in zip(from_lrs, policies[1:]))


def _data(args: argparse.Namespace) -> int:
    from lrctl.config import default_data_root
    from lrctl.data import import_idx_folder

    raw = import_idx_folder(args.dataset, args.source, args.root or default_data_root())
    print(f"imported {args.dataset} into {raw}")
    return 0


class _UsageError(Exception):
    pass


_PACKAGE_DIR = Path(__file__).resolve().parent


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    """lrctl's own warnings as one line; other packages' warnings as Python shows them."""
    if Path(filename).resolve().is_relative_to(_PACKAGE_DIR):
        print(f"lrctl: warning: {message}", file=file or sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=file or sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `lrctl` command line; returns the exit status."""
    from lrctl.agents.trainer import TrainingInterrupted
    from lrctl.errors import USER_ERRORS

    args = build_parser().parse_args(argv)
    handlers = {"train": _train, "evaluate": _evaluate, "transfer": _transfer, "export": _export, "select": _select,
                "combine": _combine, "upgrade-run": _upgrade_run, "data": _data}
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return handlers[args.command](args)
    except TrainingInterrupted as stop:
        print(f"lrctl: {stop}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("lrctl: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (*USER_ERRORS, _UsageError) as err:
        print(f"lrctl: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:  # a full disk or an I/O error while writing: what was half-written is gone
        where = f" {_shown(err.filename)}" if err.filename else ""
        print(f"lrctl: error: cannot read or write{where}: {err.strerror or err}; free space, fix permissions "
              "or choose another path", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
