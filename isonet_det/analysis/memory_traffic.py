"""Bytes that eager torch ops read and write, counted at the dispatcher (a proxy for the memory
traffic of bandwidth-bound code, such as an activation's backward)."""
from typing import Dict, List, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ['TensorTraffic']


def _tensors(tree) -> List[torch.Tensor]:
    return [t for t in tree_flatten(tree)[0] if isinstance(t, torch.Tensor)]


class TensorTraffic(TorchDispatchMode):
    """Inside ``with TensorTraffic() as traffic:``, every aten op's tensor arguments are counted
    as read and its tensor results as written, at their full size (``numel * element_size``;
    a broadcast operand counts its own elements). ``traffic.ops`` lists ``(op, read, written)``.

    What it counts is what an eager op must at least move through memory; a fused kernel (a
    Triton kernel, say) is seen only as the torch ops around it, so count such a path by the
    tensors it reads and writes instead. Views and metadata ops (``view``, ``expand``,
    ``detach``, ...) move nothing and are not counted, nor is the tensor a ``new_zeros``-like
    factory takes for its dtype and device.
    """

    _FREE = {
        'view', 'expand', 'detach', '_unsafe_view', 'as_strided', 'alias', 't', 'transpose',
        'permute', 'unsqueeze', 'squeeze', 'reshape', 'lift_fresh'
    }
    # factories that take a tensor for its dtype and device only
    _READ_NOTHING = {'new_zeros', 'new_empty', 'new_ones', 'new_full', 'empty_like'}

    def __init__(self):
        super().__init__()
        self.ops: List[Tuple[str, int, int]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = func.overloadpacket.__name__
        if name not in self._FREE:
            read = 0 if name in self._READ_NOTHING else sum(t.numel() * t.element_size()
                                                            for t in _tensors((args, kwargs)))
            written = sum(t.numel() * t.element_size() for t in _tensors(out))
            self.ops.append((name, read, written))
        return out

    @property
    def total(self) -> int:
        """Bytes read plus bytes written."""
        return sum(r + w for _, r, w in self.ops)

    def by_op(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for name, read, written in self.ops:
            counts[name] = counts.get(name, 0) + read + written
        return counts
