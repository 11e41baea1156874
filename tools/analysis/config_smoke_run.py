"""Smoke-run shipped configs: a few dozen iterations each on generated data at reduced size.

    python tools/analysis/config_smoke_run.py [CONFIG ...] [--iters 30] [--image-size 128]
                                              [--out work_dirs/smoke_<timestamp>]

Without CONFIG, every config under configs/ but the demo. Each keeps its recipe (optimizer, lr,
clipping, paramwise policy, regulariser, init) on the generated shapes data; see
isonet_det/experiments/smoke_run.py for what is replaced. Prints one row per config (seconds per
iteration, mean loss of the first and last 5 iterations, last isometry_reg) and exits 1 if any
run has a non-finite loss or a loss that did not fall. Each call writes a new folder.
"""
import argparse
import glob
import os.path as osp
import sys
import time
import traceback

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
import isonet_det  # noqa: E402,F401
from isonet_det.experiments.smoke_run import make_smoke_data, smoke_run  # noqa: E402
from isonet_det.utils import check_new_folder  # noqa: E402

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..')


def shipped_configs():
    """The shipped detection configs (not the demo's, nor the MMSegmentation / MMPretrain ones)."""
    skip = ('_base_', '/demo/', '/classification/', '/iso_unet/')
    return sorted(
        p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
        if not any(s in p for s in skip))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='*', help='configs (default: all shipped)')
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--image-size', type=int, default=128)
    parser.add_argument('--out', help='a new folder (default work_dirs/smoke_<timestamp>)')
    args = parser.parse_args(argv)
    configs = args.configs or shipped_configs()
    for c in configs:
        if not osp.isfile(c):
            parser.error(f'config {c} does not exist')
    if args.iters < 10:
        parser.error('--iters must be at least 10 (first and last 5 iterations are compared)')
    out = args.out or osp.join('work_dirs', time.strftime('smoke_%Y%m%d_%H%M%S'))
    try:
        check_new_folder(out)
    except FileExistsError as e:
        parser.error(str(e))
    data = make_smoke_data(osp.join(out, 'data'), args.image_size)
    header = f'{"config":<58} {"s/iter":>7} {"loss first5":>11} {"last5":>7} {"reg":>9}  result'
    print(header)
    failed = 0
    for config in configs:
        name = osp.relpath(config, osp.join(ROOT, 'configs'))
        try:
            r = smoke_run(config, data, osp.join(out,
                                                 osp.splitext(osp.basename(config))[0]), args.iters,
                          args.image_size)
        except Exception:
            failed += 1
            print(f'{name:<58} ERROR')
            traceback.print_exc()
            continue
        failed += not r.passed
        reg = f'{r.isometry_reg:9.3g}' if r.isometry_reg is not None else f'{"-":>9}'
        status = 'ok' if r.passed else ('NON-FINITE' if not r.finite else 'LOSS DID NOT FALL')
        print(
            f'{name:<58} {r.seconds_per_iter:7.2f} {r.first_loss:11.4f} {r.last_loss:7.4f} '
            f'{reg}  {status}',
            flush=True)
    print(f'{len(configs) - failed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
