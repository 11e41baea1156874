"""Which convs a regulariser acts on, and how their work splits over data-parallel ranks."""
from typing import Dict, List

import torch
import torch.nn as nn

from .isometry import isometry_macs, isometry_penalty_and_grads, orthonormality_penalty

__all__ = ['REGULARIZERS', 'regularized_convs', 'shard_by_cost']


def _orthonormality_and_grads(convs):
    with torch.enable_grad():
        value = orthonormality_penalty(convs)
        grads = torch.autograd.grad(value, [c.weight for c in convs])
    return value.detach(), list(grads)


# name -> f(convs) = (value, [d value / d weight per conv])
REGULARIZERS: Dict[str, callable] = {
    'isometry': isometry_penalty_and_grads,  # Qi et al. 2020, eq. 5/6: all spatial shifts
    'orthonormality': _orthonormality_and_grads,  # Xie et al. 2017: flattened filter banks
}


def regularized_convs(model: nn.Module,
                      module: str = 'backbone',
                      skip_stem: bool = True,
                      image_channels: int = 3) -> List[nn.Conv2d]:
    """The ``Conv2d`` layers of ``model.<module>`` (``''`` or None: the whole model) a regulariser
    acts on, in module order. With ``skip_stem`` (the reference's choice) the convs that read the
    image are left out: those a backbone lists in ``stem_convs()`` and any conv with
    ``image_channels`` input channels.

    Raises:
        AttributeError: ``model`` has no submodule ``module``.
    """
    try:
        scope = model.get_submodule(module) if module else model
    except AttributeError as e:
        raise AttributeError(f'the model has no submodule {module!r} (set module=None for the '
                             'whole model)') from e
    stem = set()
    if skip_stem:
        for m in scope.modules():
            if hasattr(m, 'stem_convs'):
                stem.update(id(c) for c in m.stem_convs())
    return [
        m for m in scope.modules() if isinstance(m, nn.Conv2d) and id(m) not in stem
        and not (skip_stem and m.in_channels == image_channels)
    ]


def shard_by_cost(convs: List[nn.Conv2d], num_shards: int) -> List[List[nn.Conv2d]]:
    """Split ``convs`` into ``num_shards`` lists of about equal regulariser cost
    (:func:`isometry_macs`; longest first, each to the lightest shard, ties to the lowest
    index): deterministic, so every rank computes the same split. Each list keeps module order.
    """
    cost = [isometry_macs(c) for c in convs]
    load = [0] * num_shards
    owner = [0] * len(convs)
    for i in sorted(range(len(convs)), key=lambda i: (-cost[i], i)):
        shard = min(range(num_shards), key=lambda r: (load[r], r))
        owner[i] = shard
        load[shard] += cost[i]
    return [[c for c, o in zip(convs, owner) if o == r] for r in range(num_shards)]
