"""The Xie et al. (2017) flattened-filter regulariser against a direct implementation."""
import pytest
import torch
import torch.nn as nn
from reference_math import assert_close_to_scale, direct_orthonormality

from isonet_det.ops import isometry_penalty, orthonormality_penalty

SHAPES = [(8, 32, 3, 1), (64, 16, 3, 2), (16, 64, 1, 1), (64, 16, 1, 1), (3, 40, 3, 1)]


def test_value_and_gradient_match_direct_form():
    convs = [nn.Conv2d(i, o, k, s, bias=False).double() for i, o, k, s in SHAPES]
    fast = orthonormality_penalty(convs)
    slow = sum(direct_orthonormality(c) for c in convs)
    torch.testing.assert_close(fast, slow, rtol=1e-10, atol=0)
    for a, b in zip(
            torch.autograd.grad(fast, [c.weight for c in convs]),
            torch.autograd.grad(slow, [c.weight for c in convs])):
        assert_close_to_scale(a, b, rtol=1e-10)
    per_layer = orthonormality_penalty(convs, reduction='none')
    torch.testing.assert_close(per_layer, torch.stack([direct_orthonormality(c) for c in convs]))


def test_equals_the_isometry_penalty_for_1x1_convs():
    convs = [nn.Conv2d(16, 64, 1, bias=False), nn.Conv2d(64, 16, 1, stride=2, bias=False)]
    torch.testing.assert_close(orthonormality_penalty(convs), isometry_penalty(convs))


def test_float32_under_autocast_and_errors():
    conv = nn.Conv2d(8, 8, 3, bias=False)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert orthonormality_penalty([conv]).dtype == torch.float32
    with pytest.raises(TypeError):
        orthonormality_penalty([nn.Linear(2, 2)])
