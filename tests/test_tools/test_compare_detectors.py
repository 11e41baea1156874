"""tools/analysis/compare_detectors.py: every arm is the demo detector with only its backbone
changed, every arm is searched on the same grid and chosen on two tuning seeds, the summary pairs
seeds and checks whether the order still changes, and the tool trains, evaluates, tabulates and
resumes (tiny data)."""
import argparse
import json
import math
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
    from mmengine.optim import build_optim_wrapper
    register_all_modules()
    __import__('isonet_det')
    __import__('mmpretrain.models')  # the nf_resnet arm's TIMMBackbone
    assert osp.samefile(DEMO_CONFIG,
                        osp.join(ROOT, 'configs', 'demo', 'mask-rcnn_risonet18_fpn_shapes.py'))
    demo = Config.fromfile(DEMO_CONFIG)
    for arm, (backbone, coeff) in ARMS.items():
        mult = 0.2  # the same multiplier for every arm, normalisation layers included
        cfg = arm_config(
            arm,
            0.03,
            7,
            3,
            '/tmp/shapes',
            num_train=12,
            log_interval=5,
            backbone_lr_mult=mult,
            val_split='tune',
            test_split='val')
        assert cfg.model.backbone == backbone and cfg.randomness.seed == 7
        assert cfg.model.neck == demo.model.neck and cfg.model.roi_head == demo.model.roi_head
        assert cfg.optim_wrapper.optimizer.lr == 0.03 and cfg.train_cfg.max_epochs == 3
        assert cfg.train_dataloader.dataset.indices == 12
        assert cfg.val_evaluator.ann_file == '/tmp/shapes/annotations/instances_tune.json'
        assert cfg.val_dataloader.dataset.data_prefix.img == 'tune/'
        assert cfg.test_evaluator.ann_file == '/tmp/shapes/annotations/instances_val.json'
        assert cfg.test_dataloader.dataset.data_prefix.img == 'val/'
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
    assert plain.test_evaluator == plain.val_evaluator
    skip = MODELS.build(ARMS['skipinit'][0])
    skip.init_weights()
    assert all(m.residual_scale.scale.item() == 0 for m in skip.modules()
               if hasattr(m, 'residual_scale'))
    assert not any('srelu' in n for n, _ in skip.named_parameters())


def load_tool(monkeypatch):
    monkeypatch.syspath_prepend(osp.dirname(TOOL))
    import compare_detectors
    return compare_detectors


def run(*args):
    return subprocess.run([sys.executable, TOOL, *args],
                          capture_output=True,
                          text=True,
                          cwd=ROOT,
                          timeout=1200)


def test_data_without_a_tuning_split_is_refused(tmp_path, monkeypatch):
    compare_detectors = load_tool(monkeypatch)
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
    compare_detectors = load_tool(monkeypatch)
    original, copy = tmp_path / 'original', tmp_path / 'copy'
    copy.mkdir()
    (copy / 'args.json').write_text(json.dumps(dict(out_dir=str(original), seeds=[0])))
    args = compare_detectors.parse_args(['--resume', str(copy)])
    assert args.out_dir == str(copy) and args.seeds == [0]
    assert not original.exists()
    with pytest.raises(SystemExit):  # not a run folder of the tool
        compare_detectors.parse_args(['--resume', str(original)])


@pytest.mark.parametrize('argv, message',
                         [(['--tune-seeds', '100'], 'at least 2 seeds'),
                          (['--tune-seeds', '1', '100', '--seeds', '0', '1'], 'share [1]')])
