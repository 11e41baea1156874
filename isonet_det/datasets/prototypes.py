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


def make_prototype_pairs(num: int,
                         size: int = 8,
                         num_prototypes: int = 4,
                         noise: float = 1.0,
                         seed: int = 0,
                         split: str = 'train') -> Tuple[torch.Tensor, torch.Tensor]:
    """A task a linear classifier cannot solve: the label is a sum modulo ``K``.

    The left half of each image shows one of ``K = num_prototypes`` smooth prototypes ``p_i``
    (``3 x size x size/2``), the right half one of ``K`` others ``r_j``, each at its own contrast
    ``U(0.5, 1.5)``, plus ``noise * N(0, I)``; the label is ``(i + j) mod K``. A linear score
    ``f_c(i) + g_c(j)`` cannot rank ``(i + j) mod K`` first for every pair (it already fails on the
    ``K = 2`` XOR inside), so a linear classifier on the pixels stays near chance ``1 / K``
    (measured: 0.26 held out at ``K = 4``), while a one-hidden-layer MLP reaches 1.00: solving it
    needs a nonlinear feature that combines the two halves. No sign symmetry (``-p_i`` is no
    prototype). Returns ``(images (num, 3, size, size) float32, labels (num,) int64)``.
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
    if size % 2 or num_prototypes < 2:
        raise ValueError(f'need an even size and num_prototypes >= 2, got {size}, {num_prototypes}')
    halves = class_prototypes(2 * num_prototypes, size, seed)[..., :size // 2]
    g = torch.Generator().manual_seed(seed * 7919 + 101 + SPLITS.index(split))
    left = torch.randint(num_prototypes, (num, ), generator=g)
    right = torch.randint(num_prototypes, (num, ), generator=g)
    contrast = 0.5 + torch.rand(num, 2, 1, 1, 1, generator=g)
    images = torch.cat(
        [contrast[:, 0] * halves[left], contrast[:, 1] * halves[num_prototypes + right]], dim=-1)
    images = images + noise * torch.randn(num, 3, size, size, generator=g)
    return images, (left + right) % num_prototypes
