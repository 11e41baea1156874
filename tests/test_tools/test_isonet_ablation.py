"""tools/analysis/isonet_ablation.py: the model's resolution and Kaiming fan-in, the lr grid, the
learning curves and the device option (tiny settings, CPU)."""
import importlib.util
import json
import math
import os.path as osp
import subprocess
import sys

import pytest
import torch

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
TOOL = osp.join(ROOT, 'tools', 'analysis', 'isonet_ablation.py')


def tool(*args):
    return subprocess.run([sys.executable, TOOL, *args],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=600)


@pytest.fixture(scope='module')
def ablation():
    spec = importlib.util.spec_from_file_location('isonet_ablation', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cifar_stem_keeps_every_stage_at_4x4_or_more(ablation):
    torch.manual_seed(0)
    cifar = ablation.ISONetClassifier(18, 4, 'delta', 'srelu', 4)  # defaults: cifar stem, 32 px
    assert cifar.stage_sizes == {
        'stem': (32, 32),
        'layer1': (32, 32),
        'layer2': (16, 16),
        'layer3': (8, 8),
        'layer4': (4, 4)
    }
    imagenet = ablation.ISONetClassifier(18, 4, 'delta', 'srelu', 4, stem='imagenet')
    assert [imagenet.stage_sizes[f'layer{i}'] for i in range(1, 5)] == [(8, 8), (4, 4), (2, 2),
                                                                        (1, 1)]
    assert cifar(torch.zeros(2, 3, 32, 32)).shape == (2, 4)
    # live-tap fractions: (3n - 2) / 3n taps per axis read an n-pixel input (the edges miss one),
    # the same for the stride-2 conv that halves it
    per_stage = [((3 * n - 2) / (3 * n))**2 for n in (32, 16, 8, 4)]
    expected = [per_stage[0]] * 5 + [per_stage[1]] * 4 + [per_stage[2]] * 4 + [per_stage[3]] * 3
    assert cifar.live_fractions == pytest.approx(expected)
    assert imagenet.live_fractions[-1] == pytest.approx(1 / 9)  # 1 x 1: the centre tap only


def test_live_tap_fraction_of_strided_and_1x1_convs(ablation):
    conv = torch.nn.Conv2d(1, 1, 3, stride=2, padding=1)
    # 8 -> 4 outputs reading input rows -1..1, 1..3, 3..5, 5..7: 11 of 12 taps per axis
    assert ablation.live_tap_fraction(conv, (8, 8)) == pytest.approx((11 / 12)**2)
    assert ablation.live_tap_fraction(torch.nn.Conv2d(1, 1, 1), (2, 2)) == 1.0


def test_kaiming_live_fan_in_rescales_he_by_the_live_taps(ablation):
    torch.manual_seed(3)
    he = ablation.ISONetClassifier(18, 4, 'kaiming', 'relu', 4, kaiming_fan_in='he')
    torch.manual_seed(3)
    live = ablation.ISONetClassifier(18, 4, 'kaiming', 'relu', 4)
    for a, b, f in zip(he.body_convs(), live.body_convs(), live.live_fractions):
        torch.testing.assert_close(b.weight, a.weight / math.sqrt(f))
    torch.testing.assert_close(he.backbone.conv1.weight, live.backbone.conv1.weight)  # the stem
    torch.manual_seed(3)
    delta = ablation.ISONetClassifier(18, 4, 'delta', 'relu', 4)
    # Delta kernels are not rescaled
    assert all(float(c.weight.detach().abs().max()) == 1.0 for c in delta.body_convs())


def test_lr_grid_is_sqrt10_apart_and_device_is_an_option(ablation, tmp_path):
    args = ablation.parse_args(['--out-dir', str(tmp_path / 'a')])
    assert args.stem == 'cifar' and args.kaiming_fan_in == 'live' and args.device == 'cpu'
    assert args.lrs[0] == pytest.approx(1e-3) and args.lrs[-1] == pytest.approx(1e-1)
    assert all(b / a == pytest.approx(math.sqrt(10)) for a, b in zip(args.lrs, args.lrs[1:]))
    assert ablation.LR_FACTOR == pytest.approx(math.sqrt(10))
    assert ablation.parse_args(['--stem', 'imagenet', '--out-dir', str(tmp_path / 'b')]).stem == \
        'imagenet'
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            ablation.parse_args(['--device', 'cuda', '--out-dir', str(tmp_path / 'c')])


def test_sweep_extends_down_while_nothing_learns(ablation, tmp_path, monkeypatch):
    """The sweep passes the task's chance loss: a grid flat at chance (the GPU run's Kaiming + ReLU
    sweep, 1.36-1.39 against log 4) is not an interior choice, it extends to smaller lrs."""
    seen = {}

    def sweep_and_train(*args, **kwargs):
        seen.update(kwargs)
        raise StopIteration

    monkeypatch.setattr(ablation.tr, 'sweep_and_train', sweep_and_train)
    args = ablation.parse_args(['--out-dir', str(tmp_path / 'a')])
    with pytest.raises(StopIteration):
        ablation.sweep_then_seeds(None, None, None, args)
    assert seen['chance_loss'] == pytest.approx(math.log(4))
    flat = dict(zip(args.lrs, (1.385, 1.361, 1.372, 1.386, 1.39)))
    extend = ablation.tr.grid_extension(args.lrs, flat, seen['factor'], seen['chance_loss'])
    assert extend == pytest.approx(args.lrs[0] / math.sqrt(10))


def test_graph_penalty_has_the_regulariser_value_and_gradient(ablation):
    from isonet_det.ops import isometry_penalty
    torch.manual_seed(1)
    convs = ablation.ISONetClassifier(18, 4, 'kaiming', 'srelu', 4).body_convs()
    weights = [c.weight for c in convs]
    expected = 0.3 * isometry_penalty(convs)
    value = 0.3 * ablation.IsometryPenalty()(convs)
    torch.testing.assert_close(value, expected)
    for a, b in zip(torch.autograd.grad(value, weights), torch.autograd.grad(expected, weights)):
        torch.testing.assert_close(a, b)


def test_isonet_ablation_small(tmp_path):
    out = tmp_path / 'run'
    run = tool('--depth', '18', '--base-channels', '4', '--size', '16', '--steps', '4',
               '--sweep-steps', '2', '--lrs', '1e-3', '1e-2', '--max-extensions', '1', '--seeds',
               '0', '1', '--num-train', '64', '--num-test', '32', '--arms', 'delta+srelu+0',
               'kaiming+relu+1e-4+5e-4', '--track-every', '2', '--eval-every', '2', '--device',
               'cpu', '--out-dir', str(out))
    assert run.returncode == 0, run.stderr[-3000:]
    saved = json.loads((out / 'results.json').read_text())
    assert saved['device'] == 'cpu' and saved['stem'] == 'cifar'
    assert saved['stage_sizes'] == {
        'stem': [16, 16],
        'layer1': [16, 16],
        'layer2': [8, 8],
        'layer3': [4, 4],
        'layer4': [2, 2]
    }
    assert 'layer4 2 x 2' in run.stdout and 'below 4 x 4' in run.stdout
    assert len(saved['live_tap_fraction']) == 16
    assert [r['arm']
            for r in saved['results']] == ['delta+srelu+0+0.0001', 'kaiming+relu+0.0001+0.0005']
    assert all(len(r['runs']) == 2 and len(r['runs'][0]['losses']) <= 4 for r in saved['results'])
    for r in saved['results']:
        lrs = sorted(map(float, r['sweep']))
        assert lrs[:2] == [1e-3, 1e-2] or lrs[1:] == [1e-3, 1e-2]
        assert len(lrs) == 3 and max(b / a for a, b in zip(lrs, lrs[1:])) == pytest.approx(10)
        assert min(b / a for a, b in zip(lrs, lrs[1:])) == pytest.approx(math.sqrt(10))
        for x in r['runs']:  # the held-out learning curve of every reported run
            assert [step for step, _ in x['held_out']] == [0, 2, 4] or x['diverged']
    tracked = saved['results'][0]['runs'][0]['orthogonality']
    assert [step for step, _ in tracked] == [0, 2, 4] and len(tracked[0][1]) == 16
    assert tracked[0][1] == [0.0] * 16  # Delta init is an isometry
    assert set(saved['baselines']) == {
        'linear on pixels', 'delta+srelu, body frozen at init', 'kaiming+relu, body frozen at init'
    }
    assert all('held_out' in x for b in saved['baselines'].values() for x in b['runs'])
    for name in ('table.md', 'curves.png', 'orthogonality.png'):
        assert (out / name).exists(), name
    assert not (out / 'results_partial.json').exists()  # replaced by results.json at the end
    table = (out / 'table.md').read_text()
    assert 'Budget: 4 steps of batch 32' in table and 'curves.png' in table
    assert 'loss drop, last fifth' in table and 'x3.16 apart' in table
    assert '±' in run.stdout and 'DeltaInit' not in run.stdout + run.stderr
    for arm, message in (('delta+gelu+0', 'activation must be one of'),
                         ('delta+srelu+0+-1', 'weight_decay must be finite'),
                         ('delta+srelu+x', "coeff 'x' is not a number")):
        bad = tool('--arms', arm, '--out-dir', str(tmp_path / 'x'))
        assert bad.returncode != 0 and message in bad.stderr, arm
