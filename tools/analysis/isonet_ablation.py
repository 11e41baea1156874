"""ISONet's own ablation at CPU scale, in the spirit of Qi et al. 2020, Table 2: a vanilla ISONet
(no shortcut, no normalisation) with Delta or Kaiming init, SReLU or ReLU, and the isometry
regulariser at coefficient 0 / 1e-4 / 3e-4, all on the same data and budget.

    python tools/analysis/isonet_ablation.py [--depth 50] [--base-channels 16] [--steps 200]
        [--seeds 0 1 2] [--arms delta+srelu+1e-4 ...] [--quick] [--out-dir DIR]

An arm is ``init+activation+coeff``: init ``delta`` (the reference: Delta on every conv but the
stem) or ``kaiming`` (He normal, fan_in, ReLU gain, on every conv but the stem); activation
``srelu`` (SReLU, thresholds at -1) or ``relu``; coeff the regulariser's coefficient (on every
conv but the stem, as IsometryRegularizerHook). Model: ISONet-<depth> backbone (the plugin
type ``ISONet``, ``base_channels`` wide) -> global average pool -> linear. Task: 10 classes of
noisy prototype images (isonet_det.datasets.make_prototypes, 32 x 32), 2048 for training, 1024
held out. SGD momentum 0.9, batch 32, no weight decay; the lr of each arm is chosen by a sweep on
the first seed (isonet_det.experiments.trainability.sweep_and_train) and used for every seed.

Writes into a new folder (never overwrites): results.json, table.md, curves.png.
"""
import argparse
import json
import logging
import math
import os
import os.path as osp
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from isonet_det.datasets import make_prototypes  # noqa: E402
from isonet_det.experiments import reporting  # noqa: E402
from isonet_det.experiments import trainability as tr  # noqa: E402
from isonet_det.models import ISONet  # noqa: E402
from isonet_det.models.utils import pytorch_default_init  # noqa: E402
from isonet_det.ops import isometry_penalty  # noqa: E402
from isonet_det.ops import regularized_convs  # noqa: E402

DEFAULT_ARMS = [
    'delta+srelu+0', 'delta+srelu+1e-4', 'delta+srelu+3e-4', 'kaiming+srelu+1e-4',
    'delta+relu+1e-4', 'kaiming+relu+0'
]
INITS = ('delta', 'kaiming')
ACTIVATIONS = {'srelu': dict(type='SReLU', init_value=-1.0), 'relu': dict(type='ReLU')}
NUM_CLASSES = 10


def parse_arm(text):
    """``'delta+srelu+1e-4'`` -> ``('delta', 'srelu', 1e-4)``, with an error naming the part."""
    parts = text.split('+')
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f'arm {text!r}: expected init+activation+coeff')
    init, act, coeff = parts
    if init not in INITS:
        raise argparse.ArgumentTypeError(f'arm {text!r}: init must be one of {INITS}')
    if act not in ACTIVATIONS:
        raise argparse.ArgumentTypeError(f'arm {text!r}: activation must be one of '
                                         f'{tuple(ACTIVATIONS)}')
    try:
        coeff = float(coeff)
    except ValueError:
        raise argparse.ArgumentTypeError(f'arm {text!r}: coeff {coeff!r} is not a number')
    return init, act, coeff


class ISONetClassifier(nn.Module):
    """``ISONet backbone -> global average pool -> linear``; ``body_convs`` are the convs the
    regulariser acts on: those IsometryRegularizerHook selects (every conv but the stem)."""

    def __init__(self, depth, base_channels, init, act):
        super().__init__()
        init_cfg = None  # the reference init: Delta, the stem PyTorch's default
        if init == 'kaiming':
            stem = pytorch_default_init('conv1')
            init_cfg = dict(
                type='Kaiming',
                layer='Conv2d',
                mode='fan_in',
                nonlinearity='relu',
                distribution='normal',
                override=stem)
        self.backbone = ISONet(
            depth,
            base_channels=base_channels,
            out_indices=(3, ),
            act_cfg=ACTIVATIONS[act],
            init_cfg=init_cfg)
        self.backbone.init_weights()
        self.head = nn.Linear(self.backbone.feat_dim, NUM_CLASSES)

    def body_convs(self):
        return regularized_convs(self.backbone, module=None)

    def forward(self, x):
        return self.head(self.backbone(x)[0].mean(dim=(2, 3)))


def run_arm(arm, data, test, args):
    init, act, coeff = arm

    def make_model(seed=args.seeds[0]):
        torch.manual_seed(seed)
        return ISONetClassifier(args.depth, args.base_channels, init, act)

    kwargs = dict(
        regulariser=isometry_penalty if coeff > 0 else None,
        coeff=coeff,
        batch_size=args.batch_size)
    first = tr.sweep_and_train(
        make_model, data, args.lrs, args.sweep_steps, args.steps, seed=args.seeds[0], **kwargs)
    runs = [first]
    for seed in args.seeds[1:]:
        model = make_model(seed)
        run = tr.train_classifier(model, data, first['lr'], args.steps, seed=seed, **kwargs)
        runs.append(dict(run, model=model, unstable=run['diverged'] or tr.blew_up(run['losses'])))
    for run in runs:
        model = run.pop('model')
        ok = not run['diverged']
        run.update(
            final_loss=tr.tail_mean(run['losses']) if ok else float('nan'),
            final_accuracy=tr.tail_mean(run['accuracies']) if ok else float('nan'),
            test_accuracy=tr.accuracy(model, test) if ok else float('nan'))
    return dict(
        arm='+'.join([init, act, f'{coeff:g}']),
        lr=first['lr'],
        sweep={str(k): v
               for k, v in first['sweep'].items()},
        runs=runs)


