"""ISONet and R-ISONet backbones (Qi et al., "Deep Isometric Learning for Visual Recognition",
ICML 2020), shaped like mmdet's ``ResNet`` so that FPN necks and detector configs use them as is.

No normalisation layer and no conv bias anywhere. Activations are SReLU (eq. 7). Blocks:

- ISONet (Sec. 3.2):     ``y = SReLU(f(x))``                       (no shortcut)
- R-ISONet (Sec. 3.3):   ``y = SReLU(shortcut(x) + s * f(x))``     (eq. 8, ``s`` init 0)

with ``f`` = conv3x3 -> SReLU -> conv3x3 (depth 18/34) or conv1x1 -> SReLU -> conv3x3 -> SReLU ->
conv1x1 (depth 50/101/152, stride on the 3x3), and ``shortcut`` the identity or a bias-free 1x1
strided conv when the shape changes. Default init is the reference's: Delta on every conv but the
7x7 stem (which keeps PyTorch's default), SReLU thresholds -1, residual scales 0.
"""
import warnings
from typing import Optional, Sequence, Tuple

import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from mmengine.registry import MODELS  # the root registry: found from every OpenMMLab scope
from torch import Tensor

from ..layers import SharedScale
from ..utils import build_activation, conv1x1, conv3x3, pytorch_default_init

# Arguments of mmdet's ResNet that a stock config passes (through config inheritance) and that
# mean nothing in a network without normalisation: accepted with one warning at their stock
# values, refused with an explanation otherwise.
_RESNET_ONLY_DEFAULTS = dict(
    style='pytorch',
    norm_eval=None,
    conv_cfg=None,
    dcn=None,
    stage_with_dcn=None,
    plugins=None,
    deep_stem=False,
    avg_down=False,
    zero_init_residual=None,
    contract_dilation=False)
_EXTERNAL_WEIGHTS = ('torchvision://', 'open-mmlab://', 'openmmlab://', 'modelzoo://', 'mmcls://')


def _check_resnet_only_arguments(name: str, norm_cfg, resnet_kwargs: dict) -> None:
    """Warn once about ResNet arguments that are ignored; raise on those that cannot be."""
    if norm_cfg is not None and norm_cfg.get('type') not in ('BN', 'SyncBN'):
        raise ValueError(
            f'{name} has no normalisation layers, so norm_cfg={norm_cfg} cannot be honoured. '
            'Remove norm_cfg, or replace the inherited ResNet backbone as a whole with '
            f"backbone=dict(_delete_=True, type='{name}', ...)")
    ignored = ['norm_cfg'] if norm_cfg is not None else []
    for key, value in resnet_kwargs.items():
        if key in ('norm_eval', 'zero_init_residual', 'conv_cfg'):
            ignored.append(key)
        elif key == 'style' and value != 'pytorch':
            raise ValueError(f"{name} puts the stride on the 3x3 conv (style='pytorch'); "
                             f'style={value!r} is not supported')
        elif key == 'stage_with_dcn' and not any(value):
            ignored.append(key)
        elif value == _RESNET_ONLY_DEFAULTS[key] or (key == 'style' and value == 'pytorch'):
            ignored.append(key)
        else:
            raise ValueError(f'{name} does not support {key}={value!r} (a ResNet option). Remove '
                             f"it, or use backbone=dict(_delete_=True, type='{name}', ...) to "
                             'drop what the ResNet config set')
    if ignored:
        warnings.warn(f'{name}: ignoring ResNet-only argument(s) {sorted(ignored)} (inherited '
                      'from a ResNet config?): this backbone has no normalisation, its stride is '
                      "on the 3x3 conv and its residual branches start at 0. Use backbone=dict("
                      f"_delete_=True, type='{name}', ...) to silence this.")


