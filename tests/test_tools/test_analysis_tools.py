"""The analysis tools run and write their files (tiny settings)."""
import csv
import json
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
DEMO = osp.join(ROOT, 'configs', 'demo', 'mask-rcnn_risonet18_fpn_shapes.py')


def tool(name, *args):
    return subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'analysis', name), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600)


def test_isometry_report_at_init(tmp_path):
    out = tmp_path / 'report'
    run = tool('isometry_report.py', DEMO, '--n', '8', '--out-dir', str(out))
    assert run.returncode == 0, run.stderr[-3000:]
    rows = list(csv.DictReader(open(out / 'layers.csv')))
    assert len(rows) == 1 + 8 * 2 + 3 and rows[0]['layer'] == 'backbone.conv1'
    assert all(float(r['orthogonality_error']) == 0.0 for r in rows[1:])
    assert all(abs(float(r['sigma_max']) - 1) < 1e-6 for r in rows[1:])
    stride1 = [r for r in rows[1:] if r['stride'] == '1']
    assert stride1 and all(abs(float(r['sigma_min']) - 1) < 1e-6 for r in stride1)
    report = json.load(open(out / 'report.json'))
    assert any(a['kind'] == 'residual_scale' for a in report['activations'])
    assert (out / 'orthogonality_error.png').stat().st_size > 1000
    assert (out / 'singular_values.png').stat().st_size > 1000
    assert 'backbone.layer4.1.conv2' in run.stdout
    again = tool('isometry_report.py', DEMO, '--out-dir', str(out))
    assert again.returncode != 0 and 'not overwritten' in again.stderr


def test_isometry_report_of_the_whole_detector(tmp_path):
    run = tool('isometry_report.py', DEMO, '--all', '--n', '8', '--out-dir', str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    layers = [r['layer'] for r in csv.DictReader(open(tmp_path / 'layers.csv'))]
    assert any(name.startswith('neck.') for name in layers)
    assert any(name.startswith('roi_head.mask_head') for name in layers)


def test_jacobian_spectrum(tmp_path):
    run = tool('jacobian_spectrum.py', '--depth', '6', '--width', '3', '--size', '4', '--out-dir',
               str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.load(open(tmp_path / 'jacobian_spectrum.json'))['results']
    assert results['delta_srelu']['fraction_near_one'] == 1.0
    assert (tmp_path / 'jacobian_spectrum.png').exists()


@pytest.mark.slow
def test_depth_trainability_small(tmp_path):
    run = tool('depth_trainability.py', '--depths', '3', '12', '--steps', '6', '--width', '4',
               '--num-train', '64', '--out-dir', str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.load(open(tmp_path / 'results.json'))['results']
    assert {(r['depth'], r['setting'])
            for r in results} == {(d, s)
                                  for d in (3, 12)
                                  for s in ('kaiming_relu', 'isonet', 'delta_orthogonal_tanh',
                                            'delta_srelu_noreg')}
    assert all(len(r['losses']) <= 6 for r in results)
    assert (tmp_path / 'loss_curves.png').exists()
    assert 'isonet' in run.stdout and 'final loss' in run.stdout
