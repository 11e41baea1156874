"""The backbones the detector comparison (``tools/analysis/compare_detectors.py``) puts into the
demo's Mask R-CNN + FPN, and the config of one run: every arm changes only the backbone (depth 18,
stage widths 32 / 64 / 128 / 256, so the FPN and heads are the same) and what belongs to it."""
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
# arm -> (family, backbone, regulariser hook on); an arm's family shares its learning rate
ARMS = {
    'risonet': ('risonet', dict(type='RISONet', **STAGES), True),
    'risonet_noreg': ('risonet', dict(type='RISONet', **STAGES), False),
    'isonet': ('isonet', dict(type='ISONet', **STAGES), True),
    'resnet_bn': ('resnet_bn', dict(RESNET, norm_cfg=dict(type='BN', requires_grad=True)), False),
    'resnet_gn':
    ('resnet_gn', dict(RESNET, norm_cfg=dict(type='GN', num_groups=8, requires_grad=True)), False),
    'skipinit': ('skipinit',
                 dict(
                     type='RISONet',
                     act_cfg=dict(type='ReLU'),
                     init_cfg=KAIMING,
                     residual_scale_init=0.0,
                     **STAGES), False),
    'nf_resnet': ('nf_resnet',
                  dict(
                      type='mmpretrain.TIMMBackbone',
                      model_name='nf_resnet26',
                      features_only=True,
                      pretrained=False,
                      out_indices=(1, 2, 3, 4),
                      channels=(32, 64, 128, 256),
                      stem_chs=32,
                      bottle_ratio=1.25), False),
}
REFERENCE_ARM = 'resnet_bn'


def arm_config(arm: str,
               lr: float,
               seed: int,
               epochs: int,
               data: str,
               num_train: Optional[int] = None,
               val_interval: int = 1,
               log_interval: int = 50):
    """The demo config (mmengine ``Config``) with ``arm``'s backbone (and regulariser hook and
    optimizer policy), ``lr``, ``seed`` and an ``epochs``-long schedule, on the dataset at
    ``data`` (its first ``num_train`` training images; all if None), no dataloader workers and one
    checkpoint at the end."""
    from mmengine.config import Config
    family, backbone, hook = ARMS[arm]
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.model.backbone = backbone
    if backbone['type'].startswith('mmpretrain.'):  # registers TIMMBackbone under 'mmpretrain'
        cfg.custom_imports.imports = list(cfg.custom_imports.imports) + ['mmpretrain.models']
    cfg.custom_hooks = [
        h for h in cfg.custom_hooks if hook or h['type'] != 'IsometryRegularizerHook'
    ]
    cfg.optim_wrapper.optimizer.lr = lr
    if family == 'isonet':
        cfg.optim_wrapper.paramwise_cfg = cfg.isonet_plain_paramwise_cfg
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
    cfg.val_evaluator.ann_file = osp.join(data, 'annotations', 'instances_val.json')
    cfg.test_dataloader, cfg.test_evaluator = cfg.val_dataloader, cfg.val_evaluator
    return cfg
