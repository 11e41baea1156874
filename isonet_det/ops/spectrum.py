"""Exact singular values of a convolution on a periodic ``n x n`` input.

Sedghi, Gupta, Long, "The Singular Values of Convolutional Layers" (ICLR 2019), Theorem 6: with
circular padding and stride 1, the conv operator is block-diagonalised by the 2-D DFT, and its
singular values are those of the ``n^2`` matrices

    K(w) = sum_u A_u exp(-2 pi i <w, u> / n)        (C_out x C_in, w on the n x n grid)

For stride ``s`` (``s`` dividing ``n``), downsampling folds the ``s^2`` frequencies
``w + j n / s`` onto each output frequency ``w`` of the ``(n/s)^2`` grid, so the singular values
are those of the ``C_out x s^2 C_in`` matrices ``[K(w + j n/s)]_j / s``. Dilation ``d`` places tap
``u`` at ``d u``. An isometric conv has every singular value equal to 1.
"""
from typing import Tuple

import torch
import torch.nn as nn
from mmengine.utils import to_2tuple
from torch import Tensor


def conv_singular_values(weight: Tensor, n: int, stride=1, dilation=1, groups: int = 1) -> Tensor:
    """All singular values of the conv ``weight`` ``(C_out, C_in/groups, kh, kw)`` acting on
    periodic ``C_in x n x n`` inputs: a 1-D tensor, in descending order, of length
    ``(n/s)^2 * min(C_out, s^2 C_in)`` (per group, concatenated)."""
    sh, sw = to_2tuple(stride)
    dh, dw = to_2tuple(dilation)
    if n % sh or n % sw:
        raise ValueError(f'n={n} must be a multiple of the stride {(sh, sw)}')
    kh, kw = weight.shape[-2:]
    if dh * (kh - 1) >= n or dw * (kw - 1) >= n:
        raise ValueError(f'n={n} is smaller than the dilated kernel ({kh}, {kw}) x {(dh, dw)}')
    w = weight.detach().to(torch.float64)
    values = []
    for wg in w.chunk(groups, dim=0):
        M, C = wg.shape[:2]
        taps = wg.new_zeros(M, C, n, n)
        taps[:, :, :dh * kh:dh, :dw * kw:dw] = wg  # tap u at dilation * u
        K = torch.fft.fft2(taps)  # (M, C, n, n)
        nh, nw = n // sh, n // sw
        # fold: output frequency (a, b) gathers input frequencies (a + i nh, b + j nw)
        K = K.view(M, C, sh, nh, sw, nw).permute(3, 5, 0, 2, 4, 1)  # (nh, nw, M, sh, sw, C)
        K = K.reshape(nh * nw, M, sh * sw * C) / (sh * sw)**0.5
        values.append(torch.linalg.svdvals(K).flatten())
    return torch.cat(values).sort(descending=True).values


def conv_singular_value_range(conv: nn.Conv2d, n: int = 32) -> Tuple[float, float]:
    """``(smallest, largest)`` singular value of ``conv`` on a periodic ``n x n`` input."""
    s = conv_singular_values(conv.weight, n, conv.stride, conv.dilation, conv.groups)
    return s[-1].item(), s[0].item()
