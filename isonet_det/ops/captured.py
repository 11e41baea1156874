"""A regulariser's value and gradients replayed from a CUDA graph."""
import warnings
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

__all__ = ['CapturedPenalty']


class CapturedPenalty:
    """``penalty(convs) -> (value, grads)`` captured once in a CUDA graph, then replayed.

    The regulariser of a backbone is a few hundred small kernels (R-ISONet-50: 52 convs in ~20
    shapes); launched one by one from Python they leave a GPU idle most of the time, while a
    graph replays them in one launch. The graph reads the weights in place, so it stays valid as
    long as every weight keeps its storage, shape, dtype and ``requires_grad`` (an optimizer
    step updates weights in place); when any of these changes, or another list of convs comes,
    it is captured again. Off CUDA, or with ``enabled=False``, ``penalty`` simply runs; if a
    capture fails, a warning says why and it runs without a graph from then on.

    The returned ``grads`` are the graph's own output buffers, overwritten by the next call:
    read them (or copy them) before calling again, and never hand them out as a parameter's
    ``.grad``. ``value`` is a fresh tensor each call. The graph keeps its workspace (at most
    :func:`~isonet_det.ops.isometry_workspace_bytes` plus the gradients) allocated.

    Args:
        penalty: a function of a list of convs returning ``(0-dim value, [grad per conv])``
            without host synchronisation (:func:`~isonet_det.ops.isometry_penalty_and_grads`).
        enabled: capture on CUDA (default True).
    """

    def __init__(self, penalty: Callable, enabled: bool = True):
        self.penalty = penalty
        self.enabled = enabled
        self.captures = 0  # how often a graph was (re)captured
        self._key: Optional[tuple] = None
        self._graph = None
        self._value: Optional[Tensor] = None
        self._grads: List[Tensor] = []

    @staticmethod
    def _key_of(convs: Sequence[nn.Conv2d]) -> tuple:
        return tuple((c.weight.data_ptr(), tuple(c.weight.shape), c.weight.dtype,
                      c.weight.requires_grad, c.stride, c.dilation, c.groups) for c in convs)

    def __call__(self, convs: Sequence[nn.Conv2d]) -> Tuple[Tensor, List[Tensor]]:
        convs = list(convs)
        if not (self.enabled and convs and convs[0].weight.is_cuda):
            return self.penalty(convs)
        key = self._key_of(convs)
        if key != self._key:
            try:
                self._capture(convs)
            except RuntimeError as e:  # a torch or driver that cannot capture: run eagerly
                warnings.warn(f'CapturedPenalty: capturing the regulariser in a CUDA graph '
                              f'failed ({e}); it runs without a graph from now on')
                self.enabled, self._graph = False, None
                return self.penalty(convs)
            self._key = key
        self._graph.replay()
        return self._value.clone(), self._grads

    def _capture(self, convs: List[nn.Conv2d]) -> None:
        self._graph = self._value = None
        self._grads = []
        device = convs[0].weight.device
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):  # warm-up: builds the cached index and DFT tables
            self.penalty(convs)
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, capture_error_mode='thread_local'):
            value, grads = self.penalty(convs)
        self._graph, self._value, self._grads = graph, value, list(grads)
        self.captures += 1
