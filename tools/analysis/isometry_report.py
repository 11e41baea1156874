"""Per-layer isometry report of a detector's backbone (or whole model) at init or a checkpoint.

    python tools/analysis/isometry_report.py CONFIG [CHECKPOINT] [--all] [--n 16]
                                             [--out-dir DIR] [--cfg-options k=v ...]

For every conv: relative orthogonality error ``||Conv(A,A) - delta||_F / ||delta||_F`` and the
smallest / largest singular value of the conv operator on a periodic n x n input (exact, from the
kernel's 2-D DFT: Sedghi et al. 2019); plus SReLU thresholds and residual scales. Writes
layers.csv, report.json, orthogonality_error.png and singular_values.png to the output folder
(default work_dirs/isometry_report/<config>__<checkpoint or init>/; never overwritten).
"""
import argparse
import csv
import json
import os
import os.path as osp
import sys

import torch.nn as nn
from mmengine.config import Config, DictAction

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from isonet_det.analysis import activation_stats, conv_layer_stats  # noqa: E402
from isonet_det.utils import check_new_folder  # noqa: E402

COLUMNS = ('layer', 'out_channels', 'in_channels', 'kernel', 'stride', 'orthogonality_error',
           'sigma_min', 'sigma_max')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', help='omit for the model at init')
    parser.add_argument(
        '--all', action='store_true', help='every conv of the model, not only '
        'the backbone')
    parser.add_argument(
        '--n',
        type=int,
        default=16,
        help='periodic input size for the singular values (default 16)')
    parser.add_argument('--out-dir')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if not osp.isfile(args.config):
        parser.error(f'config file {args.config} does not exist')
    if args.checkpoint and not osp.isfile(args.checkpoint):
        parser.error(f'checkpoint {args.checkpoint} does not exist')
    if args.out_dir is None:
        tag = osp.splitext(osp.basename(args.checkpoint))[0] if args.checkpoint else 'init'
        args.out_dir = osp.join('work_dirs', 'isometry_report',
                                f'{osp.splitext(osp.basename(args.config))[0]}__{tag}')
    try:
        check_new_folder(args.out_dir)
    except FileExistsError as e:
        parser.error(f'{e} (pass another --out-dir)')
    return args


def build_model(args):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.runner import load_checkpoint

    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    import isonet_det  # noqa: F401  (also when the config has no custom_imports)
    model = MODELS.build(cfg.model)
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    else:
        model.init_weights()
    return model.eval()


def print_table(rows, activations):
    print(f'{"layer":<34}{"shape":>18}{"s":>3}{"orth.err":>11}{"sigma_min":>11}{"sigma_max":>11}')
    for r in rows:
        shape = f'{r["out_channels"]}x{r["in_channels"]}x{r["kernel"]}'
        print(f'{r["layer"]:<34}{shape:>18}{r["stride"]:>3}{r["orthogonality_error"]:>11.4f}'
              f'{r["sigma_min"]:>11.4f}{r["sigma_max"]:>11.4f}')
    if activations:
        print(f'\n{"module":<34}{"kind":>18}{"mean":>11}{"min":>11}{"max":>11}')
        for a in activations:
            print(f'{a["module"]:<34}{a["kind"]:>18}{a["mean"]:>11.4f}{a["min"]:>11.4f}'
                  f'{a["max"]:>11.4f}')


def plot(rows, out_dir, title):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    idx = list(range(len(rows)))
    fig, ax = plt.subplots(figsize=(max(6, len(rows) * 0.12), 3.5))
    ax.bar(idx, [r['orthogonality_error'] for r in rows], color='tab:blue')
    ax.set(
        xlabel='conv layer (network order)',
        ylabel='||Conv(A,A)-δ||_F / ||δ||_F',
        title=f'orthogonality error: {title}')
    fig.tight_layout()
    fig.savefig(osp.join(out_dir, 'orthogonality_error.png'), dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(max(6, len(rows) * 0.12), 3.5))
    lo = [max(r['sigma_min'], 1e-6) for r in rows]
    hi = [r['sigma_max'] for r in rows]
    ax.vlines(idx, lo, hi, color='tab:orange', lw=3)
    ax.axhline(1.0, color='k', lw=0.8, ls='--')
    ax.set_yscale('log')
    ax.set(
        xlabel='conv layer (network order)',
        ylabel='singular values (min..max)',
        title=f'conv operator spectrum: {title}')
    fig.tight_layout()
    fig.savefig(osp.join(out_dir, 'singular_values.png'), dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    model = build_model(args)
    scope = model if args.all else model.backbone
    prefix = '' if args.all else 'backbone.'
    convs = [(prefix + n, m) for n, m in scope.named_modules() if isinstance(m, nn.Conv2d)]
    rows = conv_layer_stats(convs, n=args.n)
    activations = activation_stats(scope)
    print_table(rows, activations)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'layers.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    with open(osp.join(args.out_dir, 'report.json'), 'w') as f:
        json.dump(
            dict(
                config=args.config,
                checkpoint=args.checkpoint,
                n=args.n,
                convs=rows,
                activations=activations),
            f,
            indent=1)
    plot(rows, args.out_dir, osp.basename(args.checkpoint or 'init'))
    print(f'\nwrote {args.out_dir}/{{layers.csv,report.json,orthogonality_error.png,'
          'singular_values.png}')


if __name__ == '__main__':
    main()
