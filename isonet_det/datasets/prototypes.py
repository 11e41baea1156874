"""A generated image-classification task with no sign symmetry: noisy copies of class prototypes."""
from typing import Tuple

import torch
import torch.nn.functional as F

SPLITS = ('train', 'test')


def class_prototypes(num_classes: int, size: int, seed: int = 0) -> torch.Tensor:
    """``(num_classes, 3, size, size)`` smooth random images (Gaussian noise blurred by a 3x3 box,
    periodic), each standardised to mean 0 and std 1 over its pixels. Deterministic by seed."""
    g = torch.Generator().manual_seed(seed)
    raw = torch.randn(num_classes, 3, size, size, generator=g)
    smooth = F.avg_pool2d(F.pad(raw, (1, 1, 1, 1), mode='circular'), 3, stride=1)
    smooth = smooth - smooth.mean(dim=(1, 2, 3), keepdim=True)
    return smooth / smooth.std(dim=(1, 2, 3), keepdim=True)


def make_prototypes(num: int,
                    size: int = 8,
                    num_classes: int = 10,
                    noise: float = 1.0,
                    seed: int = 0,
                    split: str = 'train') -> Tuple[torch.Tensor, torch.Tensor]:
    """``num`` images ``x = a * p_y + noise * e`` of ``num_classes`` prototypes ``p_c``
    (:func:`class_prototypes`), contrast ``a ~ U(0.5, 1.5)``, ``e ~ N(0, I)``.

    Unlike oriented gratings, the task is not symmetric under ``x -> -x`` (``-p_c`` is no class's
    prototype), so an odd function (a bias-free tanh net) can fit it; and a linear classifier
    can, so every architecture can in principle. ``split`` draws a disjoint sample stream with the
    same prototypes. Returns ``(images (num, 3, size, size) float32, labels (num,) int64)``.
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    protos = class_prototypes(num_classes, size, seed)
    g = torch.Generator().manual_seed(seed * 7919 + 1 + SPLITS.index(split))
    labels = torch.randint(num_classes, (num, ), generator=g)
    contrast = 0.5 + torch.rand(num, 1, 1, 1, generator=g)
    images = contrast * protos[labels] + noise * torch.randn(num, 3, size, size, generator=g)
    return images, labels
