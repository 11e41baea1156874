"""Every shipped detection config builds its detector and runs one loss and one predict step
(the MMSegmentation and MMPretrain configs: test_seg_cls_configs.py)."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.config import Config

ROOT = osp.join(osp.dirname(__file__), '..', '..')
NOT_DETECTION = ('/classification/', '/iso_unet/')
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p and not any(d in p for d in NOT_DETECTION))
ISONET_CONFIGS = [
    p for p in CONFIGS if '/baselines/' not in p and not re.search(r'_r\d+[-_]', osp.basename(p))
]


def test_the_expected_configs_ship():
    names = {osp.relpath(p, osp.join(ROOT, 'configs')) for p in CONFIGS}
    for model in ('faster-rcnn', 'mask-rcnn'):
        for depth in (50, 101):
            assert f'risonet/{model}_risonet{depth}-pretrained_fpn_1x_coco.py' in names
            assert f'risonet/{model}_risonet{depth}-scratch_fpn_gn-all_6x_coco.py' in names
        assert any(n.startswith(f'risonet/{model}_risonet50-pretrained_fpn_ms') for n in names)
        for family in ('pretrained_fpn_1x', 'scratch_fpn_gn-all_6x'):
            assert f'isonet/{model}_isonet50-{family}_coco.py' in names
        assert f'baselines/{model}_r50_fpn_1x_coco.py' in names
        assert f'baselines/{model}_r50-scratch_fpn_gn-all_6x_coco.py' in names
    assert 'demo/mask-rcnn_risonet18_fpn_shapes.py' in names
    for backbone in ('risonet50-scratch', 'r50-scratch'):
        assert f'coco_subset/faster-rcnn_{backbone}_fpn_gn-all_6x_coco-subset-3cls.py' in names
    for backbone in ('risonet50-pretrained_fpn', 'r50_fpn'):
        assert f'coco_subset/faster-rcnn_{backbone}_1x_coco-subset-3cls.py' in names


def baseline_of(path):
    """The like-for-like baseline a config names in its header."""
    with open(path) as f:
        header = f.read().split('\n_base_')[0]
    found = re.search(r'configs/(baselines|coco_subset)/\S+\.py', header)
    return osp.join(ROOT, found.group(0)) if found else None


@pytest.mark.parametrize(
    'path', [p for p in ISONET_CONFIGS if '/demo/' not in p], ids=lambda p: osp.basename(p))
def test_each_family_matches_its_baseline(path):
    """Pretrained configs: converted weights, frozen stem + stage 1, the baseline's schedule;
    scratch configs: no weights, GN neck and heads and the 6x schedule of the GN baseline; both
    clip gradients. The baseline a config names exists and is of the same kind."""
    cfg, base_path = Config.fromfile(path), baseline_of(path)
    assert base_path and osp.isfile(base_path), path
    base = Config.fromfile(base_path)
    assert cfg.optim_wrapper.clip_grad.max_norm == 35
    assert cfg.train_cfg.max_epochs == base.train_cfg.max_epochs
    assert cfg.model.roi_head.bbox_head.type == base.model.roi_head.bbox_head.type
    assert cfg.model.neck.get('norm_cfg') == base.model.neck.get('norm_cfg')
    if '-pretrained' in path:
        init = cfg.model.backbone.init_cfg
        assert init.type == 'Pretrained' and init.checkpoint.startswith('checkpoints/')
        assert cfg.model.backbone.frozen_stages == base.model.backbone.frozen_stages == 1
        assert base.model.backbone.init_cfg.checkpoint.startswith('torchvision://resnet')
        assert cfg.model.backbone.depth == base.model.backbone.depth
        assert cfg.optim_wrapper.optimizer.lr == base.optim_wrapper.optimizer.lr
    else:
        assert cfg.model.backbone.get('init_cfg') is None and base.model.backbone.init_cfg is None
        assert base.model.backbone.norm_cfg.type == 'GN'
        assert cfg.model.backbone.frozen_stages == -1
        assert cfg.model.backbone.depth == base.model.backbone.depth


@pytest.mark.parametrize('path', ISONET_CONFIGS, ids=lambda p: osp.basename(p))
def test_isonet_configs_enable_the_method(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['isonet_det']
    hooks = [h for h in cfg.custom_hooks if h.type == 'IsometryRegularizerHook']
    assert len(hooks) == 1 and hooks[0].coeff == 1e-4 and hooks[0].module == 'backbone'
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert keys['srelu']['decay_mult'] == 0.0 and keys['residual_scale'] == dict(lr_mult=0.1)
    # ISONet's backbone (SReLU thresholds included) at 0.2x lr; R-ISONet's at the full rate
    assert keys['srelu'].get('lr_mult',
                             1.0) == (0.2 if cfg.model.backbone.type == 'ISONet' else 1.0)
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
    packed = demo_mm_inputs(
        2, [(3, 128, 160), (3, 160, 128)],
        num_items=[3, 2],
        num_classes=num_classes,
        with_mask=with_mask)
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


# One config per family and backbone kind; every config is smoke-run by
# tools/analysis/config_smoke_run.py (about 40 minutes for all on 2 cores; README table).
SMOKE_CONFIGS = [
    'risonet/mask-rcnn_risonet50-pretrained_fpn_1x_coco.py',
    'risonet/faster-rcnn_risonet50-scratch_fpn_gn-all_6x_coco.py',
    'isonet/mask-rcnn_isonet50-scratch_fpn_gn-all_6x_coco.py',
    'baselines/mask-rcnn_r50-scratch_fpn_gn-all_6x_coco.py',
]


@pytest.mark.slow
def test_config_recipes_survive_a_smoke_run(tmp_path):
    """20 iterations of each family's recipe on generated data: finite losses that fall."""
    import subprocess
    import sys
    configs = [osp.join(ROOT, 'configs', c) for c in SMOKE_CONFIGS]
    tool = osp.join(ROOT, 'tools/analysis/config_smoke_run.py')
    args = [sys.executable, tool, *configs, '--iters', '20', '--out', str(tmp_path / 'smoke')]
    run = subprocess.run(args, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    rows = [line for line in run.stdout.splitlines() if line.rstrip().endswith(' ok')]
    assert len(rows) == len(SMOKE_CONFIGS), run.stdout
    # the runs share a process, not a folder: each logged its own config and 20 iterations
    for config in configs:
        work_dir = str(tmp_path / 'smoke' / osp.splitext(osp.basename(config))[0])
        [vis_data] = glob.glob(osp.join(work_dir, '*', 'vis_data'))
        assert Config.fromfile(osp.join(vis_data, 'config.py')).work_dir == work_dir
        with open(osp.join(vis_data, 'scalars.json')) as f:
            assert len(f.readlines()) == 20  # logger interval 1


@pytest.mark.parametrize(
    'path', [p for p in ISONET_CONFIGS if '/isonet/' in p], ids=lambda p: osp.basename(p))
def test_isonet_backbone_trains_at_a_fifth_of_the_lr(path):
    """ISONet (no shortcuts): every backbone parameter at 0.2x lr (the reference's ISONet /
    R-ISONet lr ratio), everything else at the config's lr, SReLU thresholds without decay."""
    import logging

    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper
    register_all_modules()
    __import__('isonet_det')
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    cfg = Config.fromfile(path)
    cfg.model.backbone.init_cfg = None
    cfg.model.backbone.frozen_stages = -1
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    base_lr, names = cfg.optim_wrapper.optimizer.lr, {id(p): n for n, p in model.named_parameters()}
    for group in wrapper.optimizer.param_groups:
        for param in group['params']:
            name = names[id(param)]
            expected = 0.2 * base_lr if name.startswith('backbone.') else base_lr
            assert group['lr'] == pytest.approx(expected), name
            if 'srelu' in name:
                assert group['weight_decay'] == 0, name
