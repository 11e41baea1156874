"""Inference-time folding of R-ISONet's residual scales into the convs before them."""
import torch
import torch.nn as nn

from ..backbones.isonet import IsometricBlock
from ..layers import FoldedScale, SharedScale

__all__ = ['fold_residual_scales']


@torch.no_grad()
def fold_residual_scales(model: nn.Module) -> int:
    """Fold every R-ISONet block's ``s`` into its last conv, in place: ``identity + s * W * h``
    becomes ``identity + (sW) * h`` (eq. 8 with the scalar moved into the weight), the scale
    module becomes a :class:`FoldedScale` (a plain sum). The outputs are unchanged up to
    rounding; the state dict loses the ``residual_scale.scale`` entries.

    For deployment, as mmcv's ``fuse_conv_bn`` for BN networks: a folded model trains without
    its residual scales. Returns the number of blocks folded (0 for ISONet or a model already
    folded).
    """
    folded = 0
    for block in model.modules():
        if isinstance(block, IsometricBlock) and isinstance(
                getattr(block, 'residual_scale', None), SharedScale):
            conv = block.last_conv
            conv.weight.mul_(block.residual_scale.scale.to(conv.weight.dtype))
            block.residual_scale = FoldedScale()
            folded += 1
    return folded
