"""tools/seg_demo.py and tools/cls_demo.py in their --quick modes: they train, evaluate, draw or
transfer, and report; and they refuse to write into a folder that holds something."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.extras  # MMSegmentation / MMPretrain: the newest stack's extras

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def run(tool, *args):
    return subprocess.run([sys.executable, osp.join(ROOT, 'tools', tool), *args],
                          capture_output=True,
                          text=True,
                          cwd=ROOT,
                          timeout=900)


@pytest.mark.slow
def test_seg_demo_tunes_on_the_tuning_split_and_reports_seeds_and_threshold(tmp_path):
    out = tmp_path / 'run'
    done = run('seg_demo.py', '--quick', '--num-train', '16', '--seeds', '0', '1',
               '--iso-unet-lrs', '0.0125', '0.025', '--max-extensions', '0', '--data',
               str(tmp_path / 'scans'), '--out-dir', str(out))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    saved = json.loads((out / 'results.json').read_text())
    assert {(r['arm'], r['seed'])
            for r in saved['runs']} == {(a, s)
                                        for a in ('iso_unet', 'unet_bn') for s in (0, 1)}
    for r in saved['runs']:
        assert 0 <= r['mIoU'] <= 100 and 0 <= r['lesion_Dice'] <= 1 and r['params'] > 1e6
        assert r['lr'] == saved['choices'][r['arm']]['lr']
    assert [r['lr'] for r in saved['choices']['iso_unet']['runs']] == [0.0125, 0.025]
    assert saved['paired']['lesion_Dice']['pairs'] == 2
    assert 0 <= saved['threshold']['t'] <= 254 and 0 <= saved['threshold']['lesion_IoU'] <= 1
    from mmengine.config import Config
    for seed in (100, 101):  # every lr on both tuning seeds
        tuned = Config.fromfile(
            str(out / 'tune' / 'iso_unet' / 'lr0.0125' / f'seed{seed}' / 'config.py'))
        assert tuned.val_dataloader.dataset.data_prefix.img_path == 'img_dir/tune'
        assert tuned.randomness.seed == seed and tuned.train_cfg.max_epochs == 1
    setting = saved['choices']['iso_unet']['runs'][0]
    assert setting['mIoU'] == pytest.approx(sum(setting['per_seed']) / 2)
    reported = Config.fromfile(str(out / 'runs' / 'unet_bn' / 'seed1' / 'config.py'))
    assert reported.val_dataloader.dataset.data_prefix.img_path == 'img_dir/val'
    assert reported.randomness.seed == 1 and reported.train_cfg.max_epochs == 2
    assert (out / 'predictions.png').stat().st_size > 10_000
    table = (out / 'table.md').read_text()
    assert 'ISO-UNet' in table and 'UNet + BN' in table and 'threshold' in table
    assert 'Run time' in table and '95% t interval' in table
    again = run('seg_demo.py', '--quick', '--data', str(tmp_path / 'scans'), '--out-dir', str(out))
    assert again.returncode != 0 and 'not empty' in again.stderr


@pytest.mark.slow
def test_cls_demo_quick_trains_and_fills_the_detector_backbone(tmp_path):
    out = tmp_path / 'run'
    done = run('cls_demo.py', '--quick', '--num-train', '12', '--data', str(tmp_path / 'classes'),
               '--out-dir', str(out))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((out / 'result.json').read_text())
    assert 0 <= result['top1'] <= 100
    assert result['backbone_tensors_loaded'] == result['backbone_tensors'] > 40
    assert osp.isfile(result['checkpoint']) and osp.isfile(result['detector_config'])


def test_user_data_is_never_overwritten(tmp_path):
    mine = tmp_path / 'mine'
    mine.mkdir()
    (mine / 'keep.txt').write_text('mine')
    for tool in ('seg_demo.py', 'cls_demo.py'):
        done = run(tool, '--quick', '--data', str(mine), '--out-dir', str(tmp_path / tool))
        assert done.returncode != 0 and 'FileExistsError' in done.stderr, tool
    assert (mine / 'keep.txt').read_text() == 'mine'


def test_seg_demo_lesion_scores_are_mmseg_iou_and_dice_over_all_pixels():
    """The lesion class's IoU and Dice: areas summed over every image, as IoUMetric does."""
    import numpy as np
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    from seg_demo import segmentation_scores

    def lesion_scores(preds, gts):
        scores = segmentation_scores(preds, gts)
        return scores['lesion_IoU'], scores['lesion_Dice']

    pred = [np.array([[1, 1], [0, 0]], np.uint8), np.array([[1, 0], [0, 0]], np.uint8)]
    gt = [np.array([[1, 0], [0, 0]], np.uint8), np.array([[1, 1], [1, 0]], np.uint8)]
    # intersection 2, predicted 3, true 4: IoU 2 / 5, Dice 4 / 7
    iou, dice = lesion_scores(pred, gt)
    assert iou == pytest.approx(2 / 5) and dice == pytest.approx(4 / 7)
    empty = [np.zeros((2, 2), np.uint8)]
    assert lesion_scores(empty, empty) == (0.0, 0.0)


