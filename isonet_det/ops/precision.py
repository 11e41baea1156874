"""The precision of the regulariser's matrix products: full float32 whatever TF32 setting the
user chose, or split TF32 (3xTF32) on tensor cores with float32 accuracy."""
from contextlib import contextmanager
from typing import Optional, Tuple

import torch
from torch import Tensor

__all__ = ['full_fp32_matmul', 'tf32_matmul', 'round_to_tf32', 'Products']


def _matmul_backend(device_type: str):
    if device_type == 'cuda':
        return torch.backends.cuda.matmul
    if device_type == 'cpu':
        return getattr(torch.backends.mkldnn, 'matmul', None)
    return None


def _has_fp32_precision(backend) -> bool:
    """Whether ``backend`` has the ``fp32_precision`` API (torch >= 2.9); older torch raises
    AssertionError, not AttributeError, for an unknown name of ``torch.backends.cuda.matmul``."""
    try:
        getattr(backend, 'fp32_precision')
    except (AttributeError, AssertionError):
        return False
    return True


def _tf32_switch(device_type: str):
    """``(backend, flag, user value, full-precision value)`` when TF32 is on, else ``None``."""
    backend = _matmul_backend(device_type)
    if backend is None:
        return None
    if _has_fp32_precision(backend):
        precision = backend.fp32_precision
        if precision == 'none':
            precision = getattr(torch.backends, 'fp32_precision', 'none')
        if precision in ('ieee', 'none'):
            return None
    elif device_type != 'cuda':
        return None
    if device_type == 'cuda':
        try:
            allowed = backend.allow_tf32
        except RuntimeError:  # the user set the new API: reading the legacy flag is refused
            allowed = None
        if allowed is not None:
            return (backend, 'allow_tf32', True, False) if allowed else None
    return backend, 'fp32_precision', backend.fp32_precision, 'ieee'


@contextmanager
def full_fp32_matmul(device_type: str):
    """Run float32 matmuls on ``device_type`` in full (IEEE) precision, then restore.

    A user who enables TF32 (``torch.backends.cuda.matmul.allow_tf32 = True``, or
    ``...matmul.fp32_precision = 'tf32'``, or ``set_float32_matmul_precision('high')``) gets
    10-bit-mantissa products; the isometry Grams are sums of many products whose target is exactly
    0 or 1, so they need float32. torch refuses reads of one API after the other was used, so
    nothing is touched when TF32 is off (the default), and otherwise the flag is switched through
    the API the user set it with.
    """
    switch = _tf32_switch(device_type)
    if switch is None:
        yield
        return
    backend, name, previous, full = switch
    setattr(backend, name, full)
    try:
        yield
    finally:
        setattr(backend, name, previous)


@contextmanager
def tf32_matmul():
    """Let CUDA float32 matmuls use TF32 tensor cores inside the block, then restore (through
    the legacy flag, or the ``fp32_precision`` API when the user set TF32 with that one)."""
    backend = torch.backends.cuda.matmul
    try:
        name, previous, tf32 = 'allow_tf32', backend.allow_tf32, True
    except RuntimeError:  # the user set the new API: the legacy flag is refused
        name, previous, tf32 = 'fp32_precision', backend.fp32_precision, 'tf32'
    if previous == tf32:
        yield
        return
    setattr(backend, name, tf32)
    try:
        yield
    finally:
        setattr(backend, name, previous)


# sign, exponent and the 10 leading mantissa bits of a float32: the part a TF32 operand keeps
_TF32_MASK = -(1 << 13)


def round_to_tf32(x: Tensor) -> Tensor:
    """``x`` (float32) with the 13 trailing mantissa bits cleared: exactly representable in TF32,
    ``|x - round_to_tf32(x)| < 2**-10 |x|``."""
    return (x.view(torch.int32) & _TF32_MASK).view(torch.float32)


