"""Test data: the orientation of a noisy sinusoidal grating (a task a bias-free tanh net cannot
fit, since x and -x share a label; the experiments use isonet_det.datasets.make_prototypes)."""
import math
from typing import Tuple

import torch


def make_gratings(num: int,
                  size: int = 8,
                  num_classes: int = 4,
                  noise: float = 0.5,
                  seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """``num`` images ``(3, size, size)`` of gratings at ``num_classes`` orientations in
    ``[0, pi)``, random frequency, phase and per-channel amplitude, plus Gaussian noise.

    Returns ``(images (num, 3, size, size) float32, labels (num,) int64)``; deterministic by seed.
    """
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(num_classes, (num, ), generator=g)
    theta = labels.float() * math.pi / num_classes
    freq = 0.6 + 0.8 * torch.rand(num, generator=g)  # radians per pixel
    phase = 2 * math.pi * torch.rand(num, generator=g)
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing='ij')
    proj = (xx[None] * torch.cos(theta)[:, None, None] + yy[None] * torch.sin(theta)[:, None, None])
    wave = torch.sin(freq[:, None, None] * proj + phase[:, None, None])  # (num, size, size)
    amplitude = 0.5 + torch.rand(num, 3, 1, 1, generator=g)
    images = amplitude * wave[:, None] + noise * torch.randn(num, 3, size, size, generator=g)
    return images, labels
