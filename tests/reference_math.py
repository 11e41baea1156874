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
