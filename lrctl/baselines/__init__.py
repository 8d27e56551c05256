"""Baselines the learned controller is judged against: CLARA and hand-designed schedules."""

from lrctl.baselines.clara import ClaraAdam, ClaraSGD, adam_reference

__all__ = ["ClaraAdam", "ClaraSGD", "adam_reference"]
