"""Resumable checkpoints of a PPO run: agent state, VecNormalize statistics and the timestep count.

Every file is in a format that cannot run code when read (see `lrctl.agents.state`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from lrctl.agents.state import FORMAT, pickled_run, save_agent, save_normalization
from lrctl.atomic import write_text_atomic
from lrctl.errors import CheckpointError
from lrctl.strict_yaml import excerpt

LATEST = "latest.json"
_KEEP = 3  # checkpoints kept on disk; older ones are removed


@dataclass(frozen=True)
class Checkpoint:
    """Paths and timestep count of one saved checkpoint, and the run's counters at that point."""

    timesteps: int
    model: Path
    vecnormalize: Path
    counters: dict[str, float] = field(default_factory=dict)


def save_checkpoint(folder: Path, model: PPO, venv: VecNormalize,
                    counters: dict[str, float] | None = None) -> Checkpoint:
    """Save model and statistics atomically, then point `latest.json` at them (written last).

    `counters` (episodes, diverged, wall time so far) are kept so a resumed run reports whole totals.
    """
    folder.mkdir(parents=True, exist_ok=True)
    steps = int(model.num_timesteps)
    ckpt = Checkpoint(steps, folder / f"model_{steps:09d}.pt", folder / f"vecnormalize_{steps:09d}.npz",
                      dict(counters or {}))
    save_agent(ckpt.model, model)
    save_normalization(ckpt.vecnormalize, venv)
    write_text_atomic(folder / LATEST, json.dumps(
        {"format": FORMAT, "timesteps": steps, "model": ckpt.model.name, "vecnormalize": ckpt.vecnormalize.name,
         "counters": ckpt.counters}
    ))
    _prune(folder, keep={ckpt.model.name, ckpt.vecnormalize.name})
    return ckpt


def _prune(folder: Path, keep: set[str]) -> None:
    models = sorted(folder.glob("model_*.pt"))
    for old in models[:-_KEEP]:
        if old.name not in keep:
            old.unlink(missing_ok=True)
            (folder / old.name.replace("model_", "vecnormalize_").replace(".pt", ".npz")).unlink(missing_ok=True)


def latest_checkpoint(folder: Path) -> Checkpoint | None:
    """The checkpoint `latest.json` names, None when there is none; a broken one is a CheckpointError."""
    pointer = folder / LATEST
    if not pointer.exists():
        return None
    try:
        data = json.loads(pointer.read_text(encoding="utf-8"))
        ckpt = Checkpoint(int(data["timesteps"]), folder / data["model"], folder / data["vecnormalize"],
                          {str(k): float(v) for k, v in dict(data.get("counters", {})).items()})
    except (ValueError, KeyError, TypeError, OSError) as err:
        raise CheckpointError(f"{pointer} is not a valid lrctl checkpoint pointer ({err}); delete it to start over") from None
    if data.get("format") != FORMAT:
        raise CheckpointError(f"{pointer}: {pickled_run(folder.parent)}")
    for name in (data["model"], data["vecnormalize"]):
        if not isinstance(name, str) or Path(name).name != name or name in (".", ".."):
            raise CheckpointError(f"{pointer} names {excerpt(name)}, not a file in {folder}; delete it to start over")
    for path in (ckpt.model, ckpt.vecnormalize):
        if not path.is_file() or path.stat().st_size == 0:
            raise CheckpointError(f"checkpoint file {path} is missing or empty; delete {pointer} to start over")
    return ckpt
