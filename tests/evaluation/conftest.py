"""Fixtures shared by the evaluation tests: a small evaluation environment and a saved policy."""

import pytest

from lrctl.deploy.policy import save_policy
from tests.policy_helpers import make_policy

EVAL_ENV = dict(child_steps=20, steps_per_action=5, batch_size=16, val_subset_size=32)
"""Four decisions per run on batches of 16: a whole evaluation grid runs in seconds."""


@pytest.fixture(scope="module")
def policy_path(tmp_path_factory) -> str:
    """A discrete-action policy saved as a policy file."""
    path = tmp_path_factory.mktemp("policy") / "policy.pt"
    save_policy(make_policy("discrete"), path)
    return str(path)
