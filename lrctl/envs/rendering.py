"""What `LRControlEnv.render()` shows of the episode so far: a line of text (``ansi``) or a picture of the
learning rate and validation loss against the child step (``rgb_array``, drawn with matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RENDER_MODES = ("ansi", "rgb_array")


@dataclass(frozen=True)
class Point:
    """The child's state at one decision."""

    child_step: int
    lr: float
    val_loss: float


def check_render_mode(render_mode: str | None) -> str | None:
    """`render_mode` if this environment can render it (or None), else a ValueError that names it."""
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode {render_mode!r} is not one LRControlEnv renders; choose None, "
                         f"{' or '.join(repr(m) for m in RENDER_MODES)}")
    return render_mode


def render_text(points: Sequence[Point], child_steps: int) -> str:
    """One line: the child step, the LR and the validation loss at the last decision."""
    if not points:
        return "no episode yet: call reset()"
    last = points[-1]
    return f"step {last.child_step}/{child_steps}  lr {last.lr:.3e}  val_loss {last.val_loss:.4f}\n"


def render_rgb(points: Sequence[Point], child_steps: int, size: tuple[int, int] = (480, 320)) -> np.ndarray:
    """An (height, width, 3) uint8 picture: the LR (log scale) and the validation loss against the step."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 80
    fig = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    lr_axes = fig.add_subplot(2, 1, 1)
    loss_axes = fig.add_subplot(2, 1, 2, sharex=lr_axes)
    steps = [p.child_step for p in points]
    lr_axes.plot(steps, [p.lr for p in points], color="tab:blue")
    lr_axes.set_yscale("log")
    lr_axes.set_ylabel("LR")
    loss_axes.plot(steps, [p.val_loss for p in points], color="tab:red")
    loss_axes.set_ylabel("val loss")
    loss_axes.set_xlabel("child step")
    loss_axes.set_xlim(0, child_steps)
    canvas = FigureCanvasAgg(fig)  # no pyplot, no global backend
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
