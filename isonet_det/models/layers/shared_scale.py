"""The learnable scalar on the residual branch of R-ISONet (Qi et al. 2020, Sec. 3.3, eq. 8)."""
import torch
import torch.nn as nn
from mmcv.cnn import Scale
from mmengine.registry import MODELS
from torch import Tensor


def _differentiable(*tensors: Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


class ScaledAddFunction(torch.autograd.Function):
    """``y = identity + s * x`` (``torch.addcmul``) with ``dL/ds = <g, x>`` taken as one dot
    product instead of autograd's ``(g * x).sum()``, which writes an activation-sized product."""

    @staticmethod
    def forward(ctx, identity: Tensor, x: Tensor, s: Tensor) -> Tensor:
        ctx.save_for_backward(x, s)
        return torch.addcmul(identity, x, s)

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, s = ctx.saved_tensors
        grad_x = grad * s if ctx.needs_input_grad[1] else None
        grad_s = None
        if ctx.needs_input_grad[2]:
            if grad.dtype in (torch.float32, torch.float64):
                grad_s = torch.dot(grad.reshape(-1), x.reshape(-1))
            else:  # fp16/bf16: accumulate in float32
                grad_s = (grad * x).sum(dtype=torch.float32).to(grad.dtype)
            grad_s = grad_s.view(s.shape)
        return grad, grad_x, grad_s


@MODELS.register_module()
class SharedScale(Scale):
    """``y = s * x`` with one learnable scalar ``s`` shared by all channels: mmcv's ``Scale``
    (a 0-dim parameter ``scale``) with ``s`` cast to the input's dtype, so fp16/bf16 activations
    under autocast stay fp16/bf16.

    In an R-ISONet block, ``SReLU(shortcut(x) + s * f(x))`` with ``s = 0`` at init makes every
    block exactly its shortcut, so the network starts as an isometry. The reference trains ``s``
    at 0.1x the base learning rate (``custom_keys={'residual_scale': dict(lr_mult=0.1)}`` on the
    block attribute name). Checkpoints that stored ``s`` with shape ``(1,)`` (isonet-det < 0.2)
    or ``(1, 1, 1, 1)`` still load.
    """

    def __init__(self, init_value: float = 0.0):
        super().__init__(scale=float(init_value))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale.to(x.dtype)

    def add_scaled(self, identity: Tensor, x: Tensor) -> Tensor:
        """``identity + s * x`` in one pass, a block's output sum (:class:`ScaledAddFunction`).

        ``x`` is the block's own temporary: with nothing to differentiate (inference) the sum is
        written into it, as mmdet's ResNet adds its identity in place.
        """
        s = self.scale.to(x.dtype)
        if _differentiable(identity, x, s):
            return ScaledAddFunction.apply(identity, x, s)
        return x.mul_(s).add_(identity)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + 'scale'
        if key in state_dict and state_dict[key].dim() > 0 and state_dict[key].numel() == 1:
            state_dict[key] = state_dict[key].reshape(())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class FoldedScale(nn.Module):
    """A residual scale folded into the conv before it (``s * conv(x) = conv_{sW}(x)``), for
    inference: ``add_scaled(identity, x) = identity + x``. See
    :func:`isonet_det.models.fold_residual_scales`."""

    def forward(self, x: Tensor) -> Tensor:
        return x

    def add_scaled(self, identity: Tensor, x: Tensor) -> Tensor:
        """``identity + x``, in place in ``x`` (the block's temporary) when nothing is
        differentiated."""
        if _differentiable(identity, x):
            return identity + x
        return x.add_(identity)
