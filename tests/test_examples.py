"""The examples run as written: the README's Ray recipe is the script `.ci/run` executes, and the
CleanRL-style PPO trains."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(markdown: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", markdown, flags=re.S)


def test_the_readmes_ray_recipe_is_the_script_ci_runs():
    script = (ROOT / "examples" / "ray_cluster_on_one_machine.sh").read_text()
    assert script.split("\n", 1)[1] in _bash_blocks((ROOT / "README.md").read_text())
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
