"""The backbones the detector comparison (``tools/analysis/compare_detectors.py``) puts into the
demo's Mask R-CNN + FPN, and the config of one run: every arm changes only the backbone (depth 18,
stage widths 32 / 64 / 128 / 256, so the FPN and heads are the same) and what belongs to it."""
import copy
import os.path as osp
from typing import Optional

# the demo config as the package ships it (isonet_det/.mim/configs: a link to configs/ in a
# checkout, a copy in a wheel)
DEMO_CONFIG = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim', 'configs', 'demo',
    'mask-rcnn_risonet18_fpn_shapes.py')
STAGES = dict(depth=18, base_channels=32, out_indices=(0, 1, 2, 3), frozen_stages=-1)
KAIMING = dict(
    type='Kaiming', layer='Conv2d', mode='fan_in', nonlinearity='relu', distribution='normal')
RESNET = dict(
    type='ResNet', num_stages=4, style='pytorch', norm_eval=False, init_cfg=None, **STAGES)
# arm -> (backbone, isometry regulariser coefficient: 0 = no hook)
ARMS = {
    'risonet': (dict(type='RISONet', **STAGES), 1e-4),
    'risonet_noreg': (dict(type='RISONet', **STAGES), 0.0),
    'risonet_reg1e-3': (dict(type='RISONet', **STAGES), 1e-3),
    'isonet': (dict(type='ISONet', **STAGES), 1e-4),
    'resnet_bn': (dict(RESNET, norm_cfg=dict(type='BN', requires_grad=True)), 0.0),
    'resnet_gn': (dict(RESNET, norm_cfg=dict(type='GN', num_groups=8, requires_grad=True)), 0.0),
    'skipinit': (dict(
        type='RISONet',
        act_cfg=dict(type='ReLU'),
        init_cfg=KAIMING,
        residual_scale_init=0.0,
        **STAGES), 0.0),
    'nf_resnet': (dict(
        type='mmpretrain.TIMMBackbone',
        model_name='nf_resnet26',
        features_only=True,
        pretrained=False,
        out_indices=(1, 2, 3, 4),
        channels=(32, 64, 128, 256),
        stem_chs=32,
        bottle_ratio=1.25), 0.0),
}
# the arms whose backbone convs the regulariser can act on: their orthogonality error is reported
ISOMETRIC = tuple(arm for arm, (backbone, _) in ARMS.items()
                  if backbone['type'] in ('ISONet', 'RISONet'))


def backbone_paramwise_cfg(lr_mult: float) -> dict:
    """The demo's optimizer policy (SReLU thresholds without weight decay, residual scales at 0.1x
    lr) with every backbone parameter's learning rate times ``lr_mult``. mmengine applies only the
    longest key a parameter's name contains, so the two backbone-only keys are longer than
    ``'backbone'`` (``'srelu_bias'``, not ``'srelu'``) and carry the multiplier themselves."""
    return dict(
        custom_keys={
            'backbone': dict(lr_mult=lr_mult),
            'srelu_bias': dict(decay_mult=0.0, lr_mult=lr_mult),
            'residual_scale': dict(lr_mult=0.1 * lr_mult),
        })


def arm_config(arm: str,
               lr: float,
               seed: int,
               epochs: int,
               data: str,
               num_train: Optional[int] = None,
               val_interval: int = 1,
               log_interval: int = 50,
               backbone_lr_mult: float = 1.0,
               val_split: str = 'val',
               test_split: Optional[str] = None):
    """The demo config (mmengine ``Config``) with ``arm``'s backbone (and regulariser hook), ``lr``
    (the backbone's times ``backbone_lr_mult``), ``seed`` and an ``epochs``-long schedule, on the
    dataset at ``data`` (its first ``num_train`` training images; all if None), evaluated on its
    ``val_split`` (``'val'``, or ``'tune'`` while choosing settings) and, for ``tools/test.py``,
    on its ``test_split`` (``val_split`` if None), no dataloader workers and one checkpoint at the
    end."""
    from mmengine.config import Config
    backbone, coeff = ARMS[arm]
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.model.backbone = backbone
    if backbone['type'].startswith('mmpretrain.'):  # registers TIMMBackbone under 'mmpretrain'
        cfg.custom_imports.imports = list(cfg.custom_imports.imports) + ['mmpretrain.models']
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'IsometryRegularizerHook']
    if coeff:
        cfg.custom_hooks.insert(
            0, dict(type='IsometryRegularizerHook', coeff=coeff, module='backbone'))
    cfg.optim_wrapper.optimizer.lr = lr
    cfg.optim_wrapper.paramwise_cfg = backbone_paramwise_cfg(backbone_lr_mult)
    cfg.randomness = dict(seed=seed)
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = val_interval
    cfg.param_scheduler[1].end = epochs
    cfg.param_scheduler[1].milestones = [max(1, epochs - 1)] if epochs > 1 else []
    cfg.default_hooks.logger.interval = log_interval
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=epochs, max_keep_ckpts=1)
    for loader, num in ((cfg.train_dataloader, num_train), (cfg.val_dataloader, None)):
        loader.dataset.data_root = data
        loader.num_workers = 0
        if num:
            loader.dataset.indices = num
    cfg.test_dataloader, cfg.test_evaluator = copy.deepcopy(cfg.val_dataloader), copy.deepcopy(
        cfg.val_evaluator)
    for loader, evaluator, split in ((cfg.val_dataloader, cfg.val_evaluator, val_split),
                                     (cfg.test_dataloader, cfg.test_evaluator, test_split
                                      or val_split)):
        loader.dataset.ann_file = f'annotations/instances_{split}.json'
        loader.dataset.data_prefix = dict(img=f'{split}/')
        evaluator.ann_file = osp.join(data, 'annotations', f'instances_{split}.json')
    return cfg
