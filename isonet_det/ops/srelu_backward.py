"""The backward of SReLU ``y = max(x, b)`` (Qi et al. 2020, eq. 7); one pass on GPUs (opt-in).

With ``b`` broadcast along dim 1 of ``y`` ``(N, C, *)`` (or one shared threshold):

    dL/dx = g [y > b],     dL/db_c = sum over n, * of  g [y <= b]

(at a tie ``x == b`` the gradient goes to ``b``; ``y > b`` iff ``x > b`` since ``y = max(x, b)``).

- :func:`srelu_backward_reference`: torch ops, every device (the default); the oracle of the
  GPU kernels. The mask comes from ``y - b > 0`` (exact: the rounded difference of two floats
  has the sign of the difference), then ``threshold_backward`` and two per-channel sums: 7
  activations of traffic. A bool mask with ``where`` moves 5.5 (float32) but measured slower,
  1.5x on a CPU and 10% of R-ISONet-50's eager AMP step on an H200 (docs/benchmarks.md).
- Triton kernels (CUDA; opt-in, ``ISONET_SRELU_KERNEL=1`` or :func:`srelu_kernel`): one read
  of ``g`` and ``y`` and one write of ``dL/dx`` (3 activations), with the per-channel sums of
  ``g [y <= b]`` accumulated in float32 in the same pass, as partial sums per block that a
  small deterministic ``sum`` adds up (no atomics). One kernel for
  ``(N, C, *)``-contiguous tensors (a row per ``(n, c)``), one for channels-last (a column per
  channel). Any other layout, a CPU tensor, or tracing by ``torch.compile`` (whose inductor
  fuses the reference ops itself) takes the reference path.
"""
import os
from contextlib import contextmanager
from functools import lru_cache
from typing import Optional, Tuple

import torch
from torch import Tensor

__all__ = ['srelu_backward', 'srelu_backward_reference', 'srelu_backward_triton', 'srelu_kernel']


@lru_cache(maxsize=None)
def _triton_kernels():
    """The kernel module, imported on first use (``None`` without Triton)."""
    try:
        from . import srelu_triton
    except ImportError:  # CPU-only installs: the reference path needs no Triton
        return None
    return srelu_triton


def srelu_backward_reference(grad: Tensor,
                             y: Tensor,
                             b: Tensor,
                             needs_grad_b: bool = True) -> Tuple[Tensor, Optional[Tensor]]:
    """``(dL/dx, dL/db)`` by torch ops. ``b`` broadcasts against ``y``; ``dL/db`` has ``b``'s
    shape (``None`` unless ``needs_grad_b``)."""
    grad_x = torch.ops.aten.threshold_backward(grad, y - b, 0)
    if not needs_grad_b:
        return grad_x, None
    return grad_x, grad.sum_to_size(b.shape) - grad_x.sum_to_size(b.shape)


def _layout(y: Tensor, grad: Tensor, b: Tensor) -> Optional[str]:
    """``'rows'``, ``'columns'`` or ``None`` (the kernels do not take these tensors)."""
    if y.dim() < 3 or y.numel() == 0 or y.stride() != grad.stride() or y.dtype != grad.dtype \
            or b.numel() not in (1, y.shape[1]):
        return None
    if y.is_contiguous():
        return 'rows'
    if y.dim() == 4 and y.is_contiguous(memory_format=torch.channels_last):
        return 'columns'
    return None


def srelu_backward_triton(grad: Tensor,
                          y: Tensor,
                          b: Tensor,
                          needs_grad_b: bool = True) -> Tuple[Tensor, Optional[Tensor]]:
    """The one-pass kernels; ``y`` and ``grad`` alike in layout (see :func:`_layout`).
    Also runs on CPU tensors under ``TRITON_INTERPRET=1`` (how the tests check it)."""
    layout = _layout(y, grad, b)
    kernels = _triton_kernels()
    if kernels is None or layout is None:
        raise ValueError('srelu_backward_triton takes (N, C, *) tensors of one dtype and layout,'
                         ' contiguous or channels-last, with Triton installed')
    N, C = y.shape[:2]
    channels = b.numel()
    grad_x = torch.empty_like(y)
    bv = b.reshape(-1).to(y.dtype).float().expand(C).contiguous()
    if layout == 'rows':
        rows, inner = N * C, y[0, 0].numel()
        BLOCK = 1024 if inner >= 1024 else max(16, _next_power_of_2(inner))
        chunk = BLOCK * max(1, min(16, _cdiv(inner, BLOCK * 4)))
        splits = _cdiv(inner, chunk)
        part = torch.empty(splits, N, C, device=y.device, dtype=torch.float32)
        kernels.rows_kernel[(rows, splits)](
            grad, y, bv, grad_x, part, rows, C, inner, CHUNK=chunk, BLOCK=BLOCK, num_warps=4)
    else:
        P = y.numel() // C
        BLOCK_C = min(128, max(16, _next_power_of_2(C)))
        BLOCK_P = max(1, 4096 // BLOCK_C)
        rows_per = BLOCK_P * 8
        blocks = _cdiv(P, rows_per)
        part = torch.empty(blocks, 1, C, device=y.device, dtype=torch.float32)
        kernels.columns_kernel[(blocks, _cdiv(C, BLOCK_C))](
            grad,
            y,
            bv,
            grad_x,
            part,
            P,
            C,
            ROWS=rows_per,
            BLOCK_P=BLOCK_P,
            BLOCK_C=BLOCK_C,
            num_warps=4)
    if not needs_grad_b:
        return grad_x, None
    grad_b = part.sum(dim=(0, 1))
    if channels == 1:
        grad_b = grad_b.sum()
    return grad_x, grad_b.to(b.dtype).reshape(b.shape)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _next_power_of_2(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


# Off by default: measured on an H200 (docs/benchmarks.md), the kernel runs at memory bandwidth
# but its launch costs more host time than the torch ops (~0.3 ms a call), and R-ISONet-50's
# eager AMP step at batch 2 is host-bound; ISONET_SRELU_KERNEL=1 turns it on.
_KERNEL = {'enabled': os.environ.get('ISONET_SRELU_KERNEL', '0') == '1'}


@contextmanager
def srelu_kernel(enabled: bool):
    """Inside the block, CUDA tensors take the Triton kernels (``True``) or the torch-ops
    reference (``False``): for benchmarks and checks that compare the two."""
    previous, _KERNEL['enabled'] = _KERNEL['enabled'], enabled
    try:
        yield
    finally:
        _KERNEL['enabled'] = previous


def _takes_kernel(grad: Tensor, y: Tensor, b: Tensor) -> bool:
    if not _KERNEL['enabled'] or not grad.is_cuda or type(grad) is not torch.Tensor:
        return False  # CPU, or a fake / functional tensor of a tracer
    compiling = getattr(getattr(torch, 'compiler', None), 'is_compiling', None)
    if compiling is not None and compiling():
        return False
    return _layout(y, grad, b) is not None and _triton_kernels() is not None


def srelu_backward(grad: Tensor,
                   y: Tensor,
                   b: Tensor,
                   needs_grad_b: bool = True) -> Tuple[Tensor, Optional[Tensor]]:
    """``(dL/dx, dL/db)`` of ``y = max(x, b)``: the Triton kernels where they apply (CUDA),
    :func:`srelu_backward_reference` elsewhere."""
    if _takes_kernel(grad, y, b):
        return srelu_backward_triton(grad, y, b, needs_grad_b)
    return srelu_backward_reference(grad, y, b, needs_grad_b)
