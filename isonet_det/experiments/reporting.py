"""What the experiment tools (``tools/analysis/depth_trainability.py``, ``isonet_ablation.py``,
``compare_detectors.py``, ``tools/seg_demo.py``, ``tools/cls_demo.py``) share: the ``--quick``
and ``--out-dir`` options, ``--quick`` presets, a new output folder per run, a run's
``result.json`` that a resumed run keeps, mean ± sd over seeds and the ``table.md`` they write."""
import argparse
import json
import math
import os
import os.path as osp
import time
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from ..utils import check_new_folder


def read_json(path: str):
    """The JSON document in ``path`` (the file closed after reading)."""
    with open(path) as f:
        return json.load(f)


def write_json(path: str, document) -> None:
    """Write ``document`` to ``path`` as JSON (the file closed after writing)."""
    with open(path, 'w') as f:
        json.dump(document, f)


def apply_quick(parser: argparse.ArgumentParser, args: argparse.Namespace, quick: Dict) -> None:
    """With ``args.quick``, set every option of ``quick`` the user left at its default."""
    if args.quick:
        for key, value in quick.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)


def new_folder_arg(path: str) -> str:
    """``type=`` of an ``--out-dir`` option: argparse refuses a non-empty folder by name
    (:func:`isonet_det.utils.check_new_folder`), before the tool writes anything."""
    try:
        return check_new_folder(path)
    except FileExistsError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_run_arguments(parser: argparse.ArgumentParser,
                      tool: str,
                      quick: Dict,
                      duration: str,
                      out_dir_help: str = '') -> None:
    """Every experiment tool's ``--quick`` (the preset ``quick``, said to take ``duration``;
    applied by :func:`apply_quick`) and ``--out-dir`` (a new folder, checked by
    :func:`new_folder_arg`; default ``work_dirs/<tool>/<date_time>``, see :func:`new_run_dir`)."""
    parser.add_argument('--quick', action='store_true', help=f'{duration}: {quick}')
    parser.add_argument(
        '--out-dir',
        type=new_folder_arg,
        default=None,
        help=f'default: work_dirs/{tool}/<date_time>{out_dir_help}')


def resumed_args(parser: argparse.ArgumentParser, folder: str) -> argparse.Namespace:
    """The arguments the run in ``folder`` was started with (its ``args.json``), with ``resume``
    and ``out_dir`` set to ``folder``: a moved or copied folder is finished where it is, never in
    the folder its ``args.json`` was first written for. A folder without one is refused through
    ``parser``."""
    saved = osp.join(folder, 'args.json')
    if not osp.isfile(saved):
        parser.error(f'{folder} is not a run folder of this tool (no args.json)')
    return argparse.Namespace(**dict(read_json(saved), resume=folder, out_dir=osp.abspath(folder)))


def save_run_args(args: argparse.Namespace) -> None:
    """Make ``args.out_dir`` and write ``args`` there as ``args.json`` (all but ``resume``): what
    :func:`resumed_args` reads to finish the run."""
    os.makedirs(args.out_dir, exist_ok=True)
    write_json(
        osp.join(args.out_dir, 'args.json'), {k: v
                                              for k, v in vars(args).items() if k != 'resume'})


def new_run_dir(out_dir: Optional[str], tool: str, root: str = '') -> str:
    """``out_dir`` (checked by :func:`new_folder_arg`), or a new
    ``<root>/work_dirs/<tool>/<date_time>``."""
    return out_dir or osp.join(root, 'work_dirs', tool, time.strftime('%Y%m%d_%H%M%S'))


def mean_sd(values: Iterable[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation of the finite values (``nan`` for none; the sd is
    ``nan`` for one value: no spread from one seed)."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return float('nan'), float('nan')
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, float('nan')
    return mean, math.sqrt(sum((v - mean)**2 for v in values) / (len(values) - 1))


def format_mean_sd(mean_and_sd: Tuple[float, float], empty: str = 'nan', digits: int = 3) -> str:
    """``'0.123 ± 0.004'`` (``digits`` decimals); the mean alone without an sd; ``empty`` without
    a mean."""
    mean, sd = mean_and_sd
    if math.isnan(mean):
        return empty
    return f'{mean:.{digits}f}' if math.isnan(sd) else f'{mean:.{digits}f} ± {sd:.{digits}f}'


def cached_result(work_dir: str, make: Callable[[], dict]) -> dict:
    """``work_dir/result.json`` if it is there (a resumed run keeps what it had), else ``make()``,
    written there."""
    done = osp.join(work_dir, 'result.json')
    if osp.exists(done):
        return read_json(done)
    result = make()
    write_json(done, result)
    return result


def learning_curve_lines(column: str, curves: Dict[str, List[float]], epochs: int,
                         held: Dict[str, dict]) -> List[str]:
    """Markdown lines: a table of ``curves`` (``{name: tuning-split box mAP per epoch}``, mean over
    seeds) headed ``column``, then what
    :func:`isonet_det.experiments.tuning.order_held` found (``held``) for each pair of epochs."""
    lines = [
        '', 'Tuning-split box mAP per epoch (mean over seeds):', '',
        f'| {column} | ' + ' | '.join(f'{e + 1}' for e in range(epochs)) + ' |',
        '|---|' + '---|' * epochs
    ]
    lines += [
        f'| {name} | ' + ' | '.join(format_mean_sd((v, math.nan), empty='—') for v in curve) + ' |'
        for name, curve in curves.items()
    ]
    for key, what in (('last', 'the last two evaluations'), ('before_decay', 'before the decay')):
        h = held[key]
        if h['held'] is not None:
            lines += [
                '', f'Order at epochs {h["epochs"][0]} and {h["epochs"][1]} ({what}): '
                f'{" > ".join(h["orders"][0])}; {" > ".join(h["orders"][1])}: '
                f'{"the same" if h["held"] else "it still changes"}.'
            ]
    return lines


def write_table(out_dir: str, lines: List[str], seconds: float) -> str:
    """Write ``lines`` and the run time to ``out_dir/table.md``; returns the text."""
    text = '\n'.join(lines + ['', f'Run time {seconds:.0f} s.'])
    with open(osp.join(out_dir, 'table.md'), 'w') as f:
        f.write(text + '\n')
    return text
