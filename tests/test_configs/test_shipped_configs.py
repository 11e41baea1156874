"""Every shipped config builds its detector and runs one loss and one predict step."""
import glob
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.config import Config

ROOT = osp.join(osp.dirname(__file__), '..', '..')
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)
ISONET_CONFIGS = [p for p in CONFIGS if 'baselines' not in p]


def test_the_expected_configs_ship():
    names = {osp.relpath(p, osp.join(ROOT, 'configs')) for p in CONFIGS}
    for model in ('faster-rcnn', 'mask-rcnn'):
        for depth in (50, 101):
            assert any(n.startswith(f'risonet/{model}_risonet{depth}_fpn_1x') for n in names)
            assert any(n.startswith(f'risonet/{model}_risonet{depth}_fpn_ms') for n in names)
        assert f'isonet/{model}_isonet50_fpn_1x_coco.py' in names
        assert f'baselines/{model}_r50_fpn_1x_coco.py' in names
    assert 'demo/mask-rcnn_risonet18_fpn_shapes.py' in names


@pytest.mark.parametrize('path', ISONET_CONFIGS, ids=lambda p: osp.basename(p))
def test_isonet_configs_enable_the_method(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['isonet_det']
    hooks = [h for h in cfg.custom_hooks if h.type == 'IsometryRegularizerHook']
    assert len(hooks) == 1 and hooks[0].coeff == 1e-4 and hooks[0].module == 'backbone'
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert keys['srelu'] == dict(decay_mult=0.0) and keys['residual_scale'] == dict(lr_mult=0.1)
    assert cfg.model.backbone.type in ('ISONet', 'RISONet')
    assert 'norm_cfg' not in cfg.model.backbone and 'auto_scale_lr' in cfg


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.basename(p))
def test_config_builds_and_runs_loss_and_predict(path):
    register_all_modules()
    cfg = Config.fromfile(path)
    if 'custom_imports' in cfg:
        __import__('isonet_det')
    model = MODELS.build(cfg.model)
    with_mask = 'mask_head' in cfg.model.get('roi_head', {})
    num_classes = cfg.model.roi_head.bbox_head.num_classes
    packed = demo_mm_inputs(2, [(3, 128, 160), (3, 160, 128)], num_items=[3, 2],
                            num_classes=num_classes, with_mask=with_mask)
    model.train()
    losses = model(**model.data_preprocessor(packed, True), mode='loss')
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    if with_mask:
        assert 'loss_mask' in losses
    total.backward()
    model.eval()
    with torch.no_grad():
        results = model(**model.data_preprocessor(packed, False), mode='predict')
    assert len(results) == 2 and hasattr(results[0], 'pred_instances')
    if with_mask:
        assert 'masks' in results[0].pred_instances
