"""Slow implementations written from the papers' definitions, the oracles of the tests."""
import torch
import torch.nn.functional as F


def direct_penalty(conv) -> torch.Tensor:
    """Qi et al. 2020, eq. 5/6 as the reference code computes it: one F.conv2d per layer.

    ``1/2 ||Conv(A, A) - delta||_F^2`` with ``Conv(A, A) = conv2d(A, A, padding=k-1, stride)``,
    on the smaller side (operand and operator transposed when C_in < C_out).
    """
    w = conv.weight
    if w.shape[0] > w.shape[1]:
        w = w.transpose(0, 1)
    k = w.shape[-1]
    gram = F.conv2d(w, w, padding=k - 1, stride=conv.stride)
    target = torch.zeros_like(gram)
    c = gram.shape[-1] // 2
    target[:, :, c, c] = torch.eye(gram.shape[0], dtype=gram.dtype)
    return ((gram - target)**2).sum() / 2


def explicit_conv_operator(weight, n, stride=1, dilation=1, groups=1):
    """The matrix of a conv with circular padding on ``C x n x n`` inputs, built column by
    column from basis images: ``(C_out (n/s)^2) x (C_in n^2)``."""
    C = weight.shape[1] * groups
    k = weight.shape[-1]
    pad = dilation * (k // 2)
    basis = torch.eye(C * n * n, dtype=weight.dtype).view(-1, C, n, n)
    out = F.conv2d(F.pad(basis, [pad] * 4, mode='circular'), weight, stride=stride,
                   dilation=dilation, groups=groups)
    return out.flatten(1).T


def direct_orthonormality(conv) -> torch.Tensor:
    """Xie et al. 2017: 1/2 ||W W^T - I||_F^2, W the (C_out, C_in k^2) flattened filter bank,
    on the smaller side."""
    W = conv.weight.reshape(conv.weight.shape[0], -1)
    if W.shape[0] > W.shape[1]:
        W = W.T
    return ((W @ W.T - torch.eye(W.shape[0], dtype=W.dtype))**2).sum() / 2
