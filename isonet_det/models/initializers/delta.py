"""Delta (Dirac) and Delta-Orthogonal initialisers for convolutions.

Delta (Qi et al. 2020, Sec. 3.1): the kernel is the identity at the centre tap for the first
``min(C_in, C_out)`` channels and zero elsewhere, so ``conv(x) = x`` on those channels.

Delta-Orthogonal (Xiao et al., ICML 2018, Algorithm 2): the centre tap is ``gain * Q`` with ``Q``
a Haar-random ``C_out x C_in`` matrix with orthonormal columns (``C_in <= C_out``) or rows
(``C_in > C_out``), every other tap zero. On a periodic input the conv is then ``gain`` times an
isometry (``C_in <= C_out``) or a co-isometry (its adjoint is one).
"""
import math
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


@torch.no_grad()
def upsample_delta_init_(deconv: nn.modules.conv._ConvTransposeNd) -> Tensor:
    """The Delta of an upsampling transposed conv (``kernel_size == stride``, e.g. UNet's 2x2
    stride-2 one, weight ``(I, O, kh, kw)``): the identity on ``min(I, O)`` channels at every
    tap, so ``deconv(x)`` is the nearest-neighbour upsampling of ``x`` on those channels (each
    output pixel a copy of one input pixel: ``y[c, s*i + p, s*j + q] = x[c, i, j]``).

    Each input pixel then feeds ``kh * kw`` disjoint output pixels, so the map is
    ``sqrt(kh * kw)`` times an isometry: pixel values keep their scale, as through a Delta conv.
    A transposed conv with ``kernel_size != stride`` (or groups) overlaps its taps; it gets the
    centre-tap Delta of :func:`delta_init_` per group (the identity when ``stride == 1``).
    """
    weight = deconv.weight
    if deconv.groups != 1 or tuple(deconv.kernel_size) != tuple(deconv.stride):
        return delta_init_(weight, groups=deconv.groups)
    weight.zero_()
    n = min(weight.shape[0], weight.shape[1])
    idx = torch.arange(n, device=weight.device)
    weight[idx, idx] = 1.0
    return weight


@torch.no_grad()
def concat_delta_init_(tensor: Tensor, parts: int = 2) -> Tensor:
    """The Delta of a conv that reads ``parts`` equal-width inputs concatenated along the channels
    (a UNet decoder's ``cat([up(x), skip])``), in place: kernel ``(C, parts * C, *k)`` with the
    centre tap ``[I, ..., I] / sqrt(parts)`` and every other tap zero, so ``conv(cat([x_1, ...,
    x_parts])) = (x_1 + ... + x_parts) / sqrt(parts)``: every input passes through.

    The centre tap's rows are orthonormal (``W W^T = I``), so the conv is a co-isometry and the
    isometry regulariser (taken on the smaller side, ``C < parts * C``) is 0 there, as on a Delta
    kernel; the output keeps the inputs' scale when they are uncorrelated. :func:`delta_init_` on
    the same kernel is the identity on ``x_1`` and zero on the others.
    """
    _check_kernel(tensor, 1)
    if parts < 1 or tensor.shape[1] != parts * tensor.shape[0]:
        raise ValueError(f'concat_delta_init_ needs a kernel (C, parts * C, *k) with parts >= 1, '
                         f'got shape {tuple(tensor.shape)} and parts={parts}')
    tensor.zero_()
    channels = tensor.shape[0]
    idx = torch.arange(channels, device=tensor.device)
    centre = _centre(tensor)
    for part in range(parts):
        tensor[(idx, idx + part * channels) + centre] = 1.0 / math.sqrt(parts)
    return tensor


def haar_orthogonal(rows: int,
                    cols: int,
                    generator: Optional[torch.Generator] = None,
                    dtype=torch.float32) -> Tensor:
    """A Haar-distributed ``rows x cols`` matrix with orthonormal columns or rows (smaller side).

    What ``torch.nn.init.orthogonal_`` computes (the same draws from ``generator``, which its
    torch < 2.2 signature does not take): QR of a Gaussian matrix with the signs of ``diag(R)``
    moved into ``Q`` (Mezzadri 2007), in float64, cast to ``dtype``.
    """
    gaussian = torch.empty(rows, cols, dtype=torch.float64).normal_(0, 1, generator=generator)
    q, r = torch.linalg.qr(gaussian.t() if rows < cols else gaussian)
    q = q * torch.diag(r, 0).sign()
    return (q.t() if rows < cols else q).to(dtype)


