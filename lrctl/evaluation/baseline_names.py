"""The names of the baselines an evaluation can run (torch-free, for the command line)."""

BASELINES = ("constant", "best-constant", "step-decay", "cosine", "linear", "onecycle", "plateau", "clara",
             "schedule-free", "prodigy", "capped", "onecycle-lr-only")
"""The baselines `evaluate.py --baselines` can name (CLARA and schedule-free in the child optimizer's variant)."""

OPT_IN_BASELINES = ("capped", "onecycle-lr-only")
"""Baselines that run only when `--baselines` names them: cosine and linear with each decision's change
capped as the policy's is, the best schedules the policy's action space can express; and OneCycle's LR
with the optimizer's betas or momentum left alone (torch's `OneCycleLR` also cycles them), the LR shape a
policy over the OneCycle base plays when it keeps every decision."""

PEER_PACKAGES = {"schedule-free": "schedulefree", "prodigy": "prodigyopt"}
"""The baselines that need an optional package (`pip install "lrctl[peers]"`), and that package."""