def mean_std(values):
    """``'mean ± sd'`` over seeds, ``'div'`` if no seed gave a finite value."""
    return reporting.format_mean_sd(reporting.mean_sd(values), empty='div')


def write_table(results, args, seconds):
    lines = [
        f'ISONet-{args.depth} (base_channels {args.base_channels}), {args.steps} steps, seeds '
        f'{args.seeds}: mean ± std over seeds; diverged (non-finite) / unstable (spiked, '
        f'tr.blew_up) seeds counted (chance loss '
        f'{math.log(NUM_CLASSES):.3f}, accuracy {1 / NUM_CLASSES:.2f}).', '',
        '| init + activation + coeff | lr (swept) | final training loss | final training '
        'accuracy | held-out accuracy | diverged / unstable |', '|---|---|---|---|---|---|'
    ]
    for r in results:
        runs = r['runs']
        lines.append(f'| {r["arm"]} | {r["lr"]:g} | '
                     f'{mean_std([x["final_loss"] for x in runs])} | '
                     f'{mean_std([x["final_accuracy"] for x in runs])} | '
                     f'{mean_std([x["test_accuracy"] for x in runs])} | '
                     f'{sum(x["diverged"] for x in runs)} / {sum(x["unstable"] for x in runs)} '
                     f'of {len(runs)} |')
    return reporting.write_table(args.out_dir, lines, seconds)


def plot(results, args):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, r in enumerate(results):
        for j, run in enumerate(r['runs']):
            label = f'{r["arm"]} (lr {r["lr"]:g})' if j == 0 else None
            axes[0].plot(run['losses'], color=f'C{i}', lw=1, alpha=0.8, label=label)
            axes[1].plot(run['accuracies'], color=f'C{i}', lw=1, alpha=0.8)
    axes[0].axhline(math.log(NUM_CLASSES), color='k', lw=0.7, ls=':')
    axes[0].set(xlabel='step', ylabel='training loss', ylim=(0, 4))
    axes[1].set(xlabel='step', ylabel='training accuracy', ylim=(0, 1))
    axes[0].legend(fontsize=7)
    fig.suptitle(f'ISONet-{args.depth} ablation')
    fig.tight_layout()
    fig.savefig(osp.join(args.out_dir, 'curves.png'), dpi=110)
    plt.close(fig)


QUICK = dict(steps=60, sweep_steps=8, seeds=[0, 1], lrs=[1e-2, 1e-1])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help=f'about a minute: {QUICK}')
    parser.add_argument('--depth', type=int, default=50, choices=[18, 34, 50, 101, 152])
    parser.add_argument('--base-channels', type=int, default=16)
    parser.add_argument('--arms', type=parse_arm, nargs='+', default=DEFAULT_ARMS)
    parser.add_argument('--steps', type=int, default=200)
    parser.add_argument('--sweep-steps', type=int, default=15)
    parser.add_argument('--lrs', type=float, nargs='+', default=[1e-3, 1e-2, 1e-1])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--size', type=int, default=32)
    parser.add_argument('--noise', type=float, default=1.0)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--num-train', type=int, default=2048)
    parser.add_argument('--num-test', type=int, default=1024)
    parser.add_argument('--data-seed', type=int, default=0)
    parser.add_argument(
        '--out-dir',
        type=reporting.new_folder_arg,
        default=None,
        help='default: work_dirs/isonet_ablation/<date_time>')
    args = parser.parse_args(argv)
    args.arms = [parse_arm(a) if isinstance(a, str) else a for a in args.arms]
    reporting.apply_quick(parser, args, QUICK)
    args.out_dir = reporting.new_run_dir(args.out_dir, 'isonet_ablation')
    return args


def main(argv=None):
    args = parse_args(argv)
    from mmengine.logging import MMLogger
    MMLogger.get_instance('isonet_ablation', log_level='WARNING')  # no per-layer init log
    logging.getLogger('mmengine').setLevel(logging.WARNING)
    start = time.perf_counter()
    torch.set_flush_denormal(True)
    data = make_prototypes(args.num_train, args.size, NUM_CLASSES, args.noise, args.data_seed)
    test = make_prototypes(args.num_test, args.size, NUM_CLASSES, args.noise, args.data_seed,
                           'test')
    print(f'{"arm":<22}{"lr":>7}{"final loss":>16}{"train acc":>16}{"test acc":>16}  per seed')
    results = []
    for arm in args.arms:
        r = run_arm(arm, data, test, args)
        results.append(r)
        runs = r['runs']
        print(
            f'{r["arm"]:<22}{r["lr"]:>7g}{mean_std([x["final_loss"] for x in runs]):>16}'
            f'{mean_std([x["final_accuracy"] for x in runs]):>16}'
            f'{mean_std([x["test_accuracy"] for x in runs]):>16}  '
            f'{[round(x["final_loss"], 3) for x in runs]}',
            flush=True)
    seconds = time.perf_counter() - start
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(dict(vars(args), results=results, seconds=seconds), f)
    plot(results, args)
    print(write_table(results, args, seconds))
    print(f'wrote {args.out_dir}/{{results.json,table.md,curves.png}}')


if __name__ == '__main__':
    main()
