"""Delta (Dirac) and Delta-Orthogonal initialisers for convolutions.

Delta (Qi et al. 2020, Sec. 3.1): the kernel is the identity at the centre tap for the first
``min(C_in, C_out)`` channels and zero elsewhere, so ``conv(x) = x`` on those channels.

Delta-Orthogonal (Xiao et al., ICML 2018, Algorithm 2): the centre tap is ``gain * Q`` with ``Q``
a Haar-random ``C_out x C_in`` matrix with orthonormal columns (``C_in <= C_out``) or rows
(``C_in > C_out``), every other tap zero. On a periodic input the conv is then ``gain`` times an
isometry (``C_in <= C_out``) or a co-isometry (its adjoint is one).
"""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model.weight_init import BaseInit, _get_bases_name, update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS
from torch import Tensor


def _check_kernel(tensor: Tensor, groups: int) -> None:
    if tensor.dim() < 3:
        raise ValueError('delta initialisation needs a conv kernel (out, in, *spatial), got '
                         f'shape {tuple(tensor.shape)}')
    if tensor.shape[0] % groups:
        raise ValueError(f'out channels {tensor.shape[0]} not divisible by groups={groups}')


def _centre(tensor: Tensor) -> tuple:
    return tuple(s // 2 for s in tensor.shape[2:])


@torch.no_grad()
def delta_init_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a kernel ``(O, I/groups, *k)`` with the Dirac delta, in place (per group)."""
    _check_kernel(tensor, groups)
    return nn.init.dirac_(tensor, groups=groups)


def haar_orthogonal(rows: int,
                    cols: int,
                    generator: Optional[torch.Generator] = None,
                    dtype=torch.float32) -> Tensor:
    """A Haar-distributed ``rows x cols`` matrix with orthonormal columns or rows (smaller side).

    ``torch.nn.init.orthogonal_``: QR of a Gaussian matrix with the signs of ``diag(R)`` moved
    into ``Q`` (Mezzadri 2007), computed in float64 and cast to ``dtype``.
    """
    q = torch.empty(rows, cols, dtype=torch.float64)
    return nn.init.orthogonal_(q, generator=generator).to(dtype)


@torch.no_grad()
def delta_orthogonal_init_(tensor: Tensor,
                           gain: float = 1.0,
                           groups: int = 1,
                           generator: Optional[torch.Generator] = None) -> Tensor:
    """Fill a kernel ``(O, I/groups, *k)`` with a Delta-Orthogonal kernel, in place (per group)."""
    _check_kernel(tensor, groups)
    tensor.zero_()
    out_per_group = tensor.shape[0] // groups
    centre = _centre(tensor)
    for g in range(groups):
        q = haar_orthogonal(out_per_group, tensor.shape[1], generator, tensor.dtype)
        tensor[(slice(g * out_per_group, (g + 1) * out_per_group), slice(None)) + centre] = \
            gain * q.to(tensor.device)
    return tensor


class _ConvInit(BaseInit):
    """Apply ``self.init_conv`` to the modules named by ``layer`` (or the whole module)."""

    def init_conv(self, m: nn.Module) -> None:
        raise NotImplementedError

    def __call__(self, module: nn.Module) -> None:

        def init(m):
            if self.wholemodule:
                matched = isinstance(getattr(m, 'weight', None), Tensor) and m.weight.dim() >= 3
            else:
                matched = bool(set(self.layer) & set([m.__class__.__name__] + _get_bases_name(m)))
            if matched:
                self.init_conv(m)
                if getattr(m, 'bias', None) is not None:
                    nn.init.constant_(m.bias, self.bias)

        module.apply(init)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())


@WEIGHT_INITIALIZERS.register_module(name='Delta')
class DeltaInit(_ConvInit):
    """``init_cfg=dict(type='Delta', layer='Conv2d')``: Dirac kernels, biases set to ``bias``."""

    def init_conv(self, m: nn.Module) -> None:
        delta_init_(m.weight, groups=getattr(m, 'groups', 1))


@WEIGHT_INITIALIZERS.register_module(name='DeltaOrthogonal')
class DeltaOrthogonalInit(_ConvInit):
    """``init_cfg=dict(type='DeltaOrthogonal', layer='Conv2d', gain=1.0)``."""

    def __init__(self, gain: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.gain = gain

    def init_conv(self, m: nn.Module) -> None:
        delta_orthogonal_init_(m.weight, gain=self.gain, groups=getattr(m, 'groups', 1))

    def _get_init_info(self) -> str:
        return f'{self.__class__.__name__}: gain={self.gain}, bias={self.bias}'
