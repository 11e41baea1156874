"""tools/analysis/compare_detectors.py: every arm is the demo detector with only its backbone
changed, and the tool trains, evaluates, tabulates and resumes (tiny data)."""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from isonet_det.experiments.detector_arms import ARMS, DEMO_CONFIG, NORMALISATION_FREE, arm_config

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
TOOL = osp.join(ROOT, 'tools', 'analysis', 'compare_detectors.py')


@pytest.mark.extras
def test_each_arm_changes_only_the_backbone_and_trains_a_step():
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    register_all_modules()
    __import__('isonet_det')
    __import__('mmpretrain.models')  # the nf_resnet arm's TIMMBackbone
    assert osp.samefile(DEMO_CONFIG,
                        osp.join(ROOT, 'configs', 'demo', 'mask-rcnn_risonet18_fpn_shapes.py'))
    demo = Config.fromfile(DEMO_CONFIG)
    for arm, (backbone, coeff) in ARMS.items():
        mult = 0.2 if arm in NORMALISATION_FREE else 1.0
        cfg = arm_config(
            arm,
            0.03,
            7,
            3,
            '/tmp/shapes',
            num_train=12,
            log_interval=5,
            backbone_lr_mult=mult,
            val_split='tune')
        assert cfg.model.backbone == backbone and cfg.randomness.seed == 7
        assert cfg.model.neck == demo.model.neck and cfg.model.roi_head == demo.model.roi_head
        assert cfg.optim_wrapper.optimizer.lr == 0.03 and cfg.train_cfg.max_epochs == 3
        assert cfg.train_dataloader.dataset.indices == 12
        assert cfg.val_evaluator.ann_file == '/tmp/shapes/annotations/instances_tune.json'
        assert cfg.val_dataloader.dataset.data_prefix.img == 'tune/'
        hooks = [h for h in cfg.custom_hooks if h['type'] == 'IsometryRegularizerHook']
        assert [h['coeff'] for h in hooks] == ([coeff] if coeff else []), arm
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        # the multiplier reaches every backbone parameter and nothing else, on top of the policy
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        names = {id(p): n for n, p in model.named_parameters()}
        for group in wrapper.optimizer.param_groups:
            (param, ) = group['params']
            name, expected = names[id(param)], 0.03
            if name.startswith('backbone.'):
                expected *= mult * (0.1 if 'residual_scale' in name else 1.0)
                if 'srelu' in name:
                    assert group['weight_decay'] == 0.0, name
            assert group['lr'] == pytest.approx(expected), name
        packed = demo_mm_inputs(
            2, [(3, 128, 128)] * 2, num_items=[2, 1], num_classes=3, with_mask=True)
        losses = model(**model.data_preprocessor(packed, True), mode='loss')
        total, _ = model.parse_losses(losses)
        assert torch.isfinite(total), arm
    plain = arm_config('resnet_gn', 0.02, 0, 2, '/tmp/shapes')
    assert plain.val_evaluator.ann_file == '/tmp/shapes/annotations/instances_val.json'
    skip = MODELS.build(ARMS['skipinit'][0])
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


