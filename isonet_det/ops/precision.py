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
    backend = _matmul_backend(device_type)
    new_api = backend is not None and hasattr(backend, 'fp32_precision')
    precision = backend.fp32_precision if new_api else None
    if new_api and precision == 'none':
        precision = getattr(torch.backends, 'fp32_precision', 'none')
    if new_api and precision in ('ieee', 'none'):
        yield
        return
    if device_type != 'cuda' and not new_api:
        yield
        return
    legacy = device_type == 'cuda'
    if legacy:
        try:
            legacy_value = backend.allow_tf32
        except RuntimeError:  # the user set the new API: reading the legacy flag is refused
            legacy = False
    if legacy:
        if not legacy_value:
            yield
            return
        backend.allow_tf32 = False
        try:
            yield
        finally:
            backend.allow_tf32 = legacy_value
        return
    previous = backend.fp32_precision
    backend.fp32_precision = 'ieee'
    try:
        yield
    finally:
        backend.fp32_precision = previous
