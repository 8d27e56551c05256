"""The record of experiments stays compact (docs/results/README.md): a model card and an ablation page,
folders that hold only what a reviewer needs and that the pages cite, and under 3 MB in all."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
PAGES = ("README.md", "general-policy.md", "ablation.md")
FOLDER_FILES = {"config.yaml", "results.csv", "summary.md"}


def _tracked() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in out.decode().split("\0") if name]


def _pages() -> str:
    return "".join((RESULTS / page).read_text() for page in PAGES)


def test_the_repository_stays_under_three_megabytes():
    assert sum(path.stat().st_size for path in _tracked() if path.is_file()) <= 3_000_000


def test_no_figures_and_no_policy_file_but_the_shipped_ones():
    for path in _tracked():
        assert path.suffix != ".png", path
        if path.suffix == ".pt":
            assert path.parent == ROOT / "lrctl" / "policies", path


def test_result_folders_hold_only_config_results_and_summary_and_are_cited():
    pages = _pages()
    for folder in (p for p in RESULTS.iterdir() if p.is_dir()):
        assert f"{folder.name}/" in pages or f"`{folder.name}" in pages or f"/{folder.name}" in pages, folder.name
        for path in folder.rglob("*"):
            if path.is_file():
                assert path.name in FOLDER_FILES or path.suffix == ".py", path  # a measurement script may stay


def test_every_experiment_config_is_cited():
    pages = _pages()
    for config in (ROOT / "configs" / "experiments").glob("*.yaml"):
        assert config.stem in pages, config.name
