"""Smoke runs of shipped configs: a few dozen iterations on generated data at reduced size.

A config's recipe (model, optimizer, learning rate, gradient clipping, paramwise policy,
regulariser hook, initialisation) is kept; what needs COCO or a download is replaced:

- the data: the generated shapes dataset (3 classes), images resized to ``image_size``, batch 2;
- ``init_cfg=dict(type='Pretrained')`` of an ISONet/R-ISONet backbone: a checkpoint written here
  from the reference initialisation, in the converter's format; ResNet weights from the model zoo
  (``torchvision://``) cannot be downloaded, so those backbones start from their default init;
- the schedule: the config's linear warm-up compressed to the first third of the run, then its
  base learning rate;
- the sizes that scale with the images: at most 1000 RPN proposals before NMS and 300 after, 128
  sampled RoIs per image (COCO configs: 2000 / 1000 / 512).

The run passes when every loss is finite and the mean loss of the last 5 iterations is below
that of the first 5.
"""
import copy
import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from mmengine.config import Config

from ..datasets import CATEGORIES, generate_shapes_dataset
from ..utils import iter_dicts

__all__ = ['SmokeResult', 'smoke_run', 'make_smoke_data']


@dataclass
class SmokeResult:
    config: str
    iters: int
    seconds_per_iter: float
    first_loss: float  # mean of the first 5 iterations
    last_loss: float  # mean of the last 5 iterations
    finite: bool
    isometry_reg: Optional[float]  # last logged value, if the config has the hook

    @property
    def passed(self) -> bool:
        return self.finite and self.last_loss < self.first_loss


def make_smoke_data(root: str, image_size: int = 128, seed: int = 0) -> str:
    """The generated shapes data the smoke runs train on (written once per ``root``)."""
    generate_shapes_dataset(root, num_train=24, num_val=4, image_size=image_size, seed=seed)
    return root


def _pretrained_backbone_checkpoint(backbone_cfg: dict, path: str) -> str:
    from mmdet.registry import MODELS
    cfg = copy.deepcopy(backbone_cfg)
    cfg.pop('init_cfg', None)
    backbone = MODELS.build(cfg)
    backbone.init_weights()
    torch.save({'state_dict': backbone.state_dict(), 'meta': dict(arch='smoke')}, path)
    return path


def smoke_config(config: str,
                 data_root: str,
                 work_dir: str,
                 iters: int = 30,
                 image_size: int = 128,
                 seed: int = 0) -> Config:
    """The config of a smoke run of ``config`` (see the module docstring)."""
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    with_mask = 'mask_head' in cfg.model.get('roi_head', {})
    cfg.model.roi_head.bbox_head.num_classes = len(CATEGORIES)
    if with_mask:
        cfg.model.roi_head.mask_head.num_classes = len(CATEGORIES)

    train_cfg = cfg.model.get('train_cfg', {})
    if 'rpn_proposal' in train_cfg:
        train_cfg.rpn_proposal.update(nms_pre=1000, max_per_img=300)
    if 'rcnn' in train_cfg:
        train_cfg.rcnn.sampler.num = 128

    backbone = cfg.model.backbone
    init = backbone.get('init_cfg')
    if (isinstance(init, dict) and init.get('type') == 'Pretrained'
            and backbone.type in ('ISONet', 'RISONet')):
        init.checkpoint = _pretrained_backbone_checkpoint(backbone.to_dict(),
                                                          osp.join(work_dir, 'backbone_init.pth'))
        init.pop('prefix', None)

    for node in list(iter_dicts(cfg.model)):  # no downloads: URL init_cfgs become the init
        init = node.get('init_cfg')
        checkpoint = init.get('checkpoint') if isinstance(init, dict) else None
        if isinstance(checkpoint, str) and '://' in checkpoint:
            node['init_cfg'] = None

    metainfo = dict(classes=CATEGORIES)
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=with_mask),
        dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs'),
    ]
    cfg.train_dataloader = dict(
        batch_size=2,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        batch_sampler=dict(type='AspectRatioBatchSampler'),
        dataset=dict(
            type='CocoDataset',
            data_root=data_root,
            metainfo=metainfo,
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img='train/'),
            filter_cfg=dict(filter_empty_gt=True),
            pipeline=pipeline))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1)
    for key in ('val_dataloader', 'test_dataloader', 'val_evaluator', 'test_evaluator'):
        cfg[key] = None
    cfg.val_cfg = cfg.test_cfg = None

    warmup = [
        s for s in cfg.get('param_scheduler', [])
        if s.get('type') == 'LinearLR' and not s.get('by_epoch', True)
    ]
    start_factor = warmup[0].get('start_factor', 0.001) if warmup else 1.0
    cfg.param_scheduler = [
        dict(
            type='LinearLR',
            start_factor=start_factor,
            by_epoch=False,
            begin=0,
            end=max(iters // 3, 1))
    ]
    cfg.default_hooks = dict(
        timer=dict(type='IterTimerHook'),
        logger=dict(type='LoggerHook', interval=1),
        param_scheduler=dict(type='ParamSchedulerHook'),
        checkpoint=dict(type='CheckpointHook', interval=-1),
        sampler_seed=dict(type='DistSamplerSeedHook'),
        visualization=dict(type='DetVisualizationHook'))
    # mmengine keeps one visualizer per name for the whole process: under the configs' fixed
    # name every later run in this process would write its scalars and config to the first's folder
    cfg.visualizer['name'] = f'smoke_run:{osp.abspath(work_dir)}'
    cfg.randomness = dict(seed=seed)
    cfg.log_level = 'WARNING'
    cfg.load_from = None
    cfg.resume = False
    cfg.launcher = 'none'
    cfg.pop('auto_scale_lr', None)
    return cfg


def smoke_run(config: str,
              data_root: str,
              work_dir: str,
              iters: int = 30,
              image_size: int = 128,
              seed: int = 0) -> SmokeResult:
    """Train ``config`` for ``iters`` iterations as :func:`smoke_config` sets it up."""
    from mmengine.runner import Runner
    os.makedirs(work_dir, exist_ok=True)
    cfg = smoke_config(config, data_root, work_dir, iters, image_size, seed)
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    elapsed = time.perf_counter() - start
    hub = runner.message_hub
    losses = np.asarray(hub.get_scalar('train/loss').data[0], dtype=float)
    reg = hub.log_scalars.get('train/isometry_reg')
    n = min(5, len(losses) // 2)
    return SmokeResult(
        config=config,
        iters=len(losses),
        seconds_per_iter=elapsed / max(len(losses), 1),
        first_loss=float(losses[:n].mean()),
        last_loss=float(losses[-n:].mean()),
        finite=bool(np.isfinite(losses).all()),
        isometry_reg=float(reg.current()) if reg is not None else None)
