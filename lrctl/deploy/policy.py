"""The deployable policy file: actor weights, frozen observation statistics and the action spec.

A policy file is written by `lrctl.agents.export` from a trained SB3 model and its VecNormalize, and
loaded by `load_policy` with torch alone (no stable-baselines3, no Gymnasium): `torch.load(weights_only=True)` of
a dict of tensors and plain values. A file may also hold several policies that each drive the runs
from a range of initial LRs (`PolicyByInitialLR`, written by `lrctl combine`).
"""

from __future__ import annotations

import bisect
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lrctl.atomic import write_atomic
from lrctl.deploy.actions import ACTION_BASES, ACTION_MODES, is_cap_decisions, is_cut_cap_decisions, is_max_lr_ratio
from lrctl.deploy.features import check_feature_names
from lrctl.errors import PolicyFileError

FORMAT = "lrctl-policy"
FORMAT_VERSION = 1
"""Version of a file that holds one policy."""
FORMAT_VERSION_BY_INITIAL_LR = 2
"""Version of a file that holds several policies, each for a range of initial LRs."""
OPTIMIZER_FAMILIES = ("adam", "sgd")
"""The child optimizer families a policy is trained with and a hand-over may be set for (the names of
`lrctl.config.OPTIMIZERS`; this module loads without the config's Gymnasium imports)."""


TASK_DISTRIBUTION = "task-distribution"
"""`PolicySpec.setting` of a policy trained on drawn tasks (`env.tasks`): no one setting or budget."""


@dataclass(frozen=True)
class PolicySpec:
    """What a policy was trained for and how it acts; stored beside the weights."""

    feature_names: tuple[str, ...]
    action_mode: str
    max_change: float
    lr_min: float
    lr_max: float
    steps_per_action: int
    child_steps: int
    setting: str
    initial_lrs: tuple[float, ...]
    lrctl_version: str
    optimizers: tuple[str, ...] = ()
    """Child optimizers it was trained with (adam, sgd); empty: not said."""
    action_base: str = "constant"
    """The schedule its LR is multiplied by (`lrctl.deploy.actions.ACTION_BASES`)."""
    max_lr_ratio: float = 0.0
    """Its LR's ceiling as a multiple of the run's initial LR (`EnvConfig.max_lr_ratio`); 0: none."""
    cap_decisions: int = 0
    """The number of decisions per budget at which max_change is the cap (`EnvConfig.cap_decisions`); 0:
    max_change caps every decision."""
    cut_cap_decisions: int = 0
    """The same for decisions that lower the LR (`EnvConfig.cut_cap_decisions`); 0: as cap_decisions."""
    log10_lr_offset: float = 0.0
    """Decades added to the observed `log10_lr` before normalisation: a policy trained on one optimizer
    deployed on another whose good LRs lie at another scale sees the LR in its own terms (-1 for a policy
    trained on Adam driving SGD runs, whose good LRs lie about ten times higher). 0: as trained."""


_SPEC_KEYS = frozenset(field.name for field in dataclasses.fields(PolicySpec))
_KEYS_FILES_MAY_LACK = frozenset({"cap_decisions", "cut_cap_decisions", "log10_lr_offset"})
"""Spec keys added after files in use were written; where a file lacks one, the default holds for it
(its policy acts as trained: a cap on every decision, cuts capped as climbs, the LR observed as it is)."""