def test_seg_demo_threshold_is_the_best_lesion_iou_on_the_tuning_scans():
    import numpy as np
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    from seg_demo import best_threshold
    scans = [np.array([[10, 50], [90, 200]], np.uint8), np.array([[95, 30], [120, 60]], np.uint8)]
    gts = [np.array([[0, 0], [1, 1]], np.uint8), np.array([[1, 0], [1, 0]], np.uint8)]
    # lesion pixels 90, 200, 95, 120; the others at most 60: any t in 60..89 separates them
    assert best_threshold(scans, gts) == 60
    noisy = [np.array([[10, 100], [90, 200]], np.uint8)]  # a background pixel at 100
    t = best_threshold(noisy, gts[:1])
    assert iou_by_hand(noisy, gts[:1], t) == max(iou_by_hand(noisy, gts[:1], u) for u in range(255))


def iou_by_hand(scans, gts, t):
    """Lesion IoU of "lesion where the scan > t" over all pixels."""
    import numpy as np
    pred = np.concatenate([s.ravel() for s in scans]) > t
    true = np.concatenate([g.ravel() for g in gts]) == 1
    return (pred & true).sum() / max((pred | true).sum(), 1)


def test_seg_demo_unet_bn_from_reads_a_previous_runs_bn_unet_and_checks_its_protocol(
        tmp_path, capsys):
    """--unet-bn-from: the BN UNet's tuning and seed runs come from a previous run folder of the
    same protocol (refused otherwise, by name), read and never trained or written there."""
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import seg_demo

    from isonet_det.experiments import reporting
    previous = tmp_path / 'previous'

    def save(path, value):
        path.parent.mkdir(parents=True, exist_ok=True)
        reporting.write_json(str(path), value)

    new = ['--out-dir', str(tmp_path / 'new'), '--unet-bn-from', str(previous)]
    with pytest.raises(SystemExit):
        seg_demo.parse_args(new)  # no results.json: not a complete run
    assert 'not a complete run' in capsys.readouterr().err
    protocol = vars(seg_demo.parse_args(['--out-dir', str(tmp_path / 'other')]))
    save(previous / 'results.json', dict(args=dict(protocol, epochs=20)))
    with pytest.raises(SystemExit):
        seg_demo.parse_args(new)
    assert 'epochs: 20 there, 50 here' in capsys.readouterr().err
    save(previous / 'results.json', dict(args=protocol))
    with pytest.raises(SystemExit):
        seg_demo.parse_args(new + ['--seeds', '0', '3'])
    assert 'seeds' in capsys.readouterr().err
    tuned = dict(arm='unet_bn', lr=0.4, mIoU=90.0, loss=[0.1])
    seed = dict(tuned, seed=1, work_dir=str(previous / 'runs' / 'unet_bn' / 'seed1'))
    save(previous / 'tune' / 'unet_bn' / 'lr0.4' / 'seed100' / 'result.json', tuned)
    save(previous / 'tune' / 'unet_bn' / 'lr0.4' / 'seed101' / 'result.json',
         dict(tuned, mIoU=88.0, loss=[0.3]))
    save(previous / 'runs' / 'unet_bn' / 'seed1' / 'result.json', seed)
    files = sorted(previous.rglob('*'))
    args = seg_demo.parse_args(new)
    runs = [seg_demo.tune_seed_run('unet_bn', 0.4, seed, args) for seed in args.tune_seeds]
    assert seg_demo.tune_setting('unet_bn', 0.4, runs) == dict(
        arm='unet_bn', lr=0.4, mIoU=89.0, per_seed=[90.0, 88.0], final_loss=0.2, diverged=0)
    assert seg_demo.report_run('unet_bn', 1, 0.4, args) == seed
    with pytest.raises(FileNotFoundError, match='lr0.8'):
        seg_demo.tune_seed_run('unet_bn', 0.8, 100, args)
    assert sorted(previous.rglob('*')) == files  # nothing written there
    assert seg_demo.run_root('iso_unet', args) == args.out_dir != str(previous)


