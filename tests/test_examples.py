"""The README shows what CI runs: its Ray recipe is the script `.ci/run` executes."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(markdown: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", markdown, flags=re.S)


def test_the_readmes_ray_recipe_is_the_script_ci_runs():
    script = (ROOT / "examples" / "ray_cluster_on_one_machine.sh").read_text()
    assert script.split("\n", 1)[1] in _bash_blocks((ROOT / "README.md").read_text())
    assert "bash examples/ray_cluster_on_one_machine.sh" in (ROOT / ".ci" / "run").read_text()
