"""SReLU, the shifted ReLU of isometric networks (Qi et al. 2020, Sec. 3.2, eq. 7)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class SReLU(nn.Module):
    """``phi_b(x) = max(x, b)``, computed as ``relu(x - b) + b`` like the reference code.

    ``b`` is learnable: one threshold per channel when ``num_channels`` is given (``x`` is
    ``(N, C, *)`` and ``b`` broadcasts along dim 1), a single shared scalar otherwise. With
    ``b = -1`` (the default) the activation is the identity for ``x >= -1``, so a delta-initialised
    network is close to linear, hence close to an isometry.

    The parameter is called ``srelu_bias`` so that an optimizer ``paramwise_cfg`` can exclude it
    from weight decay with ``custom_keys={'srelu': dict(decay_mult=0.)}``.

    Args:
        num_channels: channel count ``C``; ``None`` for one shared threshold.
        init_value: initial threshold ``b``. Default: -1.
        inplace: compute ``x - b`` and the ReLU in the input's memory (saves one activation-sized
            buffer; the input must not be needed afterwards). mmcv's ``ConvModule`` sets it.
    """

    def __init__(self,
                 num_channels: Optional[int] = None,
                 init_value: float = -1.0,
                 inplace: bool = False):
        super().__init__()
        if num_channels is not None and num_channels < 1:
            raise ValueError(f'num_channels must be positive, got {num_channels}')
        self.num_channels = num_channels
        self.inplace = inplace
        self.srelu_bias = nn.Parameter(torch.full((num_channels or 1, ), float(init_value)))

    def forward(self, x: Tensor) -> Tensor:
        # b in the input's dtype: under autocast, fp16/bf16 activations stay fp16/bf16 (the sum
        # with a float32 parameter would promote them, and every layer after, to float32)
        b = self.srelu_bias.to(x.dtype)
        if self.num_channels is not None:
            if x.dim() < 2 or x.shape[1] != self.num_channels:
                raise ValueError(f'SReLU expects {self.num_channels} channels in dim 1, got '
                                 f'input of shape {tuple(x.shape)}')
            b = b.view(1, -1, *([1] * (x.dim() - 2)))
        if self.inplace and not (x.is_leaf and x.requires_grad):
            return F.relu_(x.sub_(b)) + b
        return F.relu(x - b) + b

    def extra_repr(self) -> str:
        s = f'num_channels={self.num_channels}'
        return s + ', inplace=True' if self.inplace else s
