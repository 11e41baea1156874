"""Building blocks the package's backbones share: conv shapes without bias, activations built
from ``act_cfg`` with their channel count, and the reference's stem init."""
import inspect
import math

import torch.nn as nn
from mmengine.registry import MODELS

__all__ = ['pytorch_default_init', 'build_activation', 'conv3x3', 'conv1x1']


def pytorch_default_init(name: str) -> dict:
    """An ``init_cfg`` override that re-draws the conv ``name`` with PyTorch's default Conv2d
    init (``kaiming_uniform_`` with ``a=sqrt(5)``): what the reference keeps on the stem."""
    return dict(
        name=name,
        type='Kaiming',
        a=math.sqrt(5),
        mode='fan_in',
        nonlinearity='leaky_relu',
        distribution='uniform')


def build_activation(act_cfg: dict, num_channels: int, inplace: bool = False) -> nn.Module:
    """Build ``act_cfg``, passing ``num_channels`` when the layer takes it (SReLU does), and
    ``inplace=True`` when asked and the layer takes it (as mmdet's ResNet builds its ReLUs):
    every activation of these backbones reads a fresh tensor that nothing else keeps."""
    cfg = dict(act_cfg)
    layer_cls = cfg['type'] if inspect.isclass(cfg['type']) else MODELS.get(cfg['type'])
    if layer_cls is None:
        raise KeyError(f"act_cfg type {cfg['type']!r} is not a registered activation")
    if 'num_channels' in inspect.signature(layer_cls).parameters:
        cfg.setdefault('num_channels', num_channels)
    if inplace and 'inplace' in inspect.signature(layer_cls).parameters:
        cfg.setdefault('inplace', True)
    cfg['type'] = layer_cls
    return MODELS.build(cfg)


def conv3x3(in_channels, out_channels, stride=1, dilation=1) -> nn.Conv2d:
    return nn.Conv2d(
        in_channels,
        out_channels,
        3,
        stride=stride,
        padding=dilation,
        dilation=dilation,
        bias=False)


def conv1x1(in_channels, out_channels, stride=1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
