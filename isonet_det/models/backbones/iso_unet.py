"""ISO-UNet: a UNet with no normalisation, SReLU after every conv and Delta-initialised kernels
(the decoder's convs that read ``[up(x), skip]`` pass both halves through at init).

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
from mmengine.model import BaseModule, ModuleList
from mmengine.registry import MODELS
from torch import Tensor

from ..initializers import concat_delta_init_
from ..utils import build_activation, conv3x3, pytorch_default_init

SKIP_INITS = ('sum', 'zero')


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
    W)``. ``skip_init='sum'``: :meth:`init_weights` opens the skip half (``None``: leaves the
    weights to the parent's ``init_cfg``)."""

    def __init__(self,
                 in_channels: int,
                 skip_channels: int,
                 num_convs: int,
                 act_cfg: dict,
                 skip_init: Optional[str] = None):
        super().__init__()
        self.skip_init = skip_init
        self.upsample = nn.ConvTranspose2d(in_channels, skip_channels, 2, stride=2, bias=False)
        self.convs = ISOConvBlock(2 * skip_channels, skip_channels, num_convs, act_cfg)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        return self.convs(torch.cat([self.upsample(x), skip], dim=1))

    def init_weights(self) -> None:
        """With ``skip_init='sum'``, the first conv, which reads ``[up(x), skip]``, to ``(up(x) +
        skip) / sqrt(2)`` at its centre tap
        (:func:`~isonet_det.models.initializers.concat_delta_init_`); otherwise nothing. mmengine
        calls it after :class:`ISOUNet`'s ``init_cfg`` (the Delta), once."""
        if self.skip_init == 'sum':
            concat_delta_init_(self.convs[0].weight, parts=2)


@MODELS.register_module()
class ISOUNet(BaseModule):
    """ISO-UNet backbone (no normalisation layer anywhere, and no biases, as ISONet).

    Init of the skip connections: the first conv of each decoder block reads ``[up(x), skip]``
    (2C channels) and writes C. Delta on it is the identity on the up-sampled half only, so every
    skip, which carries the encoder's high-resolution detail, starts at zero weight and must be
    opened by its gradient. ISO-UNet gives that conv the centre tap ``[I, I] / sqrt(2)`` instead
    (``skip_init='sum'``): ``(up + skip) / sqrt(2)``, both halves through, norm-preserving for
    uncorrelated halves; its rows are orthonormal, so the regulariser is still 0 at init.

    Args:
        in_channels: input image channels (1 for single-channel scans). Default: 3.
        base_channels: width of the first encoder block. Default: 64.
        num_stages: encoder blocks (the decoder has one fewer). Default: 5.
        enc_num_convs: 3x3 convs per encoder block (an int, or one per block). Default: 2.
        dec_num_convs: 3x3 convs per decoder block (an int, or one per block). Default: 2.
        act_cfg: the activation after every conv; SReLU gets one threshold per channel,
            initialised at -1. Default: ``dict(type='SReLU')``.
        with_cp: recompute each block in the backward instead of keeping its activations.
        skip_init: the default init of each decoder block's first conv (with ``init_cfg=None``
            only): ``'sum'`` (default), ``(up + skip) / sqrt(2)`` at the centre tap (see above);
            ``'zero'``, the previous default, plain Delta: the identity on the up-sampled half,
            the skip half at zero.
        norm_cfg: must be ``None``; accepted so that a config switched from MMSegmentation's
            ``UNet`` fails with a clear error instead of an unknown-argument one.
        init_cfg: ``None`` for the reference init (Delta on every conv and transposed conv,
            :func:`~isonet_det.models.initializers.upsample_delta_init_` for the latter, then
            ``skip_init`` on the decoder's first convs; the stem conv, which reads the image,
            keeps PyTorch's default init, as in ISONet), or any mmengine ``init_cfg`` (e.g.
            ``Pretrained``; ``skip_init`` is then not applied).
    """

    def __init__(self,
                 in_channels: int = 3,
                 base_channels: int = 64,
                 num_stages: int = 5,
                 enc_num_convs=2,
                 dec_num_convs=2,
                 act_cfg: dict = dict(type='SReLU'),
                 with_cp: bool = False,
                 skip_init: str = 'sum',
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
        if skip_init not in SKIP_INITS:
            raise ValueError(f'skip_init must be one of {SKIP_INITS}, got {skip_init!r}')
        enc_num_convs = self._per_block('enc_num_convs', enc_num_convs, num_stages)
        dec_num_convs = self._per_block('dec_num_convs', dec_num_convs, num_stages - 1)
        # the decoder blocks' own init step runs after this init_cfg (mmengine: parent, then
        # children), on the default init only: never over a Pretrained or the user's init
        block_skip_init = skip_init if init_cfg is None else None
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
        self.skip_init = skip_init
        widths = [base_channels * 2**i for i in range(num_stages)]
        self.encoder = nn.ModuleList()
        for i, width in enumerate(widths):
            self.encoder.append(
                ISOConvBlock(in_channels if i == 0 else widths[i - 1], width, enc_num_convs[i],
                             act_cfg))
        self.pool = nn.MaxPool2d(2)
        # decoder[i] joins the output of encoder block i + 1 (or of decoder[i + 1]) with block i
        # mmengine's ModuleList, so that init_weights reaches the blocks' skip init
        self.decoder = ModuleList(
            ISOUpBlock(widths[i + 1], widths[i], dec_num_convs[i], act_cfg, block_skip_init)
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
