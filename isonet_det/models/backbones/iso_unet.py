"""ISO-UNet: a UNet with no normalisation, SReLU after every conv and Delta-initialised kernels.

The isometric recipe of Qi et al. 2020 (Sec. 3: Delta init, SReLU ``max(x, b)`` with ``b = -1``,
eq. 7; the orthogonality regulariser of eq. 5/6 through ``IsometryRegularizerHook``) applied to
Ronneberger et al.'s UNet, as the course replication's ISO-UNet:

- encoder: ``num_stages`` blocks of ``enc_num_convs`` 3x3 convs (padding 1) + SReLU, widths
  ``base_channels * 2**i``, a 2x2 max pooling before every block but the first;
- decoder: ``num_stages - 1`` blocks, each a 2x2 stride-2 transposed conv (to the matching encoder
  block's width), concatenation with that encoder block's output, then ``dec_num_convs`` 3x3
  convs + SReLU.

The layout of MMSegmentation's ``UNet`` (``upsample_cfg=dict(type='DeconvModule',
kernel_size=2)``), so its segmentors and heads take it unchanged: the output is the list of the
deepest encoder output and every decoder output, ``(N, base * 2**(S-1), H / 2**(S-1), W /
2**(S-1)), ..., (N, base, H, W)``; the mask comes from the decode head's 1x1 conv on the last
(``in_index=num_stages - 1``).

Registered in mmengine's root ``MODELS``, so ``type='ISOUNet'`` resolves in MMSegmentation (and
any other OpenMMLab) config once ``custom_imports=dict(imports=['isonet_det'])`` is set.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from mmengine.registry import MODELS
from torch import Tensor

from ..utils import build_activation, conv3x3, pytorch_default_init


class ISOConvBlock(nn.Sequential):
    """``num_convs`` x (3x3 conv, no bias -> SReLU): ``(N, C_in, H, W) -> (N, C_out, H, W)``."""

    def __init__(self, in_channels: int, out_channels: int, num_convs: int, act_cfg: dict):
        layers = []
        for i in range(num_convs):
            layers += [
                conv3x3(in_channels if i == 0 else out_channels, out_channels),
                build_activation(act_cfg, out_channels, inplace=True)
            ]
        super().__init__(*layers)


class ISOUpBlock(nn.Module):
    """2x2 stride-2 transposed conv of the deeper map to the skip's width, concatenation
    ``[up(x), skip]`` and an :class:`ISOConvBlock`: ``(N, 2C, H/2, W/2), (N, C, H, W) -> (N, C, H,
    W)``."""

    def __init__(self, in_channels: int, skip_channels: int, num_convs: int, act_cfg: dict):
        super().__init__()
        self.upsample = nn.ConvTranspose2d(in_channels, skip_channels, 2, stride=2, bias=False)
        self.convs = ISOConvBlock(2 * skip_channels, skip_channels, num_convs, act_cfg)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        return self.convs(torch.cat([self.upsample(x), skip], dim=1))


@MODELS.register_module()
class ISOUNet(BaseModule):
    """ISO-UNet backbone (no normalisation layer anywhere).

    Args:
        in_channels: input image channels (1 for single-channel scans). Default: 3.
        base_channels: width of the first encoder block. Default: 64.
        num_stages: encoder blocks (the decoder has one fewer). Default: 5.
        enc_num_convs: 3x3 convs per encoder block (an int, or one per block). Default: 2.
        dec_num_convs: 3x3 convs per decoder block (an int, or one per block). Default: 2.
        act_cfg: the activation after every conv; SReLU gets one threshold per channel,
            initialised at -1. Default: ``dict(type='SReLU')``.
        with_cp: recompute each block in the backward instead of keeping its activations.
        norm_cfg: must be ``None``; accepted so that a config switched from MMSegmentation's
            ``UNet`` fails with a clear error instead of an unknown-argument one.
        init_cfg: ``None`` for the reference init (Delta on every conv and transposed conv,
            :func:`~isonet_det.models.initializers.upsample_delta_init_` for the latter; the
            stem conv, which reads the image, keeps PyTorch's default init, as in ISONet), or any
            mmengine ``init_cfg`` (e.g. ``Pretrained``).
    """

    def __init__(self,
                 in_channels: int = 3,
                 base_channels: int = 64,
                 num_stages: int = 5,
                 enc_num_convs=2,
                 dec_num_convs=2,
                 act_cfg: dict = dict(type='SReLU'),
                 with_cp: bool = False,
                 norm_cfg: Optional[dict] = None,
                 init_cfg=None):
        if norm_cfg is not None:
            raise ValueError(f'ISOUNet has no normalisation layers; got norm_cfg={norm_cfg!r} '
                             "(use MMSegmentation's UNet for a normalised baseline)")
        if num_stages < 2:
            raise ValueError(f'num_stages must be >= 2, got {num_stages}')
        if in_channels < 1 or base_channels < 1:
            raise ValueError('in_channels and base_channels must be positive, got '
                             f'{in_channels}, {base_channels}')
        enc_num_convs = self._per_block('enc_num_convs', enc_num_convs, num_stages)
        dec_num_convs = self._per_block('dec_num_convs', dec_num_convs, num_stages - 1)
        if init_cfg is None:
            init_cfg = dict(
                type='Delta',
                layer=['Conv2d', 'ConvTranspose2d'],
                override=pytorch_default_init('stem'))
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.num_stages = num_stages
        self.with_cp = with_cp
        widths = [base_channels * 2**i for i in range(num_stages)]
        self.encoder = nn.ModuleList()
        for i, width in enumerate(widths):
            self.encoder.append(
                ISOConvBlock(in_channels if i == 0 else widths[i - 1], width, enc_num_convs[i],
                             act_cfg))
        self.pool = nn.MaxPool2d(2)
        # decoder[i] joins the output of encoder block i + 1 (or of decoder[i + 1]) with block i
        self.decoder = nn.ModuleList(
            ISOUpBlock(widths[i + 1], widths[i], dec_num_convs[i], act_cfg)
            for i in range(num_stages - 1))

    @staticmethod
    def _per_block(name: str, value, count: int) -> List[int]:
        values = [value] * count if isinstance(value, int) else list(value)
        if len(values) != count or min(values) < 1:
            raise ValueError(f'{name} must be a positive int or {count} positive ints, got '
                             f'{value!r}')
        return values

    @property
    def stem(self) -> nn.Conv2d:
        """The first conv, which reads the image."""
        return self.encoder[0][0]

    def stem_convs(self) -> Sequence[nn.Conv2d]:
        """Convs that read the image (the regulariser skips them, as the reference does)."""
        return (self.stem, )

    def _run(self, block: nn.Module, *inputs: Tensor) -> Tensor:
        if self.with_cp and any(t.requires_grad for t in inputs):
            return cp.checkpoint(block, *inputs, use_reentrant=False)
        return block(*inputs)

    def forward(self, x: Tensor) -> List[Tensor]:
        """``(N, in_channels, H, W)`` -> ``num_stages`` maps, deepest first (see the module doc);
        ``H`` and ``W`` must be multiples of ``2**(num_stages - 1)``."""
        factor = 2**(self.num_stages - 1)
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[2] % factor or \
                x.shape[3] % factor:
            raise ValueError(f'ISOUNet expects (N, {self.in_channels}, H, W) with H and W '
                             f'multiples of {factor}, got {tuple(x.shape)}')
        skips = []
        for i, block in enumerate(self.encoder):
            x = self._run(block, x if i == 0 else self.pool(x))
            skips.append(x)
        outs = [x]
        for i in reversed(range(self.num_stages - 1)):
            x = self._run(self.decoder[i], x, skips[i])
            outs.append(x)
        return outs
