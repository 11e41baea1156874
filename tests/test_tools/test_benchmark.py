"""tools/benchmarks/benchmark.py runs and prints every figure it promises (no timing checks)."""
import os.path as osp
import re
import subprocess
import sys

import pytest

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


@pytest.mark.slow
def test_benchmark_sections_print_their_ratios():
    proc = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'benchmarks', 'benchmark.py'), '--only',
        'penalty,shard,backbone,inference', '--repeats', '1', '--image-size', '64', '--depths', '50'
    ],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for section in ('penalty', 'shard', 'backbone', 'inference'):
        assert f'## {section}' in out
    # the penalty agrees with the direct form
    errors = re.findall(
        r'R-ISONet-(?:50|101)\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+x\s+'
        r'[\d.]+x\s+([\d.e+-]+)\s+([\d.e+-]+)', out)
    assert len(errors) == 1 and all(float(v) < 1e-5 and float(g) < 1e-5 for v, g in errors), out
    assert re.search(r'all trained\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+\d+ MiB', out)
    assert 'folded against unfolded outputs' in out


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
