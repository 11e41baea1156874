"""Split-TF32 (3xTF32) products against float64: the CPU twin of the tensor-core path."""
import copy

import pytest
import torch
import torch.nn as nn
from reference_math import direct_penalty  # noqa: I100

from isonet_det.ops import Products, isometry_penalty, isometry_penalty_and_grads
from isonet_det.ops.precision import round_to_tf32


def max_rel(a, b):
    return float((a.double() - b).abs().max() / b.abs().max())


def test_round_to_tf32_keeps_ten_mantissa_bits():
    x = torch.randn(10000) * torch.logspace(-20, 20, 10000)
    hi = round_to_tf32(x)
    assert ((x - hi).abs() < 2**-10 * x.abs()).all()
    assert torch.equal(round_to_tf32(hi), hi)  # exact in TF32
    assert ((x.view(torch.int32) - hi.view(torch.int32)) < 2**13).all()
    assert (hi != x).float().mean() > 0.99  # the low bits were there and were cleared


@pytest.mark.parametrize('shape', [(3, 64, 576), (2, 200, 37)])
def test_split_products_are_float32_accurate_where_tf32_is_not(shape):
    torch.manual_seed(0)
    a = torch.randn(shape) / shape[-1]**0.5
    b = torch.randn(shape[0], shape[2], 48)
    split = Products('split_tf32')
    gram64 = a.double() @ a.double().transpose(1, 2)
    prod64 = a.double() @ b.double()
    tf32 = round_to_tf32(a) @ round_to_tf32(a).transpose(1, 2)  # what plain TF32 reads
    assert max_rel(split.gram(a), gram64) < 2e-6
    assert max_rel(split.matmul(a, b), prod64) < 2e-6
    assert max_rel(tf32, gram64) > 1e-4  # the precision the split recovers
    g = split.gram(a)
    assert torch.equal(g, g.transpose(1, 2))
    out = torch.ones(shape[0], shape[1], 48)
    torch.testing.assert_close(
        split.addmatmul(out, a, b, alpha=-0.5).double(), 1 - 0.5 * prod64, rtol=0, atol=1e-5)
    mat = a[0].clone()
    assert max_rel(split.matmul(mat.T, mat), mat.double().T @ mat.double()) < 2e-6


def test_ieee_products_are_torch_bmm():
    a, b = torch.randn(2, 8, 5), torch.randn(2, 5, 3)
    ieee = Products('ieee')
    assert torch.equal(ieee.matmul(a, b), torch.bmm(a, b))
    assert torch.equal(ieee.gram(a), torch.bmm(a, a.transpose(1, 2)))
    c = torch.randn(2, 8, 3)
    assert torch.equal(ieee.addmatmul(c, a, b, alpha=-1.0), torch.baddbmm(c, a, b, alpha=-1.0))
    with pytest.raises(ValueError, match="precision must be one of"):
        Products('tf32')


SHAPES = [(64, 256, 1, 1), (256, 64, 1, 1), (256, 512, 1, 2), (64, 64, 3, 1), (128, 128, 3, 2),
          (96, 48, 3, 1)]


def test_split_tf32_penalty_within_1e5_of_float64():
    """The accuracy target of the GPU path, on its CPU twin: value and gradient within 1e-5
    (relative) of float64, for every kernel form (tap pairs, Parseval, strided)."""
    torch.manual_seed(0)
    convs = [nn.Conv2d(i, o, k, s, bias=False) for i, o, k, s in SHAPES]
    for c in convs:
        nn.init.orthogonal_(c.weight)
        with torch.no_grad():
            c.weight.add_(0.02 * torch.randn_like(c.weight))
    doubled = [copy.deepcopy(c).double() for c in convs]
    v64 = sum(direct_penalty(c) for c in doubled)
    g64 = torch.autograd.grad(v64, [c.weight for c in doubled])
    value, grads = isometry_penalty_and_grads(convs, precision='split_tf32')
    assert abs(float(value) - float(v64)) / float(v64) < 1e-5
    for g, ref in zip(grads, g64):
        assert float((g.double() - ref).norm() / ref.norm()) < 1e-5
    auto = isometry_penalty(convs, precision='split_tf32')
    assert abs(float(auto) - float(v64)) / float(v64) < 1e-5
    ieee = isometry_penalty_and_grads(convs)  # the CPU default, unchanged
    assert not torch.equal(ieee[0], value)  # the split path was really taken
