"""Training runs in their own processes, a few at a time, for the experiment tools.

One process per run gives each its own peak resident memory (``os.wait4``) and a clean
interpreter; running ``jobs`` of them at once with ``cores / jobs`` threads each keeps a small
machine busy without oversubscribing it (on the 2-core CI machine, two 1-thread runs finish the
same work in 0.6x the time of one 2-thread run after the other).
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Sequence

import isonet_det

# what mmdet's CocoMetric logs when a model detected nothing in the whole split (and writes no
# metric)
EMPTY_RESULTS = 'The testing results of the whole dataset is empty'


class Diverged(RuntimeError):
    """A training run stopped on a non-finite loss or regulariser (``FloatingPointError``)."""


def threads_per_job(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def train_in_subprocess(config: str,
                        work_dir: str,
                        jobs: int = 1,
                        name: Optional[str] = None) -> Dict[str, float]:
    """The package's ``tools/train.py config --work-dir work_dir --overwrite`` (``python -m
    isonet_det.cli train``) in a new process, with this process's ``isonet_det`` first on its
    path (the calling experiment owns ``work_dir``: a run it retrains starts over), its output in
    ``work_dir/train.log``; with ``jobs > 1`` it gets ``OMP_NUM_THREADS = cores / jobs``.

    Returns ``peak_rss_mib`` (the process's maximum resident set) and ``wall_s``. Raises
    ``RuntimeError`` with the log's tail if the run fails, :class:`Diverged` if it stopped on a
    non-finite value.
    """
    return _run_cli(['train', config, '--work-dir', work_dir, '--overwrite'],
                    osp.join(work_dir, 'train.log'), jobs, name or config)


def test_in_subprocess(config: str,
                       checkpoint: str,
                       work_dir: str,
                       jobs: int = 1,
                       name: Optional[str] = None) -> Dict[str, float]:
    """The package's ``tools/test.py config checkpoint --work-dir work_dir`` in a new process, as
    :func:`train_in_subprocess` runs training (output in ``work_dir/test.log``). Returns the
    metrics mmengine wrote (``work_dir/<timestamp>/<timestamp>.json``)."""
    os.makedirs(work_dir, exist_ok=True)
    _run_cli(['test', config, checkpoint, '--work-dir', work_dir], osp.join(work_dir, 'test.log'),
             jobs, name or config)
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    if not files:
        raise FileNotFoundError(f'{name or config}: no metrics file under {work_dir}')
    with open(files[-1]) as f:
        metrics = json.loads(f.readline())
    if not any(key.startswith('coco/') for key in metrics):
        with open(osp.join(work_dir, 'test.log')) as f:
            metrics['detected_nothing'] = EMPTY_RESULTS in f.read()
    return metrics


def coco_mean_ap(metrics: Dict[str, float], kinds: Sequence[str] = ('bbox', 'segm')) -> dict:
    """``{'<kind>_mAP': value}`` for each of ``kinds`` from :func:`test_in_subprocess`'s
    ``metrics``, with ``detected_nothing``: a model that detected nothing in the whole split
    scores 0.0 (mmdet's CocoMetric then logs that the results are empty and writes no metric)."""
    if metrics.get('detected_nothing'):
        return dict({f'{kind}_mAP': 0.0 for kind in kinds}, detected_nothing=True)
    missing = [kind for kind in kinds if f'coco/{kind}_mAP' not in metrics]
    if missing:
        raise KeyError(f'tools/test.py wrote no {" / ".join(missing)} mAP (its metrics: '
                       f'{", ".join(sorted(metrics))})')
    return dict({f'{kind}_mAP': metrics[f'coco/{kind}_mAP']
                 for kind in kinds},
                detected_nothing=False)


def _run_cli(arguments: List[str], log_path: str, jobs: int, name: str) -> Dict[str, float]:
    """``python -m isonet_det.cli *arguments`` in a new process (see
    :func:`train_in_subprocess`)."""
    env = dict(os.environ)
    package_parent = osp.dirname(osp.dirname(osp.abspath(isonet_det.__file__)))
    env['PYTHONPATH'] = os.pathsep.join(p for p in (package_parent, env.get('PYTHONPATH')) if p)
    if jobs > 1:  # N processes share the cores instead of oversubscribing them
        env['OMP_NUM_THREADS'] = str(threads_per_job(jobs))
    start = time.perf_counter()
    with open(log_path, 'w') as log:
        proc = subprocess.Popen([sys.executable, '-m', 'isonet_det.cli', *arguments],
                                stdout=log,
                                stderr=subprocess.STDOUT,
                                env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:  # a wait status: 0 only for exit code 0 (no signal)
        with open(log_path) as f:
            tail = f.read()[-3000:]
        error = Diverged if 'FloatingPointError' in tail else RuntimeError
        raise error(f'{name} failed; {log_path}:\n{tail}')
    return dict(peak_rss_mib=usage.ru_maxrss / 1024, wall_s=time.perf_counter() - start)


def steady_s_per_iter(times: Sequence[float]) -> float:
    """Mean of mmengine's logged per-iteration ``time`` values, leaving out the first log window
    (start-up) when there is more than one."""
    steady = list(times[1:]) or list(times)
    return sum(steady) / len(steady)


def run_all(tasks: Sequence[Callable[[], object]], jobs: int) -> List[object]:
    """Call each of ``tasks`` (no arguments), ``jobs`` at a time; their results in order."""
    if jobs <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(lambda task: task(), tasks))


def read_scalars(work_dir: str) -> List[dict]:
    """The rows of mmengine's ``vis_data/scalars.json`` of the newest run under ``work_dir``."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no mmengine json log under {work_dir}')
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_detector_series(work_dir: str) -> Dict[str, list]:
    """A detector run's series from :func:`read_scalars`: per logged training iteration
    ``iters``, ``loss``, ``isometry_reg`` (``nan`` where not logged) and ``time``; per evaluation
    ``bbox_mAP`` and ``segm_mAP`` (COCO metrics, in order)."""
    rows = read_scalars(work_dir)
    trains = [r for r in rows if 'loss' in r]
    vals = [r for r in rows if 'coco/bbox_mAP' in r]
    return dict(
        iters=[r['iter'] for r in trains],
        loss=[r['loss'] for r in trains],
        isometry_reg=[r.get('isometry_reg', float('nan')) for r in trains],
        time=[r['time'] for r in trains],
        bbox_mAP=[r['coco/bbox_mAP'] for r in vals],
        segm_mAP=[r['coco/segm_mAP'] for r in vals])