def test_choices_on_one_seed_or_on_a_reported_seed_are_refused(tmp_path, monkeypatch, capsys, argv,
                                                               message):
    compare_detectors = load_tool(monkeypatch)
    with pytest.raises(SystemExit):
        compare_detectors.parse_args(argv + ['--out-dir', str(tmp_path / 'out')])
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def fake_train(calls, final):
    """A stand-in for one training run: its final tuning-split box mAP is ``final(arm, mult, lr,
    seed)`` (None: diverged), its curve rises to it over the epochs."""

    def train(arm, lr, mult, seed, work_dir, args, test):
        calls.append((arm, mult, lr, seed, test))
        os.makedirs(work_dir)
        value = final(arm, mult, lr, seed)
        curve = [] if value is None else [value * (e + 1) / args.epochs for e in range(args.epochs)]
        return dict(
            arm=arm,
            lr=lr,
            mult=mult,
            seed=seed,
            diverged=value is None,
            loss=[1.0, 0.5],
            tune_bbox_mAP=curve,
            tune_segm_mAP=curve,
            bbox_mAP=0.0 if value is None else value,
            segm_mAP=0.0 if value is None else value,
            s_per_iter=0.5)

    return train


def test_every_arm_is_searched_on_the_same_grid_and_chosen_on_the_tuning_seeds(
        tmp_path, monkeypatch):
    compare_detectors = load_tool(monkeypatch)
    args = compare_detectors.parse_args([
        '--arms', 'risonet', '--lrs', '0.01', '0.02', '0.04', '--mults', '1', '0.2', '--epochs',
        '2', '--jobs', '1', '--out-dir',
        str(tmp_path / 'out')
    ])
    assert args.arms == ['risonet', 'resnet_gn'] and args.tune_seeds == [100, 101]

    def final(arm, mult, lr, seed):
        if arm == 'risonet':
            if lr >= 0.08:
                return None  # diverged: scores 0, the grid extension stops there
            # best at 0.04 x0.2 on average, though seed 101 alone prefers 0.02
            table = {(0.2, 0.04): (0.6, 0.3), (0.2, 0.02): (0.3, 0.4)}
            return table.get((mult, lr), (0.1, 0.1))[seed - 100]
        # resnet_gn: best at the grid's smallest lr at x1: extended once (x0.5), then chosen
        return {0.005: 0.5, 0.01: 0.45}.get(lr, 0.2) if mult == 1.0 else 0.1

    calls = []
    monkeypatch.setattr(compare_detectors, 'train', fake_train(calls, final))
    choices = compare_detectors.choices_for(args.arms, args)
    assert all(not test for *_, test in calls)  # tuning never touches the test split
    for arm in args.arms:  # every (mult, lr) of the grid on both tuning seeds, for every arm
        tried = {(m, lr, s) for a, m, lr, s, _ in calls if a == arm}
        assert {(m, lr, s)
                for m in (1.0, 0.2) for lr in (0.01, 0.02, 0.04) for s in (100, 101)} <= tried, arm
    risonet = choices['risonet']
    assert (risonet['lr'], risonet['mult']) == (0.04, 0.2) and risonet['interior']
    best = next(r for r in risonet['runs'] if (r['mult'], r['lr']) == (0.2, 0.04))
    assert best['per_seed'] == [0.6, 0.3] and best['bbox_mAP'] == pytest.approx(0.45)
    assert best['tune_curve'] == pytest.approx([0.225, 0.45])
    blown = next(r for r in risonet['runs'] if (r['mult'], r['lr']) == (0.2, 0.08))
    assert blown['diverged'] == 2 and blown['bbox_mAP'] == 0.0
    assert math.isinf(blown['final_loss'])
    gn = choices['resnet_gn']
    assert (gn['lr'], gn['mult'], gn['interior']) == (0.005, 1.0, False)  # one extension only
    assert json.loads((tmp_path / 'out' / 'tune' / 'resnet_gn.json').read_text())['lr'] == 0.005
    # resumed: the recorded choices are read, nothing is trained again
    calls.clear()
    assert compare_detectors.choices_for(args.arms, args) == json.loads(json.dumps(choices))
    assert calls == []


