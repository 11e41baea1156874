"""Per-layer isometry diagnostics of a model: orthogonality error, operator singular values,
SReLU thresholds and residual scales."""
from typing import Dict, List

import torch
import torch.nn as nn

from ..models.layers import SharedScale, SReLU
from ..ops import conv_singular_values, isometry_penalty


def orthogonality_error(conv: nn.Conv2d) -> float:
    """``||Conv(A, A) - delta||_F / ||delta||_F`` (smaller side ``S``, ``||delta||_F = sqrt(S)``):
    0 for an isometry."""
    with torch.no_grad():
        penalty = isometry_penalty([conv]).item()
    smaller = min(conv.out_channels, conv.in_channels) // conv.groups * conv.groups
    return (2.0 * penalty / smaller)**0.5


def conv_layer_stats(named_convs, n: int = 32) -> List[Dict]:
    """One row per conv: name, shape, stride, orthogonality error, min / max singular value of
    the operator on a periodic ``n x n`` input (``n`` rounded up to the stride)."""
    rows = []
    for name, conv in named_convs:
        stride = max(conv.stride)
        # a 1x1 kernel has the same matrix at every frequency: the smallest grid gives the same
        # set of singular values
        size = stride if conv.kernel_size == (1, 1) else -(-n // stride) * stride
        s = conv_singular_values(conv.weight, size, conv.stride, conv.dilation, conv.groups)
        rows.append(
            dict(
                layer=name,
                out_channels=conv.out_channels,
                in_channels=conv.in_channels,
                kernel='x'.join(map(str, conv.kernel_size)),
                stride=stride,
                orthogonality_error=orthogonality_error(conv),
                sigma_min=s[-1].item(),
                sigma_max=s[0].item()))
    return rows


def activation_stats(model: nn.Module) -> List[Dict]:
    """SReLU thresholds (mean, min, max per module) and residual scales."""
    rows = []
    for name, m in model.named_modules():
        if isinstance(m, SReLU):
            b = m.srelu_bias.detach()
            rows.append(
                dict(
                    module=name,
                    kind='srelu_threshold',
                    mean=b.mean().item(),
                    min=b.min().item(),
                    max=b.max().item()))
        elif isinstance(m, SharedScale):
            v = m.scale.detach().item()
            rows.append(dict(module=name, kind='residual_scale', mean=v, min=v, max=v))
    return rows
