"""tools/analysis/compare_detectors.py: every arm is the demo detector with only its backbone
changed, and the tool trains, evaluates, tabulates and resumes (tiny data)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from isonet_det.experiments.detector_arms import ARMS, DEMO_CONFIG, arm_config

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
TOOL = osp.join(ROOT, 'tools', 'analysis', 'compare_detectors.py')


@pytest.mark.extras
def test_each_arm_changes_only_the_backbone_and_trains_a_step():
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules()
    __import__('isonet_det')
    __import__('mmpretrain.models')  # the nf_resnet arm's TIMMBackbone
    assert osp.samefile(DEMO_CONFIG,
                        osp.join(ROOT, 'configs', 'demo', 'mask-rcnn_risonet18_fpn_shapes.py'))
    demo = Config.fromfile(DEMO_CONFIG)
    for arm, (family, backbone, hook) in ARMS.items():
        cfg = arm_config(arm, 0.03, 7, 3, '/tmp/shapes', num_train=12, log_interval=5)
        assert cfg.model.backbone == backbone and cfg.randomness.seed == 7
        assert cfg.model.neck == demo.model.neck and cfg.model.roi_head == demo.model.roi_head
        assert cfg.optim_wrapper.optimizer.lr == 0.03 and cfg.train_cfg.max_epochs == 3
        assert cfg.train_dataloader.dataset.indices == 12
        hooks = [h['type'] for h in cfg.custom_hooks]
        assert ('IsometryRegularizerHook' in hooks) == hook, arm
        keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
        assert keys['srelu'].get('lr_mult', 1.0) == (0.2 if family == 'isonet' else 1.0)
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        packed = demo_mm_inputs(
            2, [(3, 128, 128)] * 2, num_items=[2, 1], num_classes=3, with_mask=True)
        losses = model(**model.data_preprocessor(packed, True), mode='loss')
        total, _ = model.parse_losses(losses)
        assert torch.isfinite(total), arm
    skip = MODELS.build(ARMS['skipinit'][1])
    skip.init_weights()
    assert all(m.residual_scale.scale.item() == 0 for m in skip.modules()
               if hasattr(m, 'residual_scale'))
    assert not any('srelu' in n for n, _ in skip.named_parameters())


def run(*args):
    return subprocess.run([sys.executable, TOOL, *args],
                          capture_output=True,
                          text=True,
                          cwd=ROOT,
                          timeout=1200)


@pytest.mark.slow
@pytest.mark.extras
def test_quick_comparison_trains_tabulates_and_resumes(tmp_path):
    from isonet_det.datasets import generate_shapes_dataset
    data = tmp_path / 'shapes'
    generate_shapes_dataset(str(data), 8, 4, 64, 0)
    out = tmp_path / 'run'
    first = run('--quick', '--arms', 'risonet', 'resnet_bn', '--num-train', '8', '--log-interval',
                '1', '--lrs', '0.01', '0.02', '--epochs', '1', '--jobs', '2', '--data', str(data),
                '--out-dir', str(out))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    saved = json.loads((out / 'results.json').read_text())
    rows = {r['arm']: r for r in saved['rows']}
    assert set(rows) == {'risonet', 'resnet_bn'} and rows['resnet_bn']['time_ratio'] == 1.0
    assert all(0.0 <= r['box'][0] <= 1.0 and r['peak_rss_mib'] > 100 for r in rows.values())
    assert all(r['params'] > 100_000 for r in rows.values())
    risonet_run = next(r for r in saved['runs'] if r['arm'] == 'risonet')
    assert len(risonet_run['loss']) == 2  # 8 images / batch 4, every iteration logged
    assert all(v >= 0 for v in risonet_run['isometry_reg'])
    resnet_run = next(r for r in saved['runs'] if r['arm'] == 'resnet_bn')
    assert all(v != v for v in resnet_run['isometry_reg'])  # no regulariser: nan
    assert set(saved['sweeps']) == {'risonet', 'resnet_bn'}
    assert all(set(s['losses']) == {'0.01', '0.02'} for s in saved['sweeps'].values())
    assert all(r['lr'] in (0.01, 0.02) for r in rows.values())
    for name in ('table.md', 'curves.png', 'sweep/risonet.json'):
        assert (out / name).exists(), name
    assert 'resnet_bn' in first.stdout and 's/iter' in first.stdout
    # an interrupted run: one arm's result and one family's sweep are missing; --resume trains
    # only that arm and that family's missing sweep run
    kept = out / 'runs' / 'risonet' / 'seed0' / 'train.log'
    kept_sweep = out / 'sweep' / 'resnet_bn' / 'lr0.01' / 'train.log'
    stamp, sweep_stamp = os.stat(kept).st_mtime_ns, os.stat(kept_sweep).st_mtime_ns
    os.remove(out / 'runs' / 'resnet_bn' / 'seed0' / 'result.json')
    os.remove(out / 'sweep' / 'resnet_bn.json')
    os.remove(out / 'sweep' / 'resnet_bn' / 'lr0.02' / 'result.json')
    again = run('--resume', str(out))
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert os.stat(kept).st_mtime_ns == stamp
    assert os.stat(kept_sweep).st_mtime_ns == sweep_stamp
    assert (out / 'runs' / 'resnet_bn' / 'seed0' / 'result.json').exists()
    assert (out / 'sweep' / 'resnet_bn.json').exists()
    refused = run('--quick', '--out-dir', str(out))
    assert refused.returncode != 0 and 'not overwritten' in refused.stderr
    # another run on the lrs this one chose: no sweep runs, the choice recorded with its source
    reuse = tmp_path / 'reuse'
    taken = run('--quick', '--arms', 'resnet_bn', '--num-train', '8', '--epochs', '1', '--data',
                str(data), '--sweep-from', str(out), '--out-dir', str(reuse))
    assert taken.returncode == 0, taken.stdout[-3000:] + taken.stderr[-3000:]
    chosen = json.loads((reuse / 'sweep' / 'resnet_bn.json').read_text())
    assert chosen['lr'] == saved['sweeps']['resnet_bn']['lr'] and chosen['swept_in'] == str(out)
    assert not (reuse / 'sweep' / 'resnet_bn' / 'lr0.01').exists()
    missing = run('--quick', '--arms', 'skipinit', '--data', str(data), '--sweep-from', str(out),
                  '--out-dir', str(tmp_path / 'missing'))
    assert missing.returncode != 0 and 'no lr chosen for skipinit' in missing.stderr