def test_summary_pairs_seeds_and_checks_the_order_at_the_end(tmp_path, monkeypatch):
    compare_detectors = load_tool(monkeypatch)
    args = compare_detectors.parse_args([
        '--arms', 'risonet', '--epochs', '4', '--seeds', '0', '1', '2', '--out-dir',
        str(tmp_path / 'out')
    ])

    def report(arm, seed, box, curve):
        return dict(
            arm=arm,
            seed=seed,
            bbox_mAP=box,
            segm_mAP=box + 0.1,
            diverged=False,
            tune_bbox_mAP=curve,
            s_per_iter=0.6 if arm == 'risonet' else 0.5,
            peak_rss_mib=900.0,
            orthogonality_error=0.01 if arm == 'risonet' else math.nan,
            loss=[1.0],
            iters=[1])

    # R-ISONet overtakes GN between epochs 2 and 3: before the decay the order changes
    runs = [report('risonet', s, 0.6 + 0.01 * s, [0.1, 0.2, 0.55, 0.7]) for s in range(3)]
    runs += [report('resnet_gn', s, 0.5 + 0.01 * s, [0.1, 0.3, 0.5, 0.6]) for s in range(3)]
    runs[3]['detected_nothing'] = True  # a GN run scored 0.0: said beside its mean
    choices = {arm: dict(lr=0.02, mult=1.0, interior=True, runs=[]) for arm in args.arms}
    rows, held = compare_detectors.summarise(runs, choices, args, params=lambda arm: 1e6)
    risonet = rows[0]
    delta = risonet['bbox_mAP_vs_resnet_gn']
    assert delta['pairs'] == 3 and delta['mean'] == pytest.approx(0.1)
    assert delta['verdict'] == 'ahead' and 'bbox_mAP_vs_resnet_gn' not in rows[1]
    assert risonet['time_ratio'] == pytest.approx(1.2)
    assert risonet['tune_curve'] == pytest.approx([0.1, 0.2, 0.55, 0.7])
    assert held['before_decay'] == dict(
        held=False, epochs=[2, 3], orders=[['resnet_gn', 'risonet'], ['risonet', 'resnet_gn']])
    assert held['last'] == dict(
        held=True, epochs=[3, 4], orders=[['risonet', 'resnet_gn'], ['risonet', 'resnet_gn']])
    text = compare_detectors.write_table(rows, held, choices, args, 1.0)
    assert 'epochs 2 and 3 (before the decay)' in text and 'it still changes' in text
    assert '+0.100' in text and 'Δ vs resnet_gn' in text
    assert rows[1]['detected_nothing'] == 1 and rows[0]['detected_nothing'] == 0
    assert '(1 detected nothing)' in text and text.count('detected nothing') == 1


