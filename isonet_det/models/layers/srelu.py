"""SReLU, the shifted ReLU of isometric networks (Qi et al. 2020, Sec. 3.2, eq. 7)."""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.registry import MODELS
from torch import Tensor

from ...ops.srelu_backward import srelu_backward


class SReLUFunction(torch.autograd.Function):
    """``y = max(x, b)`` that keeps only its output for the backward.

    The reference's ``relu(x - b) + b`` under autograd keeps ``relu``'s output, a second
    activation-sized tensor beside ``y`` (which the next conv keeps as its input anyway), and
    runs three passes. Here the forward is one pass (in place with ``inplace``), and the backward
    (:func:`~isonet_det.ops.srelu_backward.srelu_backward`; a one-pass Triton kernel on GPUs is
    opt-in) recovers the mask from ``y - b > 0`` (exact: the rounded difference of two floats has
    the sign of the difference) and gives the reference's gradients

        dL/dx = g [y > b],    dL/db = sum g [y <= b]   (over the dims b broadcasts on)

    (at a tie ``x == b`` the gradient goes to ``b``). The value is ``max(x, b)`` exactly, where the
    reference form rounds ``x - b``.
    """

    @staticmethod
    def forward(ctx, x: Tensor, b: Tensor, inplace: bool) -> Tensor:
        if inplace:
            ctx.mark_dirty(x)
            torch.maximum(x, b, out=x)
            y = x  # the dirty input itself (what torch.compile requires of mark_dirty)
        else:
            y = torch.maximum(x, b)
        ctx.save_for_backward(y, b)
        return y

    @staticmethod
    def backward(ctx, grad: Tensor):
        y, b = ctx.saved_tensors
        grad_x, grad_b = srelu_backward(grad, y, b, ctx.needs_input_grad[1])
        return grad_x, grad_b, None


@MODELS.register_module()
class SReLU(nn.Module):
    """``phi_b(x) = max(x, b)`` (the reference code's ``relu(x - b) + b``, by
    :class:`SReLUFunction`: the same gradients, one pass, no activation-sized tensor saved
    beyond the output).

    ``b`` is learnable: one threshold per channel when ``num_channels`` is given (``x`` is
    ``(N, C, *)`` and ``b`` broadcasts along dim 1), a single shared scalar otherwise. With
    ``b = -1`` (the default) the activation is the identity for ``x >= -1``, so a delta-initialised
    network is close to linear, hence close to an isometry.

    The parameter is called ``srelu_bias`` so that an optimizer ``paramwise_cfg`` can exclude it
    from weight decay with ``custom_keys={'srelu': dict(decay_mult=0.)}``.

    Args:
        num_channels: channel count ``C``; ``None`` for one shared threshold.
        init_value: initial threshold ``b``. Default: -1.
        inplace: write the result into the input's memory (saves one activation-sized buffer;
            the input must not be needed afterwards). mmcv's ``ConvModule`` sets it.
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
        inplace = self.inplace and not (x.is_leaf and x.requires_grad)
        if torch.is_grad_enabled() and (x.requires_grad or b.requires_grad):
            return SReLUFunction.apply(x, b, inplace)
        # nothing to differentiate (inference, frozen stages): one pass, no mask
        return torch.maximum(x, b, out=x) if inplace else torch.maximum(x, b)

    def extra_repr(self) -> str:
        s = f'num_channels={self.num_channels}'
        return s + ', inplace=True' if self.inplace else s
