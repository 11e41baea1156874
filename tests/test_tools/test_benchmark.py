"""tools/benchmarks/benchmark.py runs and prints every figure it promises (no timing checks)."""
import os.path as osp
import re
import subprocess
import sys

import pytest

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
SCRIPT = osp.join(ROOT, 'tools', 'benchmarks', 'benchmark.py')


def run_benchmark(*args, block_mmdet=False):
    """The benchmark's stdout; ``block_mmdet`` runs it as if mmdet could not be imported."""
    block = 'sys.modules["mmdet"] = None; ' if block_mmdet else ''
    code = (f'import runpy, sys; {block}sys.argv = {[SCRIPT, *args]!r}; '
            'runpy.run_path(sys.argv[0], run_name="__main__")')
    proc = subprocess.run([sys.executable, '-c', code],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_benchmark_sections_print_their_ratios():
    out = run_benchmark('--only', 'penalty,shard,backbone,inference', '--repeats', '1',
                        '--image-size', '64', '--depths', '50')
    for section in ('penalty', 'shard', 'backbone', 'inference'):
        assert f'## {section}' in out
    # every form of the penalty agrees with float64
    errors = re.findall(
        r'R-ISONet-50\s+\d+\s+(direct \(reference code\)|autograd, ieee|hook path, ieee)\s+'
        r'[\d.]+\s+[\d.]+x\s+([\d.e+-]+)\s+([\d.e+-]+)', out)
    assert len(errors) == 3 and all(float(v) < 1e-5 and float(g) < 1e-5 for _, v, g in errors), out
    assert re.search(r'all trained, fp32\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+\d+ MiB', out)
    assert re.search(r'all trained, fp32: [\d.]+ ms / [\d.]+ ms = [\d.]+', out)  # the share
    assert 'folded against unfolded outputs' in out


@pytest.mark.slow
def test_benchmark_runs_without_mmdet():
    """A GPU machine with torch, mmengine and mmcv without ops cannot import mmdet: the BN
    baseline is then torchvision's ResNet-50 and the detector section says why it is skipped."""
    out = run_benchmark(
        '--only',
        'backbone,srelu,detector',
        '--repeats',
        '1',
        '--image-size',
        '64x96',
        block_mmdet=True)
    assert "baseline torchvision's ResNet-50 (mmdet not importable" in out
    assert re.search(r'stem \+ stage 1 frozen, fp32\s+[\d.]+\s+[\d.]+', out)
    assert re.search(r'float32\s+7\.0\d\s+5\.5\d\s+[\d.]+\s+[\d.]+', out), out
    assert "skipped: mmdet with mmcv's compiled ops is not importable here" in out


def test_unknown_sections_are_named():
    proc = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'benchmarks', 'benchmark.py'), '--only', 'penalty,speed'
    ],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode != 0 and "unknown sections ['speed']" in proc.stderr
