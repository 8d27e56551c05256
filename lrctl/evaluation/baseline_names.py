"""The names of the baselines an evaluation can run (torch-free, for the command line)."""

BASELINES = ("constant", "best-constant", "step-decay", "cosine", "linear", "onecycle", "plateau", "clara",
             "schedule-free", "prodigy", "d-adaptation", "oracle")
"""The baselines `evaluate.py --baselines` can name (CLARA and schedule-free in the child optimizer's variant)."""

PEER_PACKAGES = {"schedule-free": "schedulefree", "prodigy": "prodigyopt", "d-adaptation": "dadaptation"}
"""The baselines that need an optional package (`pip install "lrctl[peers]"`), and that package."""
