"""The learnable scalar on the residual branch of R-ISONet (Qi et al. 2020, Sec. 3.3, eq. 8)."""
import torch
import torch.nn as nn
from mmengine.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class SharedScale(nn.Module):
    """``y = s * x`` with one learnable scalar ``s`` shared by all channels.

    In an R-ISONet block, ``SReLU(shortcut(x) + s * f(x))`` with ``s = 0`` at init makes every
    block exactly its shortcut, so the network starts as an isometry. The reference trains ``s``
    at 0.1x the base learning rate (``custom_keys={'residual_scale': dict(lr_mult=0.1)}`` on the
    block attribute name).
    """

    def __init__(self, init_value: float = 0.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([float(init_value)]))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale.to(x.dtype)