class Policy:
    """A deterministic controller: normalise features as VecNormalize did, run the actor, pick an action."""

    def __init__(self, spec: PolicySpec, actor: nn.Sequential, obs_mean: np.ndarray, obs_var: np.ndarray,
                 clip_obs: float, epsilon: float, log_std: np.ndarray | None = None) -> None:
        self.spec = spec
        self.log_std = None if log_std is None else np.asarray(log_std, dtype=np.float32)
        self.actor = actor.eval()
        self.obs_mean = np.asarray(obs_mean, dtype=np.float64)
        self.obs_var = np.asarray(obs_var, dtype=np.float64)
        self.clip_obs = float(clip_obs)
        self.epsilon = float(epsilon)

    def normalize(self, features: np.ndarray) -> np.ndarray:
        """Exactly VecNormalize.normalize_obs with the frozen statistics (after `log10_lr_offset`)."""
        if self.spec.log10_lr_offset:
            features = np.array(features, dtype=np.float64)
            features[..., self.spec.feature_names.index("log10_lr")] += self.spec.log10_lr_offset
        return np.clip((features - self.obs_mean) / np.sqrt(self.obs_var + self.epsilon),
                       -self.clip_obs, self.clip_obs)

    @torch.no_grad()
    def act(self, features: np.ndarray) -> Any:
        """The deterministic action for one feature vector: an int (discrete) or a (1,) float32 array."""
        obs = torch.as_tensor(self.normalize(np.asarray(features)), dtype=torch.float32).unsqueeze(0)
        out = self.actor(obs)[0]
        if self.spec.action_mode == "discrete":
            return int(out.argmax())
        return np.clip(out.numpy().astype(np.float32), -1.0, 1.0)

    @torch.no_grad()
    def sample(self, features: np.ndarray, generator: torch.Generator) -> Any:
        """A stochastic action as PPO samples it during training (categorical or Gaussian)."""
        obs = torch.as_tensor(self.normalize(np.asarray(features)), dtype=torch.float32).unsqueeze(0)
        out = self.actor(obs)[0]
        if self.spec.action_mode == "discrete":
            return int(torch.multinomial(out.softmax(dim=0), 1, generator=generator))
        std = torch.as_tensor(np.exp(self.log_std if self.log_std is not None else np.zeros(1, np.float32)))
        noise = torch.randn(out.shape, generator=generator)
        return np.clip((out + std * noise).numpy().astype(np.float32), -1.0, 1.0)

    def with_spec(self, **changes: Any) -> Policy:
        """This policy's actor and observation statistics, deployed with `changes` to its spec.

        Example:
            >>> sgd_low = low.with_spec(log10_lr_offset=-1.0)  # doctest: +SKIP
        """
        return Policy(replace(self.spec, **changes), self.actor, self.obs_mean, self.obs_var, self.clip_obs,
                      self.epsilon, self.log_std)

    def for_initial_lr(self, initial_lr: float, optimizer: str | None = None, budget: int | None = None) -> Policy:
        """The policy that drives a run from `initial_lr` with `optimizer` over `budget` steps: this one."""
        return self

    def to_file_dict(self) -> dict[str, Any]:
        """The policy as the dict stored in a policy file."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "spec": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.spec).items()},
            "actor_sizes": _actor_sizes(self.actor),
            "actor_state": {k: v.clone() for k, v in self.actor.state_dict().items()},
            "obs_norm": {
                "mean": torch.as_tensor(self.obs_mean), "var": torch.as_tensor(self.obs_var),
                "clip": self.clip_obs, "epsilon": self.epsilon,
            },
            "log_std": None if self.log_std is None else torch.as_tensor(self.log_std),
        }


_MAY_DIFFER = ("initial_lrs", "lrctl_version", "feature_names", "action_mode", "action_base", "max_lr_ratio",
               "cap_decisions", "cut_cap_decisions", "log10_lr_offset", "optimizers")
"""Spec fields in which the members of a `PolicyByInitialLR` may differ; they share every other one. A
run takes its features, action mode, base schedule, ceiling and cap per budget from the member that drives it; a
member trained on one optimizer may drive that optimizer's runs (`HandOver`)."""


@dataclass(frozen=True)
class HandOver:
    """Which members of a `PolicyByInitialLR` drive the runs of one optimizer family, by initial LR.

    Args:
        members: indices of the members, for increasing initial LRs.
        edges: the initial LRs where one of them hands over to the next, one fewer than `members`.

    Example:
        >>> HandOver((2,)).member_index(1e-2), HandOver((0, 1), (5.5e-3,)).member_index(1e-2)
        (2, 1)
    """

    members: tuple[int, ...]
    edges: tuple[float, ...] = ()

    @classmethod
    def of(cls, members: Sequence[Any], edges: Sequence[Any] = ()) -> HandOver:
        """A hand-over of plain ints and floats (from a file, NumPy or a caller's lists).

        Example:
            >>> HandOver.of([0, 1], [5.5e-3])
            HandOver(members=(0, 1), edges=(0.0055,))
        """
        return cls(tuple(int(i) for i in members), tuple(float(e) for e in edges))

    def member_index(self, initial_lr: float) -> int:
        """The index of the member that drives a run from `initial_lr`."""
        return self.members[bisect.bisect_right(self.edges, float(initial_lr))]


