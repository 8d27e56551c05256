"""evaluate.py --ray: every run a Ray task, with results.csv byte-identical to the local run's."""

import pytest

from lrctl.cli import main

pytestmark = [pytest.mark.usefixtures("local_ray"), pytest.mark.slow]  # `-m "not slow"` leaves Ray out
SMALL = ["--seeds", "200000", "200001", "--initial-lrs", "0.001", "--set", "env.child_steps=30",
         "--set", "env.val_subset_size=64", "--no-peers"]


@pytest.mark.parametrize("batched", [False, True])
def test_results_on_ray_are_identical_to_the_local_run(tmp_path, batched):
    extra = ["--batched"] if batched else []
    assert main(["evaluate", *SMALL, *extra, "--workers", "2", "--out", str(tmp_path / "local")]) == 0
    assert main(["evaluate", *SMALL, *extra, "--ray", "--out", str(tmp_path / "ray")]) == 0
    for name in ("results.csv", "curves.csv"):
        local = (tmp_path / "local" / name).read_bytes()
        assert local.count(b"\n") > 10 and (tmp_path / "ray" / name).read_bytes() == local
