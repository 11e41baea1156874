"""Choosing a learning rate on held-out data, and the paired comparison the experiment tools report
(``tools/analysis/compare_detectors.py``, ``tools/seg_demo.py``)."""
import argparse
import math
from functools import partial
from typing import Callable, Dict, Hashable, List, Optional, Sequence, Tuple, Union

from .launch import run_all


def add_tune_seeds_argument(parser: argparse.ArgumentParser) -> None:
    """``--tune-seeds`` (default 100 101): the seeds every tuning setting trains on; checked by
    :func:`check_tune_seeds` once ``--seeds`` is parsed."""
    parser.add_argument(
        '--tune-seeds',
        type=int,
        nargs='+',
        default=[100, 101],
        help='the seeds every tuning setting trains on (at least 2; none of --seeds)')


def check_tune_seeds(parser: argparse.ArgumentParser,
                     args: argparse.Namespace,
                     choosing: bool = True) -> None:
    """Refuse (``parser.error``) ``args.tune_seeds`` that share a seed with ``args.seeds`` (a
    reported seed takes no part in a choice) or, where the run makes a choice (``choosing``),
    fewer than two distinct seeds."""
    if choosing and len(set(args.tune_seeds)) < 2:
        parser.error(f'--tune-seeds: every choice is made on at least 2 seeds, got '
                     f'{args.tune_seeds}')
    shared = sorted(set(args.tune_seeds) & set(args.seeds))
    if shared:
        parser.error(f'--tune-seeds {args.tune_seeds} and --seeds {args.seeds} share {shared}: a '
                     'reported seed takes no part in a choice')


def mean_final_loss(runs: Sequence[dict]) -> float:
    """The mean over ``runs`` (one setting's runs on its tuning seeds) of each run's last logged
    training loss (``run['loss'][-1]``); infinite where a run diverged or logged none, so that
    :func:`score` ranks such a setting's tie-break last."""
    losses = [r['loss'][-1] if r['loss'] and not r.get('diverged') else math.inf for r in runs]
    return sum(losses) / len(losses) if all(map(math.isfinite, losses)) else math.inf


def best_lr(results: Dict[float, dict], score: Callable[[dict], tuple]) -> float:
    """The lr of the best run among ``results`` (``{lr: run}``), by ``score`` (higher is better;
    the first in grid order on a tie)."""
    return max(sorted(results), key=lambda lr: score(results[lr]))


def score(value: float, final_loss: float) -> Tuple[float, float]:
    """The tuning order of a run (higher is better): its held-out ``value`` (mAP, mIoU), then the
    lower final training loss; a non-finite value (a diverged run) below every score, a
    non-finite loss as the worst loss."""
    return (value if math.isfinite(value) else -1.0,
            -final_loss if math.isfinite(final_loss) else -math.inf)


