"""Convert a run folder written by an older lrctl, whose state was pickled, to the current format.

Reading a pickle can run code, so this is the one place lrctl reads one, and only when the user asks
for it (`lrctl upgrade-run RUN_DIR`) about a folder they trust.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

from stable_baselines3 import PPO

from lrctl.agents.checkpoints import LATEST
from lrctl.agents.state import (
    AGENT_FILE,
    FORMAT,
    NORMALIZATION_FILE,
    StateFileError,
    save_agent,
    save_normalization,
)
from lrctl.atomic import write_text_atomic
from lrctl.run_lock import run_folder_lock


def upgrade_run(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the current format's files beside the pickled ones of `run_dir`; returns what was written.

    The final model (``model.zip``, ``vecnormalize.pkl``) becomes ``agent.pt`` and ``vecnormalize.npz``;
    the checkpoint that ``checkpoints/latest.json`` names becomes ``model_N.pt`` and
    ``vecnormalize_N.npz``, and the pointer names them. The old files are left in place.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise StateFileError(f"{str(run_dir)!r} holds no config.yaml; is it a run folder?")
    written: list[Path] = []
    with run_folder_lock(run_dir):
        if (run_dir / "model.zip").is_file() and (run_dir / "vecnormalize.pkl").is_file():
            written += _convert(run_dir / "model.zip", run_dir / "vecnormalize.pkl",
                                run_dir / AGENT_FILE, run_dir / NORMALIZATION_FILE)
        pointer = run_dir / "checkpoints" / LATEST
        if pointer.is_file():
            data = json.loads(pointer.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                folder = pointer.parent
                steps = int(data["timesteps"])
                model, stats = f"model_{steps:09d}.pt", f"vecnormalize_{steps:09d}.npz"
                written += _convert(folder / Path(data["model"]).name, folder / Path(data["vecnormalize"]).name,
                                    folder / model, folder / stats)
                write_text_atomic(pointer, json.dumps({**data, "format": FORMAT, "model": model,
                                                       "vecnormalize": stats}))
                written.append(pointer)
    if not written:
        raise StateFileError(f"{str(run_dir)!r} holds neither model.zip with vecnormalize.pkl nor an older "
                             "checkpoint; nothing to convert")
    return written


def _convert(model_zip: Path, statistics_pickle: Path, agent_out: Path, statistics_out: Path) -> list[Path]:
    try:
        model = PPO.load(str(model_zip), device="cpu")
        with open(statistics_pickle, "rb") as handle:
            venv = pickle.load(handle)  # the user vouched for this folder
    except Exception as err:  # damaged zip or pickle: many types
        raise StateFileError(f"cannot read {model_zip.name} or {statistics_pickle.name} in {model_zip.parent} "
                             f"({type(err).__name__})") from None
    return [save_agent(agent_out, model), save_normalization(statistics_out, venv)]