@dataclass(frozen=True)
class ShortBudgets:
    """Which members of a `PolicyByInitialLR` drive the runs of fewer than `steps` steps (of an optimizer
    without a hand-over of its own), by initial LR.

    Args:
        steps: the budget, in the policy's steps, below which `hand_over` picks the member.
        hand_over: the members and hand-over LRs for those runs.

    Example:
        >>> ShortBudgets(300, HandOver((3, 1), (5.5e-3,))).hand_over.member_index(1e-3)
        3
    """

    steps: int
    hand_over: HandOver


class PolicyByInitialLR:
    """Policies that each drive the runs from one range of initial LRs; a run's initial LR picks one.

    `edges` are the initial LRs where one member hands over to the next, in increasing order: a run
    from initial LR `lr` is driven by ``members[i]``, where i is the number of edges at or below `lr`.
    With two members and edges ``(8e-3,)``, runs from below 8e-3 get the first, runs from 8e-3 up the
    second. The members share the budget, decision interval, `max_change` and LR bounds (their specs
    differ only in `_MAY_DIFFER`), so `spec` describes them all but for the features, action mode, base
    schedule, ceiling, cap and optimizers, which each run takes from its member's own spec.

    `hand_over_by_optimizer` sets which members drive the runs of one optimizer family (adam, sgd), and
    from which initial LRs: the same good LR is about ten times higher for SGD than for Adam, and a member
    trained on SGD may drive SGD runs alone. `short_budgets` does the same for the other runs of fewer
    steps than it names: a member trained on short budgets may drive them. Members after the first
    ``len(edges) + 1`` drive only the runs that name them.

    Args:
        members: the policies, for increasing initial LRs (then those only some runs use).
        edges: the hand-over LRs of every other run, at most one fewer than the members.
        hand_over_by_optimizer: the members and hand-over LRs for the runs of an optimizer family.
        short_budgets: the members and hand-over LRs for the runs of short budgets.

    Example:
        >>> low, high, sgd = (load_policy(f) for f in ("low.pt", "high.pt", "sgd.pt"))  # doctest: +SKIP
        >>> both = PolicyByInitialLR([low, high, sgd], [5.5e-3], {"sgd": HandOver((2,))})  # doctest: +SKIP
        >>> both.for_initial_lr(1e-2) is high, both.for_initial_lr(1e-2, "sgd") is sgd  # doctest: +SKIP
        (True, True)
    """

    def __init__(self, members: Sequence[Policy], edges: Sequence[float],
                 hand_over_by_optimizer: Mapping[str, HandOver] | None = None,
                 short_budgets: ShortBudgets | None = None) -> None:
        by_optimizer = dict(hand_over_by_optimizer or {})
        problem = members_problem(members, edges, by_optimizer, short_budgets)
        if problem:
            raise ValueError(problem)
        self.short_budgets = None if short_budgets is None else ShortBudgets(
            int(short_budgets.steps), HandOver.of(short_budgets.hand_over.members, short_budgets.hand_over.edges))
        self.members = tuple(members)
        self.edges = tuple(float(e) for e in edges)
        self.hand_over = HandOver(tuple(range(len(self.edges) + 1)), self.edges)
        self.hand_over_by_optimizer = {
            name: HandOver.of(by_optimizer[name].members, by_optimizer[name].edges) for name in sorted(by_optimizer)}

    @property
    def spec(self) -> PolicySpec:
        """The members' shared spec, with the initial LRs and optimizers of them all."""
        lrs = sorted({lr for m in self.members for lr in m.spec.initial_lrs}, reverse=True)
        optimizers = tuple(name for name in OPTIMIZER_FAMILIES if any(name in m.spec.optimizers for m in self.members))
        return replace(self.members[0].spec, initial_lrs=tuple(lrs), optimizers=optimizers)

    def for_initial_lr(self, initial_lr: float, optimizer: str | None = None, budget: int | None = None) -> Policy:
        """The member that drives a run from `initial_lr` with `optimizer` (a family: adam, sgd; None or
        another: the hand-over by `edges`) over `budget` steps (None: not short)."""
        hand_over = self.hand_over_by_optimizer.get(optimizer)
        if hand_over is None:
            short = self.short_budgets
            hand_over = short.hand_over if short and budget is not None and budget < short.steps else self.hand_over
        return self.members[hand_over.member_index(initial_lr)]

    def to_file_dict(self) -> dict[str, Any]:
        """The policies as the dict stored in a policy file."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION_BY_INITIAL_LR,
            "edges": list(self.edges),
            "hand_over_by_optimizer": {name: {"members": list(h.members), "edges": list(h.edges)}
                                       for name, h in self.hand_over_by_optimizer.items()},
            "short_budgets": None if self.short_budgets is None else {
                "steps": self.short_budgets.steps, "members": list(self.short_budgets.hand_over.members),
                "edges": list(self.short_budgets.hand_over.edges)},
            "members": [m.to_file_dict() for m in self.members],
        }


AnyPolicy = Policy | PolicyByInitialLR
"""What a policy file holds."""


def members_problem(members: Sequence[Policy], edges: Sequence[float],
                    hand_over_by_optimizer: Mapping[str, HandOver] | None = None,
                    short_budgets: ShortBudgets | None = None) -> str | None:
    """Why `members` with hand-over `edges` (and `hand_over_by_optimizer`, `short_budgets`) cannot form a
    `PolicyByInitialLR`, or None."""
    if len(members) < 2 or len(edges) > len(members) - 1:
        return f"{len(members)} policies take at most {max(len(members) - 1, 1)} hand-over LR(s), got {len(edges)}"
    if not _positive_increasing(edges):
        return f"hand-over LRs {list(edges)!r} are not positive and increasing"
    driving = set(range(len(edges) + 1))
    named = dict(hand_over_by_optimizer or {})
    for name in named:
        if name not in OPTIMIZER_FAMILIES:
            return f"hand-over for optimizer {name!r}: allowed optimizers are {', '.join(OPTIMIZER_FAMILIES)}"
    if short_budgets is not None:
        if isinstance(short_budgets.steps, bool) or not isinstance(short_budgets.steps, int) or short_budgets.steps < 2:
            return f"short budgets below {short_budgets.steps!r} steps: give a number of steps of at least 2"
        named[f"budgets below {short_budgets.steps} steps"] = short_budgets.hand_over
    for name, hand_over in named.items():
        if not all(isinstance(i, int) and 0 <= i < len(members) for i in hand_over.members) or not hand_over.members:
            return (f"the {name} hand-over names members {list(hand_over.members)!r}; there are {len(members)}, "
                    "numbered from 0")
        if len(hand_over.edges) != len(hand_over.members) - 1 or not _positive_increasing(hand_over.edges):
            return (f"hand-over LRs {list(hand_over.edges)!r} for {name} must be positive, increasing and one fewer "
                    f"than its {len(hand_over.members)} policies")
        driving.update(hand_over.members)
    idle = [i + 1 for i in range(len(members)) if i not in driving]
    if idle:
        return (f"policy {idle[0]} drives no run; hand it the runs from an initial LR, of an optimizer or of "
                "short budgets")
    first = asdict(members[0].spec)
    for member in members[1:]:
        other = asdict(member.spec)
        differ = [k for k in first if k not in _MAY_DIFFER and first[k] != other[k]]
        if differ:
            return (f"the policies differ in {', '.join(differ)}; combine policies trained on the same setting and "
                    "budget with the same decision interval, max_change and LR bounds")
    return None


def _positive_increasing(edges: Sequence[float]) -> bool:
    return _finite(edges) and all(0 < a < b for a, b in zip(edges, list(edges[1:]) + [np.inf]))


def with_cap_decisions(policy: Policy, cap_decisions: int, cut_cap_decisions: int | None = None) -> Policy:
    """`policy` deployed with its cap set per budget (`PolicySpec.cap_decisions`, and for cuts
    `cut_cap_decisions`; None keeps the policy's) instead of as trained."""
    cut = policy.spec.cut_cap_decisions if cut_cap_decisions is None else cut_cap_decisions
    return policy.with_spec(cap_decisions=cap_decisions, cut_cap_decisions=cut)


def combine_policies(paths: Sequence[str | os.PathLike[str]], from_lrs: Sequence[float],
                     cap_decisions: int | None = None,
                     by_optimizer: Mapping[str, tuple[Sequence[str | os.PathLike[str]], Sequence[float]]] | None = None,
                     cut_cap_decisions: Sequence[int] | None = None,
                     short_budgets: tuple[int, Sequence[str | os.PathLike[str]], Sequence[float]] | None = None,
                     log10_lr_offsets: Mapping[str, Sequence[float]] | None = None,
                     ) -> PolicyByInitialLR:
    """The policies of `paths` (for increasing initial LRs), each after the first driving the runs from
    its entry of `from_lrs` up; a one-line PolicyFileError where they cannot be combined.

    Args:
        paths: policy files of one policy each.
        from_lrs: for each policy after the first, the initial LR from which it drives the run.
        cap_decisions: where given, every policy trained with a cap per decision caps its decisions per
            budget (`EnvConfig.cap_decisions`); a policy trained with a cap per budget keeps its own, the
            pace it learned to climb and cut at.
        by_optimizer: for the runs of an optimizer family, its own policy files (some of `paths` or others)
            and their `from_lrs` (`PolicyByInitialLR`'s `hand_over_by_optimizer`). These keep the cut cap
            they were trained with.
        cut_cap_decisions: where given, one per policy of `paths`: its cap per budget for decisions that
            lower the LR (`EnvConfig.cut_cap_decisions`, 0: as for climbs). A file of `paths` that an
            optimizer family's runs use with another cut cap is held twice.
        short_budgets: (steps, files, from_lrs): the policy files (some of `paths` or others) that drive the
            other runs of fewer than `steps` steps, and their `from_lrs` (`ShortBudgets`). These keep the
            cut cap they were trained with.
        log10_lr_offsets: for an optimizer family of `by_optimizer`, one per its policy files: the decades
            that policy adds to the LR it observes on that family's runs (`PolicySpec.log10_lr_offset`,
            0: as trained).

    Example:
        >>> both = combine_policies(["low.pt", "high.pt"], [5.5e-3], cap_decisions=100,  # doctest: +SKIP
        ...                         by_optimizer={"sgd": (["low.pt", "sgd.pt"], [3e-3])},
        ...                         cut_cap_decisions=[200, 0], log10_lr_offsets={"sgd": [-1.0, 0.0]})
        >>> save_policy(both, "general.pt")  # doctest: +SKIP
    """
    cuts = [None] * len(paths) if cut_cap_decisions is None else list(cut_cap_decisions)
    if len(cuts) != len(paths):
        raise PolicyFileError(f"cut_cap_decisions: {len(paths)} policies take {len(paths)} values, got {len(cuts)}")
    short_paths = list(short_budgets[1]) if short_budgets is not None else []
    loaded: dict[str, Policy] = {}
    for path in dict.fromkeys(str(p) for p in [*paths, *(p for paths_of, _ in (by_optimizer or {}).values()
                                                         for p in paths_of), *short_paths]):
        policy = load_policy(path)
        if not isinstance(policy, Policy):
            raise PolicyFileError(f"{path!r} already holds several policies; combine the files it was made of")
        trained_per_decision = policy.spec.cap_decisions == 0
        loaded[path] = (with_cap_decisions(policy, cap_decisions)
                        if cap_decisions is not None and trained_per_decision else policy)

    offsets = dict(log10_lr_offsets or {})
    for name, values in offsets.items():
        if len(values) != len((by_optimizer or {}).get(name, ((), ()))[0]):
            raise PolicyFileError(f"log10_lr_offsets for {name}: give one per its policy file, got {len(values)}")
    members: list[Policy] = []
    member_keys: list[tuple[str, int, float]] = []

    def member_index(path: str | os.PathLike[str], cut: int | None, offset: float = 0.0) -> int:
        policy = loaded[str(path)]
        key = (str(path), policy.spec.cut_cap_decisions if cut is None else cut, float(offset))
        if key not in member_keys:
            member_keys.append(key)
            members.append(policy.with_spec(cut_cap_decisions=key[1], log10_lr_offset=key[2]))
        return member_keys.index(key)

    default_indices = [member_index(path, cut) for path, cut in zip(paths, cuts)]
    hand_overs = {name: HandOver(tuple(member_index(p, None, offset) for p, offset in
                                       zip(paths_of, offsets.get(name, [0.0] * len(paths_of)))), tuple(lrs))
                  for name, (paths_of, lrs) in (by_optimizer or {}).items()}
    short = None if short_budgets is None else ShortBudgets(
        short_budgets[0], HandOver(tuple(member_index(p, None) for p in short_paths), tuple(short_budgets[2])))
    problem = (next(filter(None, map(policy_problem, members)), None)
               or members_problem(members, from_lrs, hand_overs, short))
    if default_indices != list(range(len(paths))):
        problem = problem or "a policy file is given twice among the policies for increasing initial LRs"
    if problem:
        raise PolicyFileError(f"cannot combine {', '.join(dict.fromkeys(key[0] for key in member_keys))}: {problem}")
    return PolicyByInitialLR(members, from_lrs, hand_overs, short)


def _actor_sizes(actor: nn.Sequential) -> list[int]:
    linears = [m for m in actor if isinstance(m, nn.Linear)]
    return [linears[0].in_features] + [m.out_features for m in linears]


def build_actor(sizes: list[int]) -> nn.Sequential:
    """Linear layers of `sizes` with Tanh between them (SB3 MlpPolicy's actor and action head)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def save_policy(policy: AnyPolicy, path: str | os.PathLike[str]) -> Path:
    """Write `policy` to `path` atomically."""
    return write_atomic(path, lambda tmp: torch.save(policy.to_file_dict(), tmp))


def load_policy(path: str | os.PathLike[str]) -> AnyPolicy:
    """Load a policy file (one policy, or several by initial LR); anything else is a one-line
    PolicyFileError."""
    path = Path(path)
    if not path.is_file():
        raise PolicyFileError(f"policy file {str(path)!r} not found; train one (lrctl train) or export one "
                              "(lrctl export RUN_DIR)")
    if path.stat().st_size == 0:
        raise PolicyFileError(f"policy file {str(path)!r} is empty; export it again with lrctl export RUN_DIR")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # zip, pickle and unpickler errors of many types
        raise PolicyFileError(
            f"{str(path)!r} is not a readable lrctl policy file (truncated or corrupt? {type(err).__name__}); "
            "export it again with lrctl export RUN_DIR"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PolicyFileError(f"{str(path)!r} is not an lrctl policy file (no '{FORMAT}' marker)")
    if data.get("format_version") == FORMAT_VERSION_BY_INITIAL_LR:
        return _policies_from_file_dict(data, path)
    return _policy_from_file_dict(data, path)


def _check_version(data: dict[str, Any], path: Path) -> None:
    if data.get("format_version") != FORMAT_VERSION:
        raise PolicyFileError(
            f"{str(path)!r} has policy format version {data.get('format_version')!r}; this lrctl reads "
            f"versions {FORMAT_VERSION} and {FORMAT_VERSION_BY_INITIAL_LR}: upgrade lrctl or export the policy again"
        )


def _damaged(path: Path, err: Exception) -> PolicyFileError:
    detail = (str(err).strip().splitlines() or [""])[0]
    return PolicyFileError(f"{str(path)!r} is a damaged lrctl policy file ({type(err).__name__}: {detail}); "
                           "export it again")


def _policies_from_file_dict(data: dict[str, Any], path: Path) -> PolicyByInitialLR:
    try:
        edges = [float(e) for e in data["edges"]]
        by_optimizer = {str(name): HandOver.of(h["members"], h["edges"])
                        for name, h in dict(data.get("hand_over_by_optimizer") or {}).items()}
        # older files: hand-over LRs among the first members
        for name, edges_of in dict(data.get("edges_by_optimizer") or {}).items():
            by_optimizer[str(name)] = HandOver.of(range(len(edges_of) + 1), edges_of)
        short = data.get("short_budgets")
        short_budgets = None if short is None else ShortBudgets(int(short["steps"]),
                                                                HandOver.of(short["members"], short["edges"]))
        members = [_policy_from_file_dict(dict(m), path) for m in data["members"]]
    except PolicyFileError:
        raise
    except (KeyError, TypeError, ValueError) as err:
        raise _damaged(path, err) from None
    problem = members_problem(members, edges, by_optimizer, short_budgets)
    if problem:
        raise PolicyFileError(f"{str(path)!r} holds unusable policies: {problem}; combine them again")
    return PolicyByInitialLR(members, edges, by_optimizer, short_budgets)


def _policy_from_file_dict(data: dict[str, Any], path: Path) -> Policy:
    _check_version(data, path)
    try:
        raw = dict(data["spec"])
        missing = sorted(_SPEC_KEYS - _KEYS_FILES_MAY_LACK - set(raw))
        if missing:  # a file of a pre-release lrctl, before these were recorded
            raise PolicyFileError(f"{str(path)!r} lacks {', '.join(missing)}: it was written by a pre-release "
                                  "lrctl; export it again with lrctl export RUN_DIR")
        unknown = sorted(set(raw) - _SPEC_KEYS)
        if unknown:
            raise PolicyFileError(f"{str(path)!r} sets {', '.join(map(str, unknown))}, which this lrctl does not "
                                  "know: it was written by a newer lrctl; upgrade lrctl")
        spec = PolicySpec(**{**raw, "feature_names": tuple(raw["feature_names"]),
                             "initial_lrs": tuple(raw["initial_lrs"]), "optimizers": tuple(raw["optimizers"])})
        actor = build_actor([int(s) for s in data["actor_sizes"]])
        actor.load_state_dict(data["actor_state"])
        norm = data["obs_norm"]
        log_std = data.get("log_std")
        policy = Policy(spec, actor, norm["mean"].numpy(), norm["var"].numpy(), norm["clip"], norm["epsilon"],
                        None if log_std is None else log_std.numpy())
    except PolicyFileError:
        raise
    except (KeyError, TypeError, RuntimeError, AttributeError, ValueError) as err:
        raise _damaged(path, err) from None
    try:
        check_feature_names(spec.feature_names)
    except ValueError as err:
        raise PolicyFileError(f"{str(path)!r}: {err}; upgrade lrctl") from None
    problem = policy_problem(policy)
    if problem:
        raise PolicyFileError(f"{str(path)!r} holds an unusable policy: {problem}; export it again")
    return policy


def _finite(values: Any) -> bool:
    return bool(np.all(np.isfinite(np.asarray(values, dtype=np.float64))))


def policy_problem(policy: Policy) -> str | None:
    """What makes `policy` unusable (non-finite weights or statistics, bounds, shapes), or None."""
    spec = policy.spec
    if spec.action_mode not in ACTION_MODES:
        return f"unknown action mode {spec.action_mode!r}"
    if not (isinstance(spec.max_change, (int, float)) and 0 < spec.max_change < 1):
        return f"max_change {spec.max_change!r} outside (0, 1)"
    if not (_finite([spec.lr_min, spec.lr_max]) and 0 < spec.lr_min < spec.lr_max):
        return f"LR bounds [{spec.lr_min!r}, {spec.lr_max!r}] are not 0 < lr_min < lr_max"
    if not (isinstance(spec.steps_per_action, int) and isinstance(spec.child_steps, int)
            and 0 < spec.steps_per_action <= spec.child_steps):
        return f"budget {spec.child_steps!r} steps with a decision every {spec.steps_per_action!r}"
    if not (spec.initial_lrs and _finite(spec.initial_lrs) and min(spec.initial_lrs) > 0):
        return f"initial LRs {list(spec.initial_lrs)!r} are not positive numbers"
    if spec.action_base not in ACTION_BASES:
        return f"unknown action base {spec.action_base!r}"
    if not is_cap_decisions(spec.cap_decisions):
        return f"cap_decisions {spec.cap_decisions!r} is neither 0 (none) nor a positive number of decisions"
    if not is_cut_cap_decisions(spec.cut_cap_decisions, spec.cap_decisions):
        return (f"cut_cap_decisions {spec.cut_cap_decisions!r} is neither 0 nor, with cap_decisions, a positive "
                "number of decisions")
    if not is_max_lr_ratio(spec.max_lr_ratio):
        return f"max_lr_ratio {spec.max_lr_ratio!r} is neither 0 (none) nor at least 1"
    if spec.log10_lr_offset and ("log10_lr" not in spec.feature_names or not _finite([spec.log10_lr_offset])):
        return (f"log10_lr_offset {spec.log10_lr_offset!r} needs a finite value and a policy that observes "
                "log10_lr")
    if not all(name in OPTIMIZER_FAMILIES for name in spec.optimizers):
        return f"unknown optimizers {list(spec.optimizers)!r}"
    sizes = _actor_sizes(policy.actor)
    outputs = 3 if spec.action_mode == "discrete" else 1
    if sizes[0] != len(spec.feature_names) or sizes[-1] != outputs:
        return (f"actor maps {sizes[0]} inputs to {sizes[-1]} outputs, expected {len(spec.feature_names)} "
                f"features to {outputs} {spec.action_mode} outputs")
    if not all(_finite(t.detach()) for t in policy.actor.state_dict().values()):
        return "actor weights are not all finite"
    if policy.obs_mean.shape != (len(spec.feature_names),) or policy.obs_var.shape != policy.obs_mean.shape:
        return "observation statistics do not match the features"
    if not (_finite(policy.obs_mean) and _finite(policy.obs_var) and np.all(policy.obs_var >= 0)):
        return "observation statistics are not finite, non-negative variances"
    if not (_finite([policy.clip_obs, policy.epsilon]) and policy.clip_obs > 0 and policy.epsilon > 0):
        return f"observation clip {policy.clip_obs!r} or epsilon {policy.epsilon!r} is not a positive number"
    if policy.log_std is not None and not _finite(policy.log_std):
        return "log_std is not finite"
    return None


GENERAL_POLICY = "general"
"""Name of the shipped policy trained on a task distribution: three runs (`configs/general.yaml`,
`configs/experiments/general_bounded.yaml` for high initial LRs and `configs/experiments/general_sgd.yaml` for
SGD from high ones) in one file (`PolicyByInitialLR`)."""


def shipped_policy_path(setting: str | None = None) -> Path:
    """Path of a pretrained policy shipped inside the package.

    None or "general": the general policy, trained on drawn tasks. A setting's name: the policy shipped
    for that setting where one ships (`lrctl/policies/SETTING.pt`), else the general policy.
    """
    folder = Path(__file__).parents[1] / "policies"  # lrctl/policies
    general = folder / f"{GENERAL_POLICY}.pt"
    path = folder / f"{setting}.pt" if setting else general
    if not path.is_file() and setting not in (None, GENERAL_POLICY):
        from lrctl.settings import SETTINGS, is_import_path

        if setting in SETTINGS or is_import_path(setting):  # a user's own setting: the general policy
            path = general
    if not path.is_file():
        shipped = sorted(p.stem for p in folder.glob("*.pt"))
        raise PolicyFileError(f"no shipped policy for {setting!r}; shipped: {', '.join(shipped) or 'none'}")
    return path
