"""Evaluation of a learned policy against CLARA and hand-designed schedules on held-out seeds."""
