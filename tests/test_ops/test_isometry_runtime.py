"""The regulariser as a GPU training step needs it: analytic gradients, determinism, no host
reads, full float32 products, bounded memory. A CPU cannot show syncs or TF32 directly, so the
tests observe the dispatched ops and the precision flags."""
import subprocess
import sys
from contextlib import contextmanager

import pytest
import torch
import torch.nn as nn
from reference_math import assert_close_to_scale, direct_penalty
from torch.utils._python_dispatch import TorchDispatchMode

from isonet_det.models import RISONet
from isonet_det.ops import isometry_penalty, isometry_penalty_and_grads, isometry_workspace_bytes
from isonet_det.ops import precision as precision_module

SHAPES = [(64, 256, 1, 1), (256, 64, 1, 1), (256, 512, 1, 2), (64, 64, 3, 1), (64, 128, 3, 2),
          (128, 128, 3, 2), (96, 48, 3, 1), (48, 96, 3, 1)]


def make_convs(shapes, dtype=torch.float32, groups=1, dilation=1):
    convs = [
        nn.Conv2d(i, o, k, s, padding=k // 2, bias=False, groups=groups,
                  dilation=dilation).to(dtype) for i, o, k, s in shapes
    ]
    with torch.no_grad():
        for c in convs:
            c.weight.mul_(3.0)
    return convs


class OpRecorder(TorchDispatchMode):

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func.overloadpacket.__name__))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize('dtype,rtol', [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_value_and_grads_equal_the_direct_form(dtype, rtol):
    convs = make_convs(SHAPES * 2, dtype)
    value, grads = isometry_penalty_and_grads(convs)
    slow = sum(direct_penalty(c) for c in convs)
    torch.testing.assert_close(value, slow.detach(), rtol=rtol, atol=0)
    expected = torch.autograd.grad(slow, [c.weight for c in convs])
    for g, e, c in zip(grads, expected, convs):
        assert g.shape == c.weight.shape and g.dtype == c.weight.dtype
        assert ((g - e).norm() / e.norm()) < rtol


def test_grouped_and_dilated_grads_equal_autograd_of_the_penalty():
    convs = (
        make_convs([(8, 16, 3, 1), (16, 8, 3, 2)], torch.float64, groups=4) +
        make_convs([(6, 6, 3, 1)], torch.float64, dilation=2))
    value, grads = isometry_penalty_and_grads(convs)
    reference = isometry_penalty(convs)
    torch.testing.assert_close(value, reference.detach(), rtol=1e-12, atol=0)
    for g, e in zip(grads, torch.autograd.grad(reference, [c.weight for c in convs])):
        assert_close_to_scale(g, e, rtol=1e-10)


def test_chunks_bound_the_products_and_change_nothing(monkeypatch):
    convs = make_convs([(64, 64, 3, 1)] * 5 + [(256, 64, 1, 1)] * 3, torch.float64)
    whole_value, whole_grads = isometry_penalty_and_grads(convs)
    sizes = []
    bmm = torch.bmm
    monkeypatch.setattr(
        torch, 'bmm', lambda a, b: sizes.append(a.shape[0] * a.shape[1] * b.shape[2]) or bmm(a, b))
    limit = 2 * (9 * 64)**2  # two 3x3 kernels per chunk
    value, grads = isometry_penalty_and_grads(convs, max_chunk_elements=limit)
    assert max(sizes) <= limit and len(sizes) > 4
    torch.testing.assert_close(value, whole_value, rtol=1e-12, atol=0)
    for a, b in zip(grads, whole_grads):
        assert_close_to_scale(a, b, rtol=1e-12)
    assert isometry_workspace_bytes(convs, limit) < isometry_workspace_bytes(convs)


def test_workspace_bound_of_the_large_backbones_is_stated():
    for depth in (101, 152):
        convs = [m for m in RISONet(depth=depth).modules() if isinstance(m, nn.Conv2d)][1:]
        assert isometry_workspace_bytes(convs) <= 512 * 2**20, depth


def test_deterministic_and_without_atomics():
    convs = make_convs(SHAPES)
    with OpRecorder() as rec:
        first = isometry_penalty_and_grads(convs)
    second = isometry_penalty_and_grads(convs)
    assert torch.equal(first[0], second[0])
    assert all(torch.equal(a, b) for a, b in zip(first[1], second[1]))
    atomics = {
        'index_add', 'index_add_', 'scatter_add', 'scatter_add_', 'index_put_', 'index_put',
        'scatter_reduce'
    }
    assert not atomics & set(rec.ops), sorted(atomics & set(rec.ops))


def test_a_warm_step_reads_nothing_back_and_builds_nothing_from_host_data():
    convs = make_convs(SHAPES)
    isometry_penalty_and_grads(convs)  # first call: index tables are made once per shape
    with OpRecorder() as rec:
        isometry_penalty_and_grads(convs)
        isometry_penalty(convs).backward()
    # _local_scalar_dense is .item()/float()/bool() of a tensor (a device sync on a GPU);
    # lift_fresh is a tensor built from Python data (a host-to-device copy on a GPU)
    assert 'bmm' in rec.ops
    assert '_local_scalar_dense' not in rec.ops and 'lift_fresh' not in rec.ops


def test_products_run_in_full_precision_and_the_flag_is_restored(monkeypatch):
    inside = []

    @contextmanager
    def recording(device_type):
        inside.append(True)
        yield
        inside.pop()

    monkeypatch.setattr(precision_module, 'full_fp32_matmul', recording)
    bmm = torch.bmm
    seen = []
    monkeypatch.setattr(torch, 'bmm', lambda a, b: seen.append(bool(inside)) or bmm(a, b))
    convs = make_convs(SHAPES[:4])
    isometry_penalty_and_grads(convs)
    isometry_penalty(convs).backward()
    assert seen and all(seen)


def test_full_fp32_matmul_switches_tf32_off_through_the_api_the_user_used():
    # each case in a fresh process: torch refuses reads of one API once the other was used
    legacy = ('import torch; from isonet_det.ops.precision import full_fp32_matmul as f\n'
              'm = torch.backends.cuda.matmul; m.allow_tf32 = True\n'
              'with f("cuda"): assert m.allow_tf32 is False\n'
              'assert m.allow_tf32 is True\n'
              'm.allow_tf32 = False\n'
              'with f("cuda"): assert m.allow_tf32 is False\n'
              'assert m.allow_tf32 is False; print("ok")')
    new = ('import torch; from isonet_det.ops.precision import full_fp32_matmul as f\n'
           'm = torch.backends.cuda.matmul; m.fp32_precision = "tf32"\n'
           'with f("cuda"): assert m.fp32_precision == "ieee"\n'
           'assert m.fp32_precision == "tf32"\n'
           'c = torch.backends.mkldnn.matmul; c.fp32_precision = "bf16"\n'
           'with f("cpu"): assert c.fp32_precision == "ieee"\n'
           'assert c.fp32_precision == "bf16"; print("ok")')
    # torch < 2.9 has only the legacy flag (its matmul backends do not know the new name)
    mkldnn_matmul = getattr(torch.backends.mkldnn, 'matmul', None)
    has_new = mkldnn_matmul is not None and 'fp32_precision' in dir(mkldnn_matmul)
    for code in (legacy, new) if has_new else (legacy, ):
        run = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
        assert run.returncode == 0 and 'ok' in run.stdout, run.stderr[-2000:]
