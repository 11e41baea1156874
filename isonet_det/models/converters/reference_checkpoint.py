"""Convert the reference ISONet / R-ISONet ImageNet checkpoints to this package's key names.

Reference format (Qi et al.'s classification code): ``torch.save({'net': state_dict})`` of an
``nn.DataParallel`` model, so every key starts with ``module.``::

    stem.conv.weight                  -> conv1.weight
    stem.relu.srelu_bias (1,C,1,1)    -> act1.srelu_bias (C,)
    s{i}.b{j}.proj.weight             -> layer{i}.{j'}.downsample.weight
    s{i}.b{j}.f.{a,b,c}.weight        -> layer{i}.{j'}.conv{1,2,3}.weight
    s{i}.b{j}.f.{a,b}_relu.srelu_bias -> layer{i}.{j'}.act{1,2}.srelu_bias
    s{i}.b{j}.f.shared_scalar.scale   -> layer{i}.{j'}.residual_scale.scale ()
    s{i}.b{j}.relu.srelu_bias         -> layer{i}.{j'}.act_out.srelu_bias
    head.*                            -> dropped (classifier)

``j'`` numbers the blocks of a stage from 0 in the order of ``j``.
"""
import re
from collections import OrderedDict, defaultdict
from typing import Dict, Optional, Tuple

from torch import Tensor

from ..backbones.isonet import IsometricBottleneck, ISONet, RISONet

_BLOCK_KEY = re.compile(r'^s(\d+)\.b(\d+)\.(.+)$')
_BLOCK_PARTS = {
    'proj.weight': 'downsample.weight',
    'f.a.weight': 'conv1.weight',
    'f.b.weight': 'conv2.weight',
    'f.c.weight': 'conv3.weight',
    'f.a_relu.srelu_bias': 'act1.srelu_bias',
    'f.b_relu.srelu_bias': 'act2.srelu_bias',
    'f.shared_scalar.scale': 'residual_scale.scale',
    'relu.srelu_bias': 'act_out.srelu_bias',
}
_STEM = {'stem.conv.weight': 'conv1.weight', 'stem.relu.srelu_bias': 'act1.srelu_bias'}
VARIANTS = {'ISONet': ISONet, 'RISONet': RISONet}


def _reference_state_dict(checkpoint) -> Dict[str, Tensor]:
    state = checkpoint.get('net', checkpoint.get('state_dict')) if isinstance(
        checkpoint, dict) and ('net' in checkpoint or 'state_dict' in checkpoint) else checkpoint
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError("not a reference ISONet checkpoint: expected {'net': state_dict}")
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def infer_arch(state: Dict[str, Tensor]) -> Tuple[str, int]:
    """``(variant, depth)`` of a reference state dict (keys without ``module.``)."""
    blocks = defaultdict(set)
    for key in state:
        m = _BLOCK_KEY.match(key)
        if m:
            blocks[int(m.group(1))].add(int(m.group(2)))
    stage_blocks = tuple(len(blocks[i]) for i in sorted(blocks))
    bottleneck = any(k.endswith('.f.c.weight') for k in state)
    residual = any(k.endswith(('.proj.weight', '.shared_scalar.scale')) for k in state)
    variant = 'RISONet' if residual else 'ISONet'
    for depth, (block, stages) in ISONet.arch_settings.items():
        if stages == stage_blocks and (block is IsometricBottleneck) == bottleneck:
            return variant, depth
    raise ValueError(f'no ISONet depth has {stage_blocks} blocks per stage with '
                     f'{"bottleneck" if bottleneck else "basic"} blocks')


def parse_arch(arch: str) -> Tuple[str, int]:
    """'RISONet-50', 'risonet50', 'ISONet_18' -> ('RISONet', 50)."""
    m = re.fullmatch(r'(r?-?isonet)[-_]?(\d+)', arch.strip().lower())
    if not m:
        raise ValueError(f'arch must look like RISONet-50 or ISONet-18, got {arch!r}')
    return ('RISONet' if m.group(1).startswith('r') else 'ISONet'), int(m.group(2))


def convert_reference_checkpoint(checkpoint, arch: Optional[str] = None) -> Tuple[OrderedDict, str]:
    """Reference checkpoint -> (backbone state dict for ``init_cfg=Pretrained``, arch name).

    Raises ``ValueError`` naming the keys when the checkpoint does not match ``arch`` (or the
    architecture its keys imply): missing, unexpected and wrongly shaped keys.
    """
    state = _reference_state_dict(checkpoint)
    variant, depth = parse_arch(arch) if arch else infer_arch(state)
    stage_block_ids = defaultdict(set)
    for key in state:
        m = _BLOCK_KEY.match(key)
        if m:
            stage_block_ids[int(m.group(1))].add(int(m.group(2)))
    block_index = {(s, j): i
                   for s, ids in stage_block_ids.items() for i, j in enumerate(sorted(ids))}

    expected = VARIANTS[variant](depth=depth).state_dict()
    converted, unknown = OrderedDict(), []
    for key, value in state.items():
        if key.startswith('head.'):
            continue
        if key in _STEM:
            name = _STEM[key]
        else:
            m = _BLOCK_KEY.match(key)
            if not m or m.group(3) not in _BLOCK_PARTS:
                unknown.append(key)
                continue
            stage, block = int(m.group(1)), block_index[int(m.group(1)), int(m.group(2))]
            name = f'layer{stage}.{block}.{_BLOCK_PARTS[m.group(3)]}'
        reshaped = name.endswith(('srelu_bias', 'residual_scale.scale'))
        if reshaped and name in expected and value.numel() == expected[name].numel():
            value = value.reshape(expected[name].shape)  # (1, C, 1, 1) -> (C,); (1,1,1,1) -> ()
        converted[name] = value

    missing = [k for k in expected if k not in converted]
    unexpected = unknown + [k for k in converted if k not in expected]
    shapes = [
        f'{k} {tuple(converted[k].shape)} != {tuple(v.shape)}' for k, v in expected.items()
        if k in converted and converted[k].shape != v.shape
    ]
    if missing or unexpected or shapes:

        def head(keys):
            return ', '.join(keys[:8]) + (f' ... ({len(keys)} in all)' if len(keys) > 8 else '')

        problems = [
            f'missing {head(missing)}' if missing else '',
            f'unexpected {head(unexpected)}' if unexpected else '',
            f'wrong shape {head(shapes)}' if shapes else ''
        ]
        raise ValueError(f'checkpoint does not match {variant}-{depth}: ' +
                         '; '.join(p for p in problems if p))
    return converted, f'{variant}-{depth}'