@pytest.mark.slow
@pytest.mark.extras
def test_comparison_tunes_reports_on_the_test_split_and_resumes(tmp_path):
    from isonet_det.datasets import generate_shapes_dataset
    data = tmp_path / 'shapes'
    generate_shapes_dataset(str(data), 8, 4, 64, 0, num_tune=4)
    out = tmp_path / 'run'
    first = run('--arms', 'risonet', '--num-train', '8', '--log-interval', '1', '--lrs', '0.02',
                '--mults', '1', '0.2', '--epochs', '2', '--seeds', '0', '1', '--jobs', '2',
                '--data', str(data), '--out-dir', str(out))
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    saved = json.loads((out / 'results.json').read_text())
    rows = {r['arm']: r for r in saved['rows']}
    assert set(rows) == {'risonet', 'resnet_gn'}
    delta = rows['risonet']['bbox_mAP_vs_resnet_gn']
    per_seed = [r['bbox_mAP'] for r in saved['runs'] if r['arm'] == 'risonet']
    ref = [r['bbox_mAP'] for r in saved['runs'] if r['arm'] == 'resnet_gn']
    assert delta['pairs'] == 2 and delta['mean'] == pytest.approx((sum(per_seed) - sum(ref)) / 2)
    assert all(0.0 <= r['box'][0] <= 1.0 and r['peak_rss_mib'] > 100 for r in rows.values())
    assert rows['risonet']['orthogonality_error'] >= 0.0
    assert math.isnan(rows['resnet_gn']['orthogonality_error'])
    for r in saved['runs']:  # two epochs: two tuning-split evaluations, every iteration logged
        assert len(r['tune_bbox_mAP']) == 2 and len(r['loss']) == 4, r['arm']
        assert not list((out / 'runs' / r['arm'] / f'seed{r["seed"]}').glob('*.pth'))
    assert saved['held']['last']['held'] is not None
    # tuning: both multipliers on both tuning seeds for both arms, scored on the tuning split
    for arm in rows:
        settings = {(r['mult'], r['lr']) for r in saved['choices'][arm]['runs']}
        assert settings == {(1.0, 0.02), (0.2, 0.02)}
        assert all(len(r['per_seed']) == 2 for r in saved['choices'][arm]['runs'])
    from mmengine.config import Config
    tuned = Config.fromfile(
        str(out / 'tune' / 'resnet_gn' / 'x0.2' / 'lr0.02' / 'seed101' / 'config.py'))
    assert tuned.val_evaluator.ann_file == str(data / 'annotations' / 'instances_tune.json')
    assert tuned.test_evaluator.ann_file == tuned.val_evaluator.ann_file
    assert tuned.randomness.seed == 101
    assert tuned.optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult == 0.2
    reported = Config.fromfile(str(out / 'runs' / 'risonet' / 'seed1' / 'config.py'))
    choice = saved['choices']['risonet']
    assert reported.val_evaluator.ann_file == str(data / 'annotations' / 'instances_tune.json')
    assert reported.test_evaluator.ann_file == str(data / 'annotations' / 'instances_val.json')
    assert reported.randomness.seed == 1
    assert reported.optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult == choice['mult']
    test_log = (out / 'runs' / 'risonet' / 'seed1' / 'test' / 'test.log').read_text()
    assert 'coco/bbox_mAP' in test_log
    for name in ('table.md', 'curves.png', 'tune/risonet.json'):
        assert (out / name).exists(), name
    # an interrupted run: one reported run and one tuning run are missing; --resume trains only
    # those
    kept = out / 'runs' / 'risonet' / 'seed0' / 'train.log'
    kept_tune = out / 'tune' / 'resnet_gn' / 'x1' / 'lr0.02' / 'seed100' / 'train.log'
    stamp, tune_stamp = os.stat(kept).st_mtime_ns, os.stat(kept_tune).st_mtime_ns
    os.remove(out / 'runs' / 'resnet_gn' / 'seed0' / 'result.json')
    os.remove(out / 'tune' / 'resnet_gn.json')
    os.remove(out / 'tune' / 'resnet_gn' / 'x1' / 'lr0.02' / 'seed101' / 'result.json')
    again = run('--resume', str(out))
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert os.stat(kept).st_mtime_ns == stamp and os.stat(kept_tune).st_mtime_ns == tune_stamp
    assert (out / 'runs' / 'resnet_gn' / 'seed0' / 'result.json').exists()
    assert (out / 'tune' / 'resnet_gn' / 'x1' / 'lr0.02' / 'seed101' / 'result.json').exists()
    refused = run('--quick', '--out-dir', str(out))
    assert refused.returncode != 0 and 'not overwritten' in refused.stderr
    # another run on the settings this one chose: no tuning runs, the choice recorded with its
    # source
    reuse = tmp_path / 'reuse'
    taken = run('--quick', '--arms', 'resnet_gn', '--num-train', '8', '--data', str(data),
                '--tuned-from', str(out), '--out-dir', str(reuse))
    assert taken.returncode == 0, taken.stdout[-3000:] + taken.stderr[-3000:]
    chosen = json.loads((reuse / 'tune' / 'resnet_gn.json').read_text())
    assert chosen['lr'] == saved['choices']['resnet_gn']['lr'] and chosen['tuned_in'] == str(out)
    assert chosen['epochs'] == 2  # the budget it was chosen at, said in the table (1 epoch here)
    assert f'resnet_gn: taken from {out}, chosen there at 2 epochs' in (reuse /
                                                                        'table.md').read_text()
    assert not (reuse / 'tune' / 'resnet_gn').exists()
    missing = run('--quick', '--arms', 'skipinit', '--data', str(data), '--tuned-from', str(out),
                  '--out-dir', str(tmp_path / 'missing'))
    assert missing.returncode != 0 and 'no settings chosen for skipinit' in missing.stderr