def test_seg_demo_keeps_a_diverged_run_scores_it_as_no_lesion_and_resumes(tmp_path, monkeypatch):
    """A reported run that stops on a non-finite value is kept (the other runs go on) and scored as
    a model that marks no lesion; --resume DIR finishes DIR with the arguments it was started
    with."""
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import seg_demo

    from isonet_det.experiments import launch
    out = tmp_path / 'run'
    args = seg_demo.parse_args(
        ['--seeds', '0', '1', '--epochs', '4', '--tune-epochs', '2', '--out-dir',
         str(out)])
    resumed = seg_demo.parse_args(['--resume', str(out)])
    assert (resumed.out_dir, resumed.seeds, resumed.epochs) == (str(out), [0, 1], 4)

    calls = []

    def blows_up(arm, lr, seed, epochs, work_dir, args, split):
        calls.append(seed)
        os.makedirs(work_dir)
        raise launch.Diverged(f'{arm} failed; log:\nFloatingPointError: iteration 33: nan')

    monkeypatch.setattr(seg_demo, 'train', blows_up)
    run = seg_demo.report_run('iso_unet', 0, 0.05, args)
    assert run['diverged'] and run['stopped'] == 'FloatingPointError: iteration 33: nan'
    assert seg_demo.report_run('iso_unet', 0, 0.05, args)['diverged'] and calls == [0]  # kept
    gts = [np.array([[0, 1], [0, 0]], np.uint8), np.zeros((2, 2), np.uint8)]
    none = seg_demo.segmentation_scores([np.zeros_like(g) for g in gts], gts)
    assert none['lesion_IoU'] == 0 and none['mIoU'] == pytest.approx(
        100 * 7 / 8 / 2)  # 7 of 8 pixels
    preds = seg_demo.score_reported(run, images=None, gts=gts)  # no model is loaded
    assert all(not p.any() for p in preds) and run['params'] is None
    assert {k: run[k] for k in none} == none  # mIoU and mDice too (it has no evaluation)
    trained = dict(
        arm='iso_unet',
        seed=1,
        diverged=False,
        s_per_iter=0.5,
        peak_rss_mib=900.0,
        params=2e6,
        mIoU=80.0,
        mDice=85.0,
        lesion_IoU=0.6,
        lesion_Dice=0.7)
    bn = [dict(trained, arm='unet_bn', seed=s, mIoU=90.0) for s in (0, 1)]
    runs = [run, trained] + bn
    threshold = dict(none, t=120)
    rows, paired = seg_demo.summarise(runs, threshold, args)
    iso = rows['iso_unet']
    assert iso['diverged'] == 1 and iso['params'] == 2e6 and iso['peak_rss_mib'] == 900.0
    assert iso['mIoU'][0] == pytest.approx((none['mIoU'] + 80.0) / 2)
    assert paired['mIoU']['pairs'] == 2
    choices = {arm: dict(lr=0.05, interior=True, runs=[]) for arm in ('iso_unet', 'unet_bn')}
    table = seg_demo.write_table(rows, paired, choices, threshold, args, 1.0)
    assert '(1 of 2 seeds diverged)' in table and 'marks no lesion' in table


def test_seg_demo_chooses_on_two_tuning_seeds_a_diverged_seed_counting_zero(tmp_path, monkeypatch):
    """Every lr trains the whole schedule on each --tune-seeds seed (two at least, none reported);
    its score is the mean tuning-split mIoU with a diverged seed at 0, so an lr that diverges on one
    seed loses to one that trains on both even where its other seed scored higher."""
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import seg_demo

    from isonet_det.experiments import launch
    for bad in (['--tune-seeds', '100'], ['--tune-seeds', '0', '100']):
        with pytest.raises(SystemExit):
            seg_demo.parse_args(['--out-dir', str(tmp_path / 'refused')] + bad)
    args = seg_demo.parse_args(['--epochs', '6', '--out-dir', str(tmp_path / 'run')])
    assert args.tune_seeds == [100, 101] and args.tune_epochs == 6  # the whole schedule
    scores = {(0.025, 100): 80.0, (0.025, 101): 82.0, (0.05, 100): 90.0, (0.05, 101): None}
    trained = []

    def fake_train(arm, lr, seed, epochs, work_dir, args, split):
        trained.append((lr, seed, epochs, split))
        os.makedirs(work_dir)
        if scores[lr, seed] is None:
            raise launch.Diverged('FloatingPointError: iteration 9: nan')
        return dict(arm=arm, lr=lr, seed=seed, mIoU=scores[lr, seed], loss=[1.0, 0.5])

    monkeypatch.setattr(seg_demo, 'train', fake_train)

    def setting(lr):
        runs = [seg_demo.tune_seed_run('iso_unet', lr, seed, args) for seed in args.tune_seeds]
        return seg_demo.tune_setting('iso_unet', lr, runs)

    safe, risky = (setting(lr) for lr in (0.025, 0.05))
    assert sorted(trained) == sorted((lr, s, 6, 'tune') for lr, s in scores)
    assert safe['mIoU'] == 81.0 and safe['final_loss'] == 0.5 and safe['diverged'] == 0
    assert risky['mIoU'] == 45.0 and risky['per_seed'] == [90.0, None] and risky['diverged'] == 1
    assert seg_demo.tuning.best_lr({0.025: safe, 0.05: risky}, seg_demo.score) == 0.025
    assert setting(0.05) == risky and len(trained) == 4  # kept
