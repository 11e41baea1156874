"""The MMSegmentation (ISO-UNet, BN UNet) and MMPretrain (ISONet / R-ISONet classification)
configs: each builds in its own scope with no scope trick beyond `custom_imports`, states the
recipe it claims, and trains (a step and an evaluation on generated data)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

pytestmark = pytest.mark.extras  # MMSegmentation / MMPretrain: the newest stack's extras

ROOT = osp.join(osp.dirname(__file__), '..', '..')
SEG_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'iso_unet', '*.py')))
CLS_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'classification', '*.py')))


def build(cfg, scope):
    import importlib
    for module in cfg.custom_imports.imports:
        importlib.import_module(module)
    init_default_scope(scope)
    registry = importlib.import_module(f'{scope}.registry').MODELS
    importlib.import_module(f'{scope}.models')
    return registry.build(cfg.model)


def test_the_expected_configs_ship():
    names = {osp.relpath(p, osp.join(ROOT, 'configs')) for p in SEG_CONFIGS + CLS_CONFIGS}
    assert {'iso_unet/iso-unet_s5-b16_scans-96x96.py', 'iso_unet/unet-bn_s5-b16_scans-96x96.py'
            } <= names
    for depth in (18, 34, 50, 101):
        assert f'classification/isonet{depth}_8xb32_in1k.py' in names
        assert f'classification/risonet{depth}_8xb32_in1k.py' in names
    for family in ('isonet18', 'risonet18'):
        for data in ('cifar10', 'cifar100'):
            assert f'classification/{family}_b128_{data}.py' in names


def test_iso_unet_and_its_baseline_differ_only_in_the_backbone_and_lr():
    iso, bn = (
        Config.fromfile(osp.join(ROOT, 'configs', 'iso_unet', name))
        for name in ('iso-unet_s5-b16_scans-96x96.py', 'unet-bn_s5-b16_scans-96x96.py'))
    assert iso.model.backbone.type == 'ISOUNet' and bn.model.backbone.type == 'UNet'
    assert bn.model.backbone.norm_cfg.type == 'BN'
    assert bn.model.backbone.upsample_cfg == dict(type='DeconvModule', kernel_size=2)
    assert iso.model.decode_head == bn.model.decode_head
    assert iso.train_dataloader == bn.train_dataloader and iso.param_scheduler == bn.param_scheduler
    assert iso.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.025, momentum=0.9, weight_decay=1e-4)
    assert bn.optim_wrapper.optimizer == dict(iso.optim_wrapper.optimizer, lr=0.8)  # its own
    # the report's recipe: gamma 1e-4, SReLU thresholds fixed at -1
    assert iso.custom_hooks == [dict(type='IsometryRegularizerHook', coeff=1e-4, module='backbone')]
    assert iso.optim_wrapper.paramwise_cfg.custom_keys['srelu'] == dict(lr_mult=0.0, decay_mult=0.0)
    assert 'custom_hooks' not in bn or not bn.custom_hooks
    iso_model, bn_model = build(iso, 'mmseg'), build(bn, 'mmseg')
    iso_params = sum(p.numel() for p in iso_model.backbone.parameters())
    bn_params = sum(p.numel() for p in bn_model.backbone.parameters())
    assert abs(iso_params - bn_params) / bn_params < 0.01  # "of the same size"


def generated_scans(tmp_path, size=96):
    from isonet_det.datasets import generate_scans_dataset
    data = tmp_path / 'scans'
    generate_scans_dataset(str(data), 4, 2, size, seed=0, empty_fraction=0.3)
    return str(data)


@pytest.mark.parametrize('path', SEG_CONFIGS, ids=osp.basename)
def test_seg_config_trains_a_step_and_evaluates(path, tmp_path):
    """One epoch of 2 steps (the regulariser hook on for ISO-UNet), then IoUMetric's mIoU and
    mDice on the validation images, through mmengine's Runner as tools/train.py runs it."""
    from mmengine.runner import Runner
    cfg = Config.fromfile(path)
    data = generated_scans(tmp_path)
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = data
        loader.batch_size = 2
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = 1
    cfg.param_scheduler[0].end = 1
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    metrics = runner.val_loop.run()
    assert 0 <= metrics['mIoU'] <= 100 and 0 <= metrics['mDice'] <= 100
    if cfg.model.backbone.type == 'ISOUNet':
        hook = next(h for h in runner.hooks if type(h).__name__ == 'IsometryRegularizerHook')
        assert len(hook.select_convs(runner.model)) == 17
        # the thresholds stay at -1 (lr x0), the convs moved
        srelu = [p for n, p in runner.model.named_parameters() if 'srelu' in n]
        assert all((p == -1).all() for p in srelu)


@pytest.mark.parametrize('path', CLS_CONFIGS, ids=osp.basename)
def test_cls_config_builds_and_takes_a_training_step(path):
    cfg = Config.fromfile(path)
    model = build(cfg, 'mmpretrain')
    model.init_weights()
    backbone = cfg.model.backbone
    assert backbone.type in ('ISONet', 'RISONet')  # unprefixed: the root registry
    plain = backbone.type == 'ISONet'
    assert cfg.model.head.type == 'DropoutLinearClsHead'
    assert model.head.dropout.p == (0.1 if plain else 0.4)
    assert cfg.optim_wrapper.optimizer.momentum == 0.9
    assert cfg.optim_wrapper.optimizer.weight_decay == 1e-4
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['srelu'] == dict(decay_mult=0.0)
    hook = [h for h in cfg.custom_hooks if h['type'] == 'IsometryRegularizerHook']
    assert len(hook) == 1
    if 'in1k' in path:  # the reference ImageNet recipe
        assert cfg.optim_wrapper.optimizer.lr == (0.02 if plain else 0.1)
        assert hook[0]['coeff'] == (3e-4 if plain and backbone.depth == 101 else 1e-4)
        assert cfg.param_scheduler[1].milestones == [30, 60, 90]
        assert cfg.param_scheduler[0].end == 5 and cfg.train_cfg.max_epochs == 100
        assert cfg.auto_scale_lr.base_batch_size == 256
    elif 'cifar' in path:  # the course replication's
        assert cfg.optim_wrapper.optimizer.lr == 0.02 and hook[0]['coeff'] == 1e-4
        assert backbone.stem_type == 'cifar' and cfg.train_cfg.max_epochs == 100
        assert cfg.model.head.num_classes == (100 if 'cifar100' in path else 10)
    size = 64 if 'in1k' in path or 'demo' in path else 32
    num_classes = cfg.model.head.num_classes
    batch = dict(
        inputs=[torch.randint(0, 255, (3, size, size), dtype=torch.uint8) for _ in range(2)],
        data_samples=None)
    from mmpretrain.structures import DataSample
    batch['data_samples'] = [DataSample().set_gt_label(i % num_classes) for i in range(2)]
    model.train()
    losses = model(**model.data_preprocessor(batch, True), mode='loss')
    assert torch.isfinite(losses['loss'])
    losses['loss'].backward()


def test_dropout_head_refuses_a_bad_probability():
    from mmpretrain.registry import MODELS

    import isonet_det.models.heads  # noqa: F401
    with pytest.raises(ValueError, match='dropout'):
        MODELS.build(dict(type='DropoutLinearClsHead', num_classes=3, in_channels=8, dropout=1.0))