def test_data_without_a_tuning_split_is_refused(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(osp.dirname(TOOL))
    import compare_detectors

    from isonet_det.datasets import generate_shapes_dataset
    generate_shapes_dataset(str(tmp_path / 'old'), 2, 2, 64, 0)  # train / val only
    args = argparse.Namespace(data=str(tmp_path / 'old'), variant='hard')
    with pytest.raises(FileNotFoundError, match='has no tune split'):
        compare_detectors.check_data(args)
    calls = []  # absent: generated, with its tuning split
    monkeypatch.setattr(compare_detectors, 'generate_shapes_dataset', lambda *a, **k: calls.append(
        (a, k)))
    args.data = str(tmp_path / 'new')
    with pytest.raises(FileNotFoundError, match='has no train / tune / val split'):
        compare_detectors.check_data(args)
    assert calls == [((args.data, 400, 200, 128, 0, 'hard'), dict(num_tune=100))]


def test_resume_finishes_the_folder_it_is_given(tmp_path, monkeypatch):
    """A run folder copied elsewhere is finished there, not in the folder its args.json names."""
    monkeypatch.syspath_prepend(osp.dirname(TOOL))
    import compare_detectors
    original, copy = tmp_path / 'original', tmp_path / 'copy'
    copy.mkdir()
    (copy / 'args.json').write_text(json.dumps(dict(out_dir=str(original), seeds=[0])))
    args = compare_detectors.parse_args(['--resume', str(copy)])
    assert args.out_dir == str(copy) and args.seeds == [0]
    assert not original.exists()
    with pytest.raises(SystemExit):  # not a run folder of the tool
        compare_detectors.parse_args(['--resume', str(original)])


@pytest.mark.slow
@pytest.mark.extras
def test_comparison_tunes_on_the_tuning_split_reports_paired_and_resumes(tmp_path):
    from isonet_det.datasets import generate_shapes_dataset
    data = tmp_path / 'shapes'
    generate_shapes_dataset(str(data), 8, 4, 64, 0, num_tune=4)
    out = tmp_path / 'run'
    first = run('--arms', 'risonet', 'resnet_bn', '--num-train', '8', '--log-interval', '1',
                '--lrs', '0.01', '0.02', '--mults', '1', '0.2', '--max-extensions', '0',
                '--epochs', '1', '--tune-epochs', '1', '--seeds', '0', '1', '--jobs', '2', '--data',
                str(data), '--out-dir', str(out))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    saved = json.loads((out / 'results.json').read_text())
    rows = {r['arm']: r for r in saved['rows']}
    # resnet_gn joins as the paired reference; every other row has its interval against it
    assert set(rows) == {'risonet', 'resnet_bn', 'resnet_gn'}
    assert rows['resnet_bn']['time_ratio'] == 1.0 and 'bbox_mAP_vs_resnet_gn' not in rows[
        'resnet_gn']
    for arm in ('risonet', 'resnet_bn'):
        delta = rows[arm]['bbox_mAP_vs_resnet_gn']
        per_seed = [r['bbox_mAP'] for r in saved['runs'] if r['arm'] == arm]
        ref = [r['bbox_mAP'] for r in saved['runs'] if r['arm'] == 'resnet_gn']
        assert delta['pairs'] == 2 and delta['low'] <= delta['mean'] <= delta['high']
        assert delta['mean'] == pytest.approx((sum(per_seed) - sum(ref)) / 2)
    assert all(0.0 <= r['box'][0] <= 1.0 and r['peak_rss_mib'] > 100 for r in rows.values())
    assert rows['risonet']['orthogonality_error'] >= 0.0
    assert rows['resnet_bn']['orthogonality_error'] != rows['resnet_bn']['orthogonality_error']
    # tuning: every (lr, multiplier) of the normalisation-free arm, lrs only for the others, all
    # scored on the tuning split by runs on the tuning seed
    choices = saved['choices']
    assert {(r['mult'], r['lr'])
            for r in choices['risonet']['runs']} == {(m, lr)
                                                     for m in (1.0, 0.2) for lr in (0.01, 0.02)}
    assert {(r['mult'], r['lr'])
            for r in choices['resnet_bn']['runs']} == {(1.0, 0.01), (1.0, 0.02)}
    assert choices['resnet_bn']['mult'] == 1.0 and not choices['resnet_bn']['interior']
    from mmengine.config import Config
    tuned = Config.fromfile(str(out / 'tune' / 'risonet' / 'x0.2' / 'lr0.01' / 'config.py'))
    assert tuned.val_evaluator.ann_file == str(data / 'annotations' / 'instances_tune.json')
    assert tuned.randomness.seed == 100 and tuned.optim_wrapper.optimizer.lr == 0.01
    assert tuned.optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult == 0.2
    reported = Config.fromfile(str(out / 'runs' / 'risonet' / 'seed1' / 'config.py'))
    choice = choices['risonet']
    assert reported.val_evaluator.ann_file == str(data / 'annotations' / 'instances_val.json')
    assert reported.randomness.seed == 1 and reported.optim_wrapper.optimizer.lr == choice['lr']
    assert reported.optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult == choice['mult']
    # R-ISONet's factorial: coefficient 1e-4 and 1e-3 at each multiplier, orthogonality beside
    cells = {(r['coeff'], r['mult']) for r in saved['factorial']}
    assert cells == {(1e-4, 1.0), (1e-4, 0.2), (1e-3, 1.0), (1e-3, 0.2)}
    assert all(r['orthogonality_error'] >= 0 for r in saved['factorial'])
    risonet_run = next(r for r in saved['runs'] if r['arm'] == 'risonet')
    assert len(risonet_run['loss']) == 2  # 8 images / batch 4, every iteration logged
    assert all(v >= 0 for v in risonet_run['isometry_reg'])
    for name in ('table.md', 'curves.png', 'tune/risonet.json'):
        assert (out / name).exists(), name
    table = (out / 'table.md').read_text()
    assert 'Δ vs resnet_gn' in table and 'weak baseline' in table
    # an interrupted run: one reported run and one arm's tuning are missing; --resume trains only
    # those
    kept = out / 'runs' / 'risonet' / 'seed0' / 'train.log'
    kept_tune = out / 'tune' / 'resnet_bn' / 'x1' / 'lr0.01' / 'train.log'
    stamp, tune_stamp = os.stat(kept).st_mtime_ns, os.stat(kept_tune).st_mtime_ns
    os.remove(out / 'runs' / 'resnet_bn' / 'seed0' / 'result.json')
    os.remove(out / 'tune' / 'resnet_bn.json')
    os.remove(out / 'tune' / 'resnet_bn' / 'x1' / 'lr0.02' / 'result.json')
    again = run('--resume', str(out))
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert os.stat(kept).st_mtime_ns == stamp and os.stat(kept_tune).st_mtime_ns == tune_stamp
    assert (out / 'runs' / 'resnet_bn' / 'seed0' / 'result.json').exists()
    assert json.loads(
        (out / 'tune' / 'resnet_bn.json').read_text())['lr'] == choices['resnet_bn']['lr']
    refused = run('--quick', '--out-dir', str(out))
    assert refused.returncode != 0 and 'not overwritten' in refused.stderr
    # another run on the settings this one chose: no tuning runs, the choice recorded with its
    # source
    reuse = tmp_path / 'reuse'
    taken = run('--quick', '--arms', 'resnet_bn', '--no-factorial', '--num-train', '8', '--data',
                str(data), '--tuned-from', str(out), '--out-dir', str(reuse))
    assert taken.returncode == 0, taken.stdout[-3000:] + taken.stderr[-3000:]
    chosen = json.loads((reuse / 'tune' / 'resnet_bn.json').read_text())
    assert chosen['lr'] == choices['resnet_bn']['lr'] and chosen['tuned_in'] == str(out)
    assert not (reuse / 'tune' / 'resnet_bn').exists()
    missing = run('--quick', '--arms', 'skipinit', '--data', str(data), '--tuned-from', str(out),
                  '--out-dir', str(tmp_path / 'missing'))
    assert missing.returncode != 0 and 'no settings chosen for skipinit' in missing.stderr
