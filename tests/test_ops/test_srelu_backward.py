"""SReLU's backward: the torch-ops reference, the Triton kernels (run by Triton's interpreter on
the CPU) against it, and the bytes each form moves."""
import os
import subprocess
import sys

import pytest
import torch

from isonet_det.analysis.memory_traffic import TensorTraffic
from isonet_det.ops.srelu_backward import _takes_kernel, srelu_backward_reference


def by_mask(grad, y, b):
    """The same gradients from a bool mask and ``where`` (moves fewer bytes, runs slower)."""
    grad_x = torch.where(y > b, grad, 0.0)
    return grad_x, grad.sum_to_size(b.shape) - grad_x.sum_to_size(b.shape)


def inputs(shape=(2, 8, 6, 5), dtype=torch.float32, shared=False):
    g = torch.Generator().manual_seed(0)
    C = 1 if shared else shape[1]
    b = (0.5 * torch.randn(C, generator=g)).to(dtype)
    b = b if shared else b.view(1, -1, *[1] * (len(shape) - 2))
    x = torch.randn(shape, generator=g).to(dtype)
    x.view(-1)[::7] = b.reshape(-1)[0]  # ties go to b
    return torch.randn(shape, generator=g).to(dtype), torch.maximum(x, b), b


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize('shared', [False, True])
def test_reference_mask_from_y_minus_b_is_exact(dtype, shared):
    """``y - b > 0`` iff ``y > b`` (the rounded difference keeps the sign), ties included."""
    grad, y, b = inputs(dtype=dtype, shared=shared)
    gx, gb = srelu_backward_reference(grad, y, b)
    ex, eb = by_mask(grad, y, b)
    assert torch.equal(gx, ex) and torch.equal(gb, eb) and gb.shape == b.shape
    assert (gx == 0).sum() > 0 and (gx != 0).sum() > 0  # both sides of the threshold seen
    assert srelu_backward_reference(grad, y, b, needs_grad_b=False)[1] is None


def test_cpu_tensors_never_take_the_kernel():
    grad, y, b = inputs()
    assert not _takes_kernel(grad, y, b)


def test_bytes_moved_by_each_form():
    """Counted at the dispatcher on a float32 activation: ``y - b``, threshold_backward and two
    sums move 7 activations' worth; a bool mask and ``where`` 5.5 (slower all the same:
    docs/benchmarks.md); the GPU kernel reads g and y and writes dL/dx once, 3."""
    grad, y, b = inputs((2, 64, 32, 48))
    act = y.numel() * y.element_size()
    with TensorTraffic() as reference:
        srelu_backward_reference(grad, y, b)
    with TensorTraffic() as mask:
        by_mask(grad, y, b)
    assert abs(reference.total / act - 7) < 0.01, reference.ops
    assert abs(mask.total / act - 5.5) < 0.01, mask.ops


def test_traffic_counts_reads_and_writes():
    a, b = torch.ones(100), torch.ones(100)
    with TensorTraffic() as t:
        c = a + b
        c.view(10, 10)
        c.add_(1)
    assert t.by_op() == {'add': 2 * 400 + 400, 'add_': 400 + 400}  # the view moves nothing


KERNEL_CHECK = r'''
import torch
from isonet_det.ops.srelu_backward import srelu_backward_reference, srelu_backward_triton
torch.manual_seed(0)
cases = [((2, 8, 5, 7), 'cf', torch.float32), ((2, 8, 5, 7), 'cl', torch.float32),
         ((2, 6, 33, 40), 'cf', torch.bfloat16), ((1, 150, 3, 3), 'cl', torch.bfloat16),
         ((2, 4, 9), 'shared', torch.float32), ((1, 3, 2100), 'cf', torch.float16)]
for shape, kind, dtype in cases:
    C = 1 if kind == 'shared' else shape[1]
    b = (0.5 * torch.randn(C)).to(dtype)
    b = b if kind == 'shared' else b.view(1, -1, *[1] * (len(shape) - 2))
    y = torch.maximum(torch.randn(shape).to(dtype), b)
    g = torch.randn(shape).to(dtype)
    if kind == 'cl':
        y, g = (t.contiguous(memory_format=torch.channels_last) for t in (y, g))
    gx, gb = srelu_backward_triton(g, y, b)
    rx, rb = srelu_backward_reference(g.float(), y.float(), b.float())
    assert torch.equal(gx.float(), rx) and gx.stride() == y.stride(), (shape, kind)
    assert (rx != 0).any() and (rx == 0).any()
    tol = 1e-5 if dtype == torch.float32 else 1e-2
    err = float((gb.float() - rb).abs().max() / rb.abs().max())
    assert gb.shape == b.shape and gb.dtype == dtype and err < tol, (shape, kind, err)
print('kernels ok', len(cases))
'''


@pytest.mark.slow
def test_triton_kernels_equal_the_reference_in_the_interpreter():
    """The GPU kernels' arithmetic, run on the CPU by ``TRITON_INTERPRET=1``: dL/dx bit for bit,
    dL/db to summation order (float32) or one rounding (bf16 / fp16)."""
    pytest.importorskip('triton')
    env = dict(os.environ, TRITON_INTERPRET='1')
    proc = subprocess.run([sys.executable, '-c', KERNEL_CHECK],
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0 and 'kernels ok 6' in proc.stdout, proc.stderr[-3000:]
