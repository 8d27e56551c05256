"""Layering: deploying a policy loads neither stable-baselines3 nor the environments."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"import sys\n{code}\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_policy_scheduler_loads_no_sb3_and_no_environment():
    loaded = _modules_after("import lrctl\nlrctl.PolicyScheduler\nlrctl.load_policy")
    assert "lrctl.deploy.scheduler" in loaded
    assert not {m for m in loaded if m.startswith("stable_baselines3")}
    assert not {m for m in loaded if m.startswith(("lrctl.envs.lr_control", "lrctl.envs.core", "lrctl.envs.batched_episodes", "lrctl.children"))}


def test_import_lrctl_registers_the_environment_without_loading_it():
    loaded = _modules_after("import lrctl, gymnasium\nassert 'lrctl/LRControl-v0' in gymnasium.registry")
    assert "lrctl.envs.lr_control" not in loaded and "torch" not in loaded


def test_data_does_not_import_the_environments():
    loaded = _modules_after("import lrctl.data\nfrom lrctl.config import EnvConfig\nlrctl.data.ensure_data(EnvConfig())")
    # the reward names live with their meaning, in a numpy-only module the config checks against
    assert not {m for m in loaded if m.startswith("lrctl.envs")} - {"lrctl.envs", "lrctl.envs.registration",
                                                                     "lrctl.envs.rewards"}


def test_the_core_package_imports_no_trainer_integration():
    loaded = _modules_after("import lrctl, lrctl.cli, lrctl.agents.trainer, lrctl.envs.lr_control, lrctl.envs.vector, "
                            "lrctl.evaluation.protocol\nlrctl.PolicyScheduler\nlrctl.define_setting")
    assert not {m for m in loaded if m.split(".")[0] in ("lightning", "pytorch_lightning", "transformers", "ray")}



PACKAGE = Path(__file__).resolve().parents[1] / "lrctl"


def _imports(path: Path) -> set[str]:
    """Every module `path` imports when it runs, at module level or inside a function (not the imports
    under `if TYPE_CHECKING:`, which are for type checkers only)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and getattr(block.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(block)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("layer,forbidden", [("children", ("gymnasium", "stable_baselines3")),
                                             ("envs", ("stable_baselines3",))])
def test_a_layer_imports_nothing_of_the_layers_above_it(layer, forbidden):
    for path in (PACKAGE / layer).glob("*.py"):
        bad = {m for m in _imports(path) if m.split(".")[0] in forbidden}
        assert not bad, (path.name, bad)


def test_no_import_circle_not_even_through_imports_inside_functions():
    graph = {_module_name(p): {m for m in _imports(p) if m.startswith("lrctl")} for p in PACKAGE.rglob("*.py")}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for dep in graph.get(module, ()):
            if dep not in graph or dep == "lrctl":
                continue
            assert state.get(dep) != "open", " -> ".join(path + [dep])
            if dep not in state:
                visit(dep, path + [dep])
        state[module] = "done"

    for module in graph:
        if module not in state:
            visit(module, [module])


def test_the_config_schema_loads_no_torch_and_no_task_model_or_ray_registry():
    loaded = _modules_after("import lrctl.config")
    assert "torch" not in loaded
    assert not loaded & {"lrctl.tasks", "lrctl.models", "lrctl.ray_cluster", "lrctl.data"}


def test_each_registry_checks_its_own_names():
    from lrctl.config import ConfigError, env_config
    from lrctl.tasks import check_task_names

    with pytest.raises(ConfigError, match=r"tasks\.activations\[0\]: unknown value 'swish'"):
        env_config(tasks={"datasets": ["digits"], "activations": ["swish"]})
    cfg = env_config(tasks={"datasets": ["digits"]})
    cfg.tasks.architectures = ("transformer",)
    with pytest.raises(ConfigError, match=r"x\.architectures\[0\]: unknown value 'transformer'"):
        check_task_names(cfg.tasks, "x.")
