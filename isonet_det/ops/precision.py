"""Full float32 matrix products inside a block, whatever TF32 setting the user chose."""
from contextlib import contextmanager

import torch

__all__ = ['full_fp32_matmul']


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
