"""The examples run as written: the docs' Ray recipe is the script `.ci/run` executes, the CleanRL-style
PPO trains, and every shell block of README and docs is run in CI or says why not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(markdown: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", markdown, flags=re.S)


def test_the_docs_ray_recipe_is_the_script_ci_runs():
    script = (ROOT / "examples" / "ray_cluster_on_one_machine.sh").read_text()
    assert script.split("\n", 1)[1] in _bash_blocks((ROOT / "docs" / "ray.md").read_text())
    assert "bash examples/ray_cluster_on_one_machine.sh" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_the_cleanrl_style_ppo_example_trains_a_few_hundred_decisions():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "examples" / "cleanrl_style_ppo.py"), "--total-timesteps",
                           "512", "--num-envs", "4", "--num-steps", "64", "--child-steps", "100"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("iteration 2/2: 512 decisions") and " 0 episodes" not in last


def _fenced_blocks_with_the_line_before(markdown: str) -> list[tuple[str, str, str]]:
    """(info string, the line before the fence, code) of every fenced block."""
    lines, blocks, i = markdown.split("\n"), [], 0
    while i < len(lines):
        if lines[i].startswith("```") and len(lines[i]) > 3:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            blocks.append((lines[i][3:].strip(), lines[i - 1] if i else "", "\n".join(lines[i + 1:end])))
            i = end
        i += 1
    return blocks


DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs" / "results").glob("*.md"))]


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shell_and_python_block_runs_in_ci_or_says_why_not(page):
    for info, before, code in _fenced_blocks_with_the_line_before(page.read_text()):
        if info.startswith("bash"):
            assert before.startswith(("<!-- setup-commands", "<!-- ci:", "<!-- not run: ")), (page.name, code[:80])
        elif info.startswith("python") and "notest" in info:  # pytest-markdown-docs runs every other one
            assert before.startswith("<!-- not run: "), (page.name, code[:80])