def tune_lr_grids(
    keys: Sequence[Hashable],
    lrs: Union[Sequence[float], Dict[Hashable, Sequence[float]]],
    train: Callable[..., dict],
    score: Callable[[dict], tuple],
    jobs: int = 1,
    max_extensions: int = 2,
    factor: float = 2.0,
    seeds: Optional[Sequence[int]] = None,
    combine: Optional[Callable[[Hashable, float, List[dict]], dict]] = None
) -> Dict[Hashable, Dict[float, dict]]:
    """For every key (an arm, or an (arm, multiplier) pair), a setting at each of ``lrs`` (or of
    ``lrs[key]``): ``train(key, lr)``, or with ``seeds`` ``combine(key, lr, runs)`` of the runs
    ``train(key, lr, seed)`` for each seed (in ``seeds``' order);
    while a key's best lr is its grid's largest (smallest), ``lr * factor`` (``lr / factor``) is
    added, at most ``max_extensions`` times per key. Each round trains what the grids still need,
    ``jobs`` at a time, every (setting, seed) run a job of its own: a round of one setting still
    fills ``jobs`` workers with its seeds. Returns ``{key: {lr: setting}}``; a grid of one lr is
    not extended."""
    if (seeds is None) != (combine is None):
        raise ValueError('tune_lr_grids: seeds and combine go together (a setting over seeds)')
    grids = {key: dict.fromkeys(lrs[key] if isinstance(lrs, dict) else lrs) for key in keys}
    extensions = dict.fromkeys(keys, 0)
    while True:
        todo = [(key, lr) for key, grid in grids.items() for lr, run in grid.items() if run is None]
        if not todo:
            return grids
        if seeds is None:
            tasks = [partial(train, key, lr) for key, lr in todo]
        else:
            tasks = [partial(train, key, lr, seed) for key, lr in todo for seed in seeds]
        runs = run_all(tasks, jobs)
        for i, (key, lr) in enumerate(todo):
            grids[key][lr] = runs[i] if seeds is None else combine(
                key, lr, runs[i * len(seeds):(i + 1) * len(seeds)])
        for key, grid in grids.items():
            ordered = sorted(grid)
            best = best_lr(grid, score)
            if len(ordered) > 1 and best in (ordered[0], ordered[-1]) \
                    and extensions[key] < max_extensions:
                grid[best * factor if best == ordered[-1] else best / factor] = None
                extensions[key] += 1


def is_interior(grid: Dict[float, dict], lr: float) -> bool:
    """Whether ``lr`` has a tried lr on both sides in ``grid`` (or the grid has one lr)."""
    ordered = sorted(grid)
    return len(ordered) == 1 or ordered[0] < lr < ordered[-1]


def order_held(curves: Dict[str, Sequence[float]], epochs: int) -> Dict[str, dict]:
    """Whether the order of the arms (or variants) by ``curves`` (``{name: held-out score after
    each of ``epochs`` epochs}``, the lr decayed for the last) is the same at two pairs of
    evaluations: ``'last'`` (epochs E-1 and E, the decay between them) and ``'before_decay'`` (E-2
    and E-1). For each: ``held`` (``None`` where a curve lacks those epochs), the 1-based
    ``epochs`` and the two ``orders``, best first."""
    held = {}
    for key, first in (('last', epochs - 2), ('before_decay', epochs - 3)):
        if first < 0 or not all(len(c) >= first + 2 for c in curves.values()):
            held[key] = dict(held=None, epochs=[], orders=[])
            continue
        orders = [sorted(curves, key=lambda name: -curves[name][e]) for e in (first, first + 1)]
        held[key] = dict(held=orders[0] == orders[1], epochs=[first + 1, first + 2], orders=orders)
    return held


def paired_interval(differences: Sequence[float],
                    confidence: float = 0.95) -> Tuple[float, float, float]:
    """Mean of paired differences and its two-sided ``confidence`` Student-t interval
    ``(mean, low, high)``: ``mean -+ t_{n-1} sd / sqrt(n)`` (``nan`` bounds for one pair)."""
    from scipy import stats
    n = len(differences)
    mean = sum(differences) / n
    if n < 2:
        return mean, float('nan'), float('nan')
    sd = math.sqrt(sum((d - mean)**2 for d in differences) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def verdict(low: float, high: float) -> str:
    """The word a comparison gets: ``'ahead'`` / ``'behind'`` only where the interval excludes 0,
    ``'not resolved'`` where it contains it, ``'one seed'`` without an interval."""
    if low > 0:
        return 'ahead'
    if high < 0:
        return 'behind'
    return 'not resolved' if math.isfinite(low) else 'one seed'


def compare_paired(mine: Dict[int, float], reference: Dict[int, float]) -> Dict:
    """``mine - reference`` over the seeds both have: mean, 95% interval, verdict, pairs."""
    seeds: List[int] = sorted(set(mine) & set(reference))
    if not seeds:
        raise ValueError(f'no seed in common: {sorted(mine)} against {sorted(reference)}')
    mean, low, high = paired_interval([mine[s] - reference[s] for s in seeds])
    return dict(mean=mean, low=low, high=high, verdict=verdict(low, high), pairs=len(seeds))
