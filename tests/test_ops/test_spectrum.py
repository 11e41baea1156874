"""Operator singular values from the kernel DFT against the explicitly built operator."""
import pytest
import torch
import torch.nn as nn
from reference_math import explicit_conv_operator

from isonet_det.models.initializers import delta_init_, delta_orthogonal_init_
from isonet_det.ops import conv_singular_value_range, conv_singular_values


@pytest.mark.parametrize(
    'out_c,in_c,k,stride,dilation,groups,n',
    [
        (3, 2, 3, 1, 1, 1, 6),  # C_out > C_in
        (2, 3, 3, 1, 1, 1, 5),  # C_out < C_in, odd n
        (4, 2, 3, 2, 1, 1, 8),  # stride 2
        (2, 4, 3, 2, 1, 1, 6),
        (3, 3, 1, 2, 1, 1, 4),  # 1x1 strided (projection shortcut)
        (2, 2, 3, 1, 2, 1, 8),  # dilation 2
        (4, 4, 3, 1, 1, 2, 6),  # groups
    ])
def test_matches_explicit_operator(out_c, in_c, k, stride, dilation, groups, n):
    w = torch.randn(out_c, in_c // groups, k, k, dtype=torch.float64)
    fast = conv_singular_values(w, n, stride, dilation, groups)
    explicit = torch.linalg.svdvals(explicit_conv_operator(w, n, stride, dilation, groups))
    torch.testing.assert_close(fast, explicit[:len(fast)], rtol=1e-10, atol=1e-12)
    rest = explicit[len(fast):]
    assert rest.numel() == 0 or rest.abs().max() < 1e-10  # the rest are zero


@pytest.mark.parametrize('init', [delta_init_, delta_orthogonal_init_])
@pytest.mark.parametrize('in_c,out_c,stride', [(8, 8, 1), (8, 16, 1), (16, 8, 1), (8, 8, 2)])
def test_delta_kernels_are_isometries(init, in_c, out_c, stride):
    conv = nn.Conv2d(in_c, out_c, 3, stride=stride, bias=False)
    init(conv.weight)
    lo, hi = conv_singular_value_range(conv, n=8)
    assert lo == pytest.approx(1.0, abs=1e-6) and hi == pytest.approx(1.0, abs=1e-6)


def test_bad_sizes_are_named():
    w = torch.randn(2, 2, 3, 3)
    with pytest.raises(ValueError, match='multiple of the stride'):
        conv_singular_values(w, 5, stride=2)
    with pytest.raises(ValueError, match='smaller than the dilated kernel'):
        conv_singular_values(w, 4, dilation=2)
