"""Where tensors live: the `device` option (`cpu`, `cuda`, `auto`) as a torch.device."""

from __future__ import annotations

import torch


def resolve_device(device: str) -> torch.device:
    """`cpu`, `cuda` or `auto` (cuda when available) as a torch.device; cuda without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA GPU; use device: cpu or auto")
    return torch.device(device)