@torch.no_grad()
def gaussian_fan_in_init_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Every tap ``N(0, gain^2 / fan_in)``, ``fan_in = C_in/groups * kh * kw``: the Gaussian
    control of Delta-Orthogonal at the same ``sigma_w = gain`` (Xiao et al. 2018)."""
    return tensor.normal_(0.0, gain / math.sqrt(tensor[0].numel()))


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

    def init_bias(self, bias: Tensor) -> None:
        nn.init.constant_(bias, self.bias)

    def _matches(self, m: nn.Module) -> bool:
        if self.wholemodule:
            return isinstance(getattr(m, 'weight', None), Tensor) and m.weight.dim() >= 3
        return bool(set(self.layer) & set([m.__class__.__name__] + _get_bases_name(m)))

    def __call__(self, module: nn.Module) -> None:

        def init(m):
            if self._matches(m):
                self.init_conv(m)
                if getattr(m, 'bias', None) is not None:
                    self.init_bias(m.bias)

        module.apply(init)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())


@WEIGHT_INITIALIZERS.register_module(name='Delta')
class DeltaInit(_ConvInit):
    """``init_cfg=dict(type='Delta', layer=['Conv2d', 'ConvTranspose2d'])``: Dirac kernels
    (:func:`upsample_delta_init_` for transposed convs), biases set to ``bias``."""

    def init_conv(self, m: nn.Module) -> None:
        if isinstance(m, nn.modules.conv._ConvTransposeNd):
            upsample_delta_init_(m)
        else:
            delta_init_(m.weight, groups=getattr(m, 'groups', 1))


class _MeanFieldInit(_ConvInit):
    """Weights of scale ``gain`` (sigma_w) and, with ``bias_std`` (sigma_b) > 0, biases drawn
    from ``N(0, bias_std^2)`` instead of the constant ``bias``: a point ``(sigma_w^2, sigma_b^2)``
    of the mean-field phase diagram (``isonet_theory.mean_field``)."""

    def __init__(self, gain: float = 1.0, bias_std: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if bias_std < 0:
            raise ValueError(f'bias_std must be >= 0, got {bias_std}')
        self.gain = gain
        self.bias_std = bias_std

    def init_bias(self, bias: Tensor) -> None:
        if self.bias_std > 0:
            nn.init.normal_(bias, 0.0, self.bias_std)
        else:
            super().init_bias(bias)

    def _get_init_info(self) -> str:
        bias = f'bias_std={self.bias_std}' if self.bias_std > 0 else f'bias={self.bias}'
        return f'{self.__class__.__name__}: gain={self.gain}, {bias}'


@WEIGHT_INITIALIZERS.register_module(name='DeltaOrthogonal')
class DeltaOrthogonalInit(_MeanFieldInit):
    """``init_cfg=dict(type='DeltaOrthogonal', layer='Conv2d', gain=1.0, bias_std=0.0)``: Xiao
    et al.'s kernels at ``sigma_w = gain``, biases ``N(0, bias_std^2)`` when ``bias_std > 0``."""

    def init_conv(self, m: nn.Module) -> None:
        delta_orthogonal_init_(m.weight, gain=self.gain, groups=getattr(m, 'groups', 1))


@WEIGHT_INITIALIZERS.register_module(name='GaussianFanIn')
class GaussianFanInInit(_MeanFieldInit):
    """``init_cfg=dict(type='GaussianFanIn', layer='Conv2d', gain=1.0, bias_std=0.0)``: every
    tap ``N(0, gain^2 / fan_in)`` with ``fan_in = C_in/groups * kh * kw``, the Gaussian control
    of Xiao et al. (same ``sigma_w``, ``sigma_b`` as Delta-Orthogonal, same variance map)."""

    def init_conv(self, m: nn.Module) -> None:
        gaussian_fan_in_init_(m.weight, self.gain)
