"""Slow implementations written from the papers' definitions, the oracles of the tests."""
import torch
import torch.nn.functional as F

from isonet_det.ops import isometry_penalty_direct


def direct_penalty(conv) -> torch.Tensor:
    """Qi et al. 2020, eq. 5/6 for one conv, in the reference code's form (one F.conv2d): the
    package's own direct penalty, the benchmark's baseline, not a second copy."""
    return isometry_penalty_direct([conv])


def explicit_conv_operator(weight, n, stride=1, dilation=1, groups=1):
    """The matrix of a conv with circular padding on ``C x n x n`` inputs, built column by
    column from basis images: ``(C_out (n/s)^2) x (C_in n^2)``."""
    C = weight.shape[1] * groups
    k = weight.shape[-1]
    pad = dilation * (k // 2)
    basis = torch.eye(C * n * n, dtype=weight.dtype).view(-1, C, n, n)
    out = F.conv2d(
        F.pad(basis, [pad] * 4, mode='circular'),
        weight,
        stride=stride,
        dilation=dilation,
        groups=groups)
    return out.flatten(1).T


def direct_orthonormality(conv) -> torch.Tensor:
    """Xie et al. 2017: 1/2 ||W W^T - I||_F^2, W the (C_out, C_in k^2) flattened filter bank,
    on the smaller side."""
    W = conv.weight.reshape(conv.weight.shape[0], -1)
    if W.shape[0] > W.shape[1]:
        W = W.T
    return ((W @ W.T - torch.eye(W.shape[0], dtype=W.dtype))**2).sum() / 2


def assert_close_to_scale(actual, expected, rtol):
    """``assert_close`` with ``atol = rtol * max|expected|``: a sum of products is exact only to
    a few ulps of its largest terms, and which ulps differs between CPUs (kernels, FMA, summation
    order), so an element near zero cannot be held to ``rtol`` of itself."""
    torch.testing.assert_close(
        actual, expected, rtol=rtol, atol=rtol * float(expected.detach().abs().max()))