def _check_not_external_resnet_weights(name: str, init_cfg) -> None:
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    for cfg in cfgs:
        checkpoint = cfg.get('checkpoint') if isinstance(cfg, dict) else None
        if isinstance(checkpoint, str) and checkpoint.startswith(_EXTERNAL_WEIGHTS):
            raise ValueError(
                f'{name}: init_cfg checkpoint {checkpoint!r} holds ResNet weights (with BN '
                'layers), which do not fit this backbone. Use init_cfg=None for the reference '
                'initialisation (training from scratch), or convert a reference ISONet/R-ISONet '
                'ImageNet checkpoint with tools/model_converters/isonet2mmdet.py and pass '
                "init_cfg=dict(type='Pretrained', checkpoint=<converted file>)")


class IsometricBlock(BaseModule):
    """Shared wiring of the basic and bottleneck blocks: shortcut, scale, output SReLU."""

    expansion = 1

    def __init__(self,
                 in_channels: int,
                 planes: int,
                 stride: int,
                 residual: bool,
                 act_cfg: dict,
                 residual_scale_init: float,
                 with_cp: bool,
                 init_cfg=None):
        super().__init__(init_cfg)
        out_channels = planes * self.expansion
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.residual, self.with_cp = stride, residual, with_cp
        self.downsample = None
        if residual:
            self.residual_scale = SharedScale(residual_scale_init)
            if stride != 1 or in_channels != out_channels:
                self.downsample = conv1x1(in_channels, out_channels, stride)
        self.act_out = build_activation(act_cfg, out_channels, inplace=True)

    def residual_function(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    @property
    def last_conv(self) -> nn.Conv2d:
        """The conv whose output the residual scale multiplies."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:

        def _inner_forward(x):
            out = self.residual_function(x)
            if self.residual:
                identity = x if self.downsample is None else self.downsample(x)
                out = self.residual_scale.add_scaled(identity, out)
            return self.act_out(out)

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(_inner_forward, x, use_reentrant=False)
        return _inner_forward(x)


class IsometricBasicBlock(IsometricBlock):
    """``f = conv3x3(stride) -> SReLU -> conv3x3`` (depth 18/34)."""

    expansion = 1

    def __init__(self,
                 in_channels,
                 planes,
                 stride=1,
                 dilation=1,
                 residual=True,
                 act_cfg=dict(type='SReLU'),
                 residual_scale_init=0.0,
                 with_cp=False,
                 init_cfg=None):
        super().__init__(in_channels, planes, stride, residual, act_cfg, residual_scale_init,
                         with_cp, init_cfg)
        self.conv1 = conv3x3(in_channels, planes, stride, dilation)
        self.act1 = build_activation(act_cfg, planes, inplace=True)
        self.conv2 = conv3x3(planes, planes, 1, dilation)

    def residual_function(self, x: Tensor) -> Tensor:
        return self.conv2(self.act1(self.conv1(x)))

    @property
    def last_conv(self) -> nn.Conv2d:
        return self.conv2


class IsometricBottleneck(IsometricBlock):
    """``f = conv1x1 -> SReLU -> conv3x3(stride) -> SReLU -> conv1x1`` (depth 50/101/152)."""

    expansion = 4

    def __init__(self,
                 in_channels,
                 planes,
                 stride=1,
                 dilation=1,
                 residual=True,
                 act_cfg=dict(type='SReLU'),
                 residual_scale_init=0.0,
                 with_cp=False,
                 init_cfg=None):
        super().__init__(in_channels, planes, stride, residual, act_cfg, residual_scale_init,
                         with_cp, init_cfg)
        self.conv1 = conv1x1(in_channels, planes)
        self.act1 = build_activation(act_cfg, planes, inplace=True)
        self.conv2 = conv3x3(planes, planes, stride, dilation)
        self.act2 = build_activation(act_cfg, planes, inplace=True)
        self.conv3 = conv1x1(planes, planes * self.expansion)

    def residual_function(self, x: Tensor) -> Tensor:
        return self.conv3(self.act2(self.conv2(self.act1(self.conv1(x)))))

    @property
    def last_conv(self) -> nn.Conv2d:
        return self.conv3


@MODELS.register_module()
class ISONet(BaseModule):
    """ISONet backbone: no shortcut, no normalisation (Qi et al. 2020, Sec. 3.2).

    Args:
        depth: one of 18, 34, 50, 101, 152.
        in_channels: input image channels. Default: 3.
        stem_channels: stem conv width; ``None`` means ``base_channels``.
        base_channels: width of the first stage (before expansion). Default: 64.
        num_stages: 1 to 4. Default: 4.
        strides: stride of the first block of each stage. Default: (1, 2, 2, 2).
        dilations: dilation of the 3x3 convs of each stage. Default: (1, 1, 1, 1). Both take
            ``num_stages`` entries, or 4 of which the first ``num_stages`` are used.
        out_indices: stages whose output ``forward`` returns. Default: (0, 1, 2, 3).
        frozen_stages: freeze the stem (0) and stages 1..n (requires_grad False, eval mode);
            -1 freezes nothing.
        act_cfg: activation config; SReLU gets ``num_channels`` (per-channel thresholds).
        with_cp: gradient checkpointing per block (saves memory, costs a second forward).
        pretrained: deprecated, use ``init_cfg=dict(type='Pretrained', checkpoint=...)``.
        init_cfg: ``None`` for the reference init (Delta on every conv but the stem), or
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')`` (a converted
            reference checkpoint, or the backbone of a detector checkpoint). ResNet weights
            (``torchvision://``, ``open-mmlab://``) are refused: they do not fit.
        stem_type: ``'imagenet'`` (default: conv 7x7 stride 2, SReLU, 3x3 max pooling stride 2,
            the reference) or ``'cifar'`` (conv 3x3 stride 1, SReLU, no pooling: the stem of
            MMPretrain's ``ResNet_CIFAR`` for 32 x 32 images; the stages then see H, H/2, ...).
        norm_cfg, style, norm_eval, zero_init_residual, conv_cfg, dcn, stage_with_dcn, plugins,
            deep_stem, avg_down, contract_dilation: ResNet arguments a stock config passes;
            accepted with one warning at their stock values (this network has no
            normalisation), refused with an explanation otherwise.

    ``forward``: ``(N, in_channels, H, W)`` -> tuple of ``(N, base_channels * 2**i * expansion,
    H / 2**(i+2), W / 2**(i+2))`` for ``i`` in ``out_indices`` (with the default strides).
    """

    residual = False
    block_options: Tuple[str, ...] = ()  # extra block arguments this variant accepts
    arch_settings = {
        18: (IsometricBasicBlock, (2, 2, 2, 2)),
        34: (IsometricBasicBlock, (3, 4, 6, 3)),
        50: (IsometricBottleneck, (3, 4, 6, 3)),
        101: (IsometricBottleneck, (3, 4, 23, 3)),
        152: (IsometricBottleneck, (3, 8, 36, 3)),
    }

    def __init__(self,
                 depth: int,
                 in_channels: int = 3,
                 stem_channels: Optional[int] = None,
                 base_channels: int = 64,
                 num_stages: int = 4,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 act_cfg: dict = dict(type='SReLU', init_value=-1.0),
                 with_cp: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg=None,
                 norm_cfg: Optional[dict] = None,
                 stem_type: str = 'imagenet',
                 **block_kwargs):
        name = type(self).__name__
        resnet_kwargs = {
            k: block_kwargs.pop(k)
            for k in list(block_kwargs) if k in _RESNET_ONLY_DEFAULTS
        }
        unknown = sorted(set(block_kwargs) - set(self.block_options))
        if unknown:
            raise TypeError(f'{name} got unexpected argument(s) {unknown}')
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for {name}; expected one of '
                           f'{sorted(self.arch_settings)}')
        if not 1 <= num_stages <= 4:
            raise ValueError(f'num_stages must be in [1, 4], got {num_stages}')
        if stem_type not in ('imagenet', 'cifar'):
            raise ValueError(f"stem_type must be 'imagenet' or 'cifar', got {stem_type!r}")
        for arg, values in (('strides', strides), ('dilations', dilations)):
            if len(values) not in (num_stages, 4):
                raise ValueError(f'{arg} {tuple(values)} must have num_stages={num_stages} '
                                 'entries (or 4, of which the first num_stages are used)')
        strides, dilations = tuple(strides)[:num_stages], tuple(dilations)[:num_stages]
        out_indices = tuple(out_indices)
        if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
            raise ValueError(f'out_indices {out_indices} out of range for num_stages='
                             f'{num_stages} (valid: 0..{num_stages - 1})')
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'frozen_stages must be in [-1, num_stages={num_stages}], got '
                             f'{frozen_stages}')
        if init_cfg is not None and pretrained is not None:
            raise ValueError('init_cfg and pretrained cannot be given together')
        if pretrained is not None:
            warnings.warn('pretrained is deprecated, use init_cfg=dict(type="Pretrained", '
                          'checkpoint=...)')
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        _check_not_external_resnet_weights(name, init_cfg)
        _check_resnet_only_arguments(name, norm_cfg, resnet_kwargs)
        if init_cfg is None:
            # The reference init: Delta everywhere, the stem re-drawn with PyTorch's default
            # Conv2d init (kaiming_uniform_ with a=sqrt(5)).
            init_cfg = dict(type='Delta', layer='Conv2d', override=pytorch_default_init('conv1'))
        super().__init__(init_cfg)

        self.depth = depth
        self.in_channels = in_channels
        self.stem_channels = stem_channels or base_channels
        self.base_channels = base_channels
        self.num_stages = num_stages
        self.strides, self.dilations = tuple(strides), tuple(dilations)
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp
        self.block, stage_blocks = self.arch_settings[depth]
        self.stage_blocks = stage_blocks[:num_stages]

        self.stem_type = stem_type
        if stem_type == 'imagenet':  # conv7x7/2 -> SReLU -> maxpool3x3/2 (the reference)
            self.conv1 = nn.Conv2d(
                in_channels, self.stem_channels, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:  # conv3x3/1 -> SReLU, no pooling (MMPretrain's ResNet_CIFAR stem, for 32 px)
            self.conv1 = conv3x3(in_channels, self.stem_channels)
            self.maxpool = nn.Identity()
        self.act1 = build_activation(act_cfg, self.stem_channels, inplace=True)

        self.res_layers = []
        channels = self.stem_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base_channels * 2**i
            blocks = []
            for j in range(num_blocks):
                blocks.append(
                    self.block(
                        channels,
                        planes,
                        stride=self.strides[i] if j == 0 else 1,
                        dilation=self.dilations[i],
                        residual=self.residual,
                        act_cfg=act_cfg,
                        with_cp=with_cp,
                        **block_kwargs))
                channels = planes * self.block.expansion
            layer_name = f'layer{i + 1}'
            self.add_module(layer_name, nn.Sequential(*blocks))
            self.res_layers.append(layer_name)
        self.feat_dim = channels
        self._freeze_stages()

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of each returned feature map, in ``forward``'s order (stage order), for
        FPN's ``in_channels``."""
        return tuple(self.base_channels * 2**i * self.block.expansion
                     for i in sorted(set(self.out_indices)))

    def stem_convs(self) -> Tuple[nn.Conv2d, ...]:
        """Convs that read the image (the regulariser skips them, as the reference does)."""
        return (self.conv1, )

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        modules = [self.conv1, self.act1]
        modules += [getattr(self, f'layer{i}') for i in range(1, self.frozen_stages + 1)]
        for m in modules:
            m.eval()
            for param in m.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.maxpool(self.act1(self.conv1(x)))
        outs = []
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


@MODELS.register_module()
class RISONet(ISONet):
    """R-ISONet backbone: ISONet blocks plus a scaled shortcut (Qi et al. 2020, Sec. 3.3).

    Takes every ``ISONet`` argument plus ``residual_scale_init`` (initial value of the per-block
    scalar ``s`` in ``SReLU(shortcut(x) + s * f(x))``; default 0, as the reference).
    """

    residual = True
    block_options = ('residual_scale_init', )

    def __init__(self, depth: int, residual_scale_init: float = 0.0, **kwargs):
        super().__init__(depth, residual_scale_init=residual_scale_init, **kwargs)