class Products:
    """The batched float32 products of the isometry regulariser, at one precision.

    ``'ieee'``: plain float32 products (no TF32), the default.

    ``'split_tf32'`` (3xTF32, for tensor cores; opt-in): each operand is split as
    ``a = a_hi + a_lo`` with ``a_hi = round_to_tf32(a)`` (exact in TF32) and
    ``a_lo = a - a_hi`` (exact in float32, ``|a_lo| < 2**-10 |a|``), and

        a b ~= a_hi b_hi + a_hi b_lo + a_lo b_hi

    on TF32 tensor cores with float32 accumulation. The dropped ``a_lo b_lo`` and the TF32
    rounding of ``a_lo`` and ``b_lo`` are each below ``2**-20`` of ``|a||b|``, where plain TF32
    (``2**-11``) is 1000x off for Grams whose target is exactly 0 and 1. On a CPU (no TF32) the
    low parts are rounded to TF32 explicitly and the products run in float32: the twin that the
    tests compare with float64 (within 2e-6 on a Gram). Measured on an H200 (cuBLAS TF32), the
    Gram was 7e-6 off and R-ISONet-50's regulariser 1.4e-5 (value) and 1.1e-5 (gradient),
    against 8e-9 and 5e-7 for ``'ieee'``, so the regulariser uses ``'ieee'`` by default
    (docs/benchmarks.md).
    A Gram ``a a^T`` takes two products (the cross term once, plus its transpose).
    """

    MODES = ('ieee', 'split_tf32')

    def __init__(self, mode: str = 'ieee'):
        if mode not in self.MODES:
            raise ValueError(f'precision must be one of {self.MODES}, got {mode!r}')
        self.mode = mode

    def context(self, device_type: str):
        """The matmul flags these products need on ``device_type``."""
        if self.mode == 'split_tf32' and device_type == 'cuda':
            return tf32_matmul()
        return full_fp32_matmul(device_type)

    def _split(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        hi = round_to_tf32(x.contiguous())
        lo = x - hi
        if not lo.is_cuda:  # what a tensor core would read of it
            lo = round_to_tf32(lo)
        return hi, lo

    def matmul(self, a: Tensor, b: Tensor) -> Tensor:
        """``a @ b``: ``(n, k)`` by ``(k, m)``, or batched ``(N, n, k)`` by ``(N, k, m)``."""
        return self.addmatmul(None, a, b)

    def addmatmul(self, c: Optional[Tensor], a: Tensor, b: Tensor, alpha: float = 1.0) -> Tensor:
        """``c + alpha * a @ b`` (``c=None``: ``alpha * a @ b``); may reuse ``c``'s memory."""
        batched = a.dim() == 3
        if self.mode == 'ieee' or a.dtype != torch.float32:
            if c is None:
                product = torch.bmm(a, b) if batched else torch.mm(a, b)
                return product.mul_(alpha) if alpha != 1.0 else product
            return torch.baddbmm(c, a, b, alpha=alpha) if batched else c.addmm_(a, b, alpha=alpha)
        a_hi, a_lo = self._split(a)
        b_hi, b_lo = self._split(b)
        for x, y in ((a_lo, b_hi), (a_hi, b_lo), (a_hi, b_hi)):  # small terms first
            if c is None:
                c = torch.bmm(x, y) if batched else torch.mm(x, y)
                if alpha != 1.0:
                    c.mul_(alpha)
            elif batched:
                c.baddbmm_(x, y, alpha=alpha)
            else:
                c.addmm_(x, y, alpha=alpha)
        return c

    def gram(self, a: Tensor) -> Tensor:
        """``a @ a^T`` for ``(N, n, k)``; symmetric by construction in the split form."""
        if self.mode == 'ieee' or a.dtype != torch.float32:
            return torch.bmm(a, a.transpose(1, 2))
        hi, lo = self._split(a)
        cross = torch.bmm(lo, hi.transpose(1, 2))
        out = cross + cross.transpose(1, 2)
        return out.baddbmm_(hi, hi.transpose(1, 2))
