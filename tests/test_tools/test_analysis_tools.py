"""The analysis tools run and write their files (tiny settings)."""
import csv
import json
import math
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
    report = json.loads((out / 'report.json').read_text())
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
    results = json.loads((tmp_path / 'jacobian_spectrum.json').read_text())['results']
    assert set(results) == {'circular', 'zeros'}
    # Delta kernels never read the padding: the same spectrum either way
    for padding in results:
        assert results[padding]['delta_srelu']['fraction_near_one'] == 1.0
    assert (results['circular']['delta_orthogonal_tanh']['singular_values'] == results['zeros']
            ['delta_orthogonal_tanh']['singular_values'])
    assert (tmp_path / 'jacobian_spectrum.png').exists()


ARMS = ('do_tanh_critical', 'gauss_tanh_critical', 'gauss_tanh_critical_zeros', 'do_tanh_ordered',
        'do_tanh_chaotic', 'kaiming_relu', 'kaiming_relu_zeros', 'isonet', 'isonet_noreg',
        'kaiming_relu_orth')


def test_depth_trainability_small(tmp_path):
    out = tmp_path / 'run'
    run = tool('depth_trainability.py', '--depths', '2', '5', '--steps', '4', '--sweep-steps', '2',
               '--lrs', '1e-3', '3.16e-3', '--max-extensions', '2', '--width', '4', '--num-train',
               '64', '--num-test', '32', '--map-depths', '2', '4', '--map-sigma-w2', '0.5', '2.0',
               '--map-lrs', '1e-2', '--map-steps', '2', '--jacobian-depth', '3', '--jacobian-width',
               '2', '--deep-depth', '7', '--arms', *ARMS, '--device', 'cpu', '--out-dir', str(out))
    assert run.returncode == 0, run.stderr[-3000:]
    saved = json.loads((out / 'results.json').read_text())
    expected = {(d, a) for d in (2, 5) for a in ARMS}
    deep = ('do_tanh_critical', 'gauss_tanh_critical', 'kaiming_relu', 'isonet_noreg')
    expected |= {(7, a) for a in deep}
    assert {(r['depth'], r['arm']) for r in saved['results']} == expected
    assert saved['task'] == 'pairs' and saved['linear_probe']['test_accuracy'] >= 0
    assert saved['device'] == 'cpu' and saved['lr_factor'] == pytest.approx(10**0.5)
    for r in saved['results']:
        # the grid: x sqrt(10) apart, extended by the same factor, at most twice
        lrs = sorted(float(lr) for lr in r['sweep'])
        assert {1e-3, 3.16e-3} <= set(lrs) and str(r['lr']) in r['sweep'] and len(lrs) <= 4
        assert all(b / a == pytest.approx(3.16, rel=1e-3) for a, b in zip(lrs, lrs[1:]))
        assert len(r['losses']) <= 4 and r['tried'][-1] == r['lr']
        assert r['padding'] == ('zeros' if r['arm'].endswith('_zeros') else 'circular')
        assert isinstance(r['interior'], bool) and isinstance(r['still_falling'], bool)
        frozen = r['frozen_body']
        assert r['body_change'] >= 0 and 0 <= frozen['test_accuracy'] <= 1
        assert frozen['feature_sd'] > 0 and len(frozen['losses']) <= 4 and len(frozen['sweep']) > 1
        jac = r['jacobian']
        assert 0 <= jac['min'] <= jac['p10'] <= jac['median'] <= jac['p90'] <= jac['max']
        if r['arm'].startswith('isonet'):  # Delta + SReLU: 1 where no unit sits at its threshold
            assert jac['max'] == pytest.approx(1) and jac['p90'] == pytest.approx(1)
    critical = next(r for r in saved['results'] if r['arm'] == 'do_tanh_critical')
    assert abs(critical['sigma_w2'] - 1.05) < 1e-3 and critical['q_star'] > 0
    assert len(saved['phase_map']) == 4 and all('xi_c' in c for c in saved['phase_map'])
    for c in saved['phase_map']:
        assert 0 <= c['frozen_accuracy'] <= 1 and c['frozen']['feature_sd'] > 0
        assert c['trained']['lr'] is not None and c['frozen']['lr'] is not None
    assert 0 <= saved['phase_map_linear_probe'] <= 1
    assert run.stdout.count('phase map: sigma_w^2') == 4  # each cell as it ends (and saved)
    spectrum = saved['jacobian']['isonet_noreg']['singular_values']
    assert len(spectrum) == 2 * 16
    assert saved['jacobian']['do_tanh_ordered']['mean_field_mean_sq'] < 1
    assert saved['jacobian']['kaiming_relu_zeros']['padding'] == 'zeros'
    assert 'Linear classifier on the raw pixels' in run.stdout and 'frozen' in run.stdout
    assert 'Budget: 4 steps' in run.stdout and 'critical line' in run.stdout
    assert 'maps all inputs together' not in run.stdout
    for name in ('table.md', 'curves.png', 'phase_map.png', 'jacobian_spectra.png'):
        assert (out / name).exists(), name
    assert 'do_tanh_critical' in run.stdout and '6 xi_c' in run.stdout
    again = tool('depth_trainability.py', '--depths', '2', '--out-dir', str(out))
    assert again.returncode != 0 and 'not overwritten' in again.stderr
    bad = tool('depth_trainability.py', '--device', 'tpu', '--out-dir', str(tmp_path / 'x'))
    assert bad.returncode != 0 and 'invalid choice' in bad.stderr


def test_depth_trainability_phase_map_alone(tmp_path):
    """A run of the phase map only (no arm, no depth-100 cell) writes its map and no arms' table;
    a cell whose every lr stays at chance is marked, not reported as a choice."""
    out = tmp_path / 'map'
    run = tool('depth_trainability.py', '--depths', '--deep-depth', '0', '--map-depths', '3',
               '--map-sigma-w2', '0.5', '--map-lrs', '1e-6', '--max-extensions', '0', '--map-steps',
               '2', '--width', '4', '--num-train', '64', '--num-test', '32', '--jacobian-depth',
               '0', '--out-dir', str(out))
    assert run.returncode == 0, run.stderr[-3000:]
    saved = json.loads((out / 'results.json').read_text())
    assert saved['results'] == [] and len(saved['phase_map']) == 1
    assert saved['phase_map'][0]['trained']['final_loss'] > 0.95 * math.log(10)
    table = (out / 'table.md').read_text()
    assert '| 0.5 | 9 |' in table and '∅' in table and '| arm |' not in table
    assert (out / 'phase_map.png').exists() and not (out / 'curves.png').exists()
    assert not (out / 'results_partial.json').exists()


def test_jacobian_singular_values_vectorized_are_the_same():
    import torch

    from isonet_det.analysis import PlainCNN, jacobian_singular_values
    torch.manual_seed(0)
    model = PlainCNN(3, 3, scheme='gaussian_tanh', padding_mode='circular').double()
    x = torch.randn(3, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(
        jacobian_singular_values(model.body, x, vectorize=True),
        jacobian_singular_values(model.body, x))


@pytest.mark.slow
def test_trainability_tools_quick(tmp_path):
    """The --quick runs the docs name, as they are (a minute or two each)."""
    for name in ('depth_trainability.py', 'isonet_ablation.py'):
        run = tool(name, '--quick', '--out-dir', str(tmp_path / name))
        assert run.returncode == 0, run.stderr[-3000:]
        assert (tmp_path / name / 'table.md').read_text().count('|') > 20
