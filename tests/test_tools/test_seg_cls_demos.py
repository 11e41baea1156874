"""tools/seg_demo.py and tools/cls_demo.py in their --quick modes: they train, evaluate, draw or
transfer, and report; and they refuse to write into a folder that holds something."""
import json
import os.path as osp
import subprocess
import sys

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
def test_seg_demo_quick_trains_both_and_reports(tmp_path):
    out = tmp_path / 'run'
    done = run('seg_demo.py', '--quick', '--num-train', '16', '--data', str(tmp_path / 'scans'),
               '--out-dir', str(out))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    saved = json.loads((out / 'results.json').read_text())
    assert set(saved['runs']) == {'iso_unet', 'unet_bn'}
    for r in saved['runs'].values():
        assert 0 <= r['mIoU'] <= 100 and 0 <= r['lesion_Dice'] <= 1 and r['params'] > 1e6
    assert (out / 'predictions.png').stat().st_size > 10_000
    table = (out / 'table.md').read_text()
    assert 'ISO-UNet' in table and 'UNet + BN' in table and 'Run time' in table
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
    from seg_demo import lesion_scores
    pred = [np.array([[1, 1], [0, 0]], np.uint8), np.array([[1, 0], [0, 0]], np.uint8)]
    gt = [np.array([[1, 0], [0, 0]], np.uint8), np.array([[1, 1], [1, 0]], np.uint8)]
    # intersection 2, predicted 3, true 4: IoU 2 / 5, Dice 4 / 7
    iou, dice = lesion_scores(pred, gt)
    assert iou == pytest.approx(2 / 5) and dice == pytest.approx(4 / 7)
    empty = [np.zeros((2, 2), np.uint8)]
    assert lesion_scores(empty, empty) == (0.0, 0.0)
