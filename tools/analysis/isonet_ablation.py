"""ISONet's own ablation at CPU scale, in the spirit of Qi et al. 2020, Table 2: a vanilla ISONet
(no shortcut, no normalisation) with Delta or Kaiming init, SReLU or ReLU, and the isometry
regulariser against weight decay, all on the same data and budget, beside the baselines that would
score the same if the body learned nothing.

    python tools/analysis/isonet_ablation.py [--depth 18] [--base-channels 16] [--steps 300]
        [--seeds 0 1 2] [--arms delta+srelu+1e-4+5e-4 ...] [--quick] [--out-dir DIR]

An arm is ``init+activation+coeff[+weight_decay]``: init ``delta`` (the reference: Delta on every
conv but the stem) or ``kaiming`` (He normal, fan_in, ReLU gain, on every conv but the stem);
activation ``srelu`` (SReLU, thresholds at -1) or ``relu``; coeff the regulariser's coefficient (on
every conv but the stem, as IsometryRegularizerHook); weight decay on kernels and linear weights
(default --weight-decay, the reference's 1e-4). Model: ISONet-<depth> backbone (the plugin type
``ISONet``, ``base_channels`` wide) -> global average pool -> linear. Task (--task): 'pairs'
(isonet_det.datasets.make_prototype_pairs, 32 x 32, 4 classes, (i + j) mod 4 of the prototypes in
the two halves: a linear classifier on the pixels stays at chance) or 'prototypes' (10 classes,
linearly separable); 2048 images for training, 1024 held out. SGD momentum 0.9, batch 32.

Learning rate: per arm, runs of the whole budget on two seeds that are not reported (the grid
extended x10 until the choice is interior; isonet_det.experiments.trainability.sweep_and_train),
then every --seeds run with the lr of the lowest mean final loss. Baselines: a linear classifier on
the pixels, and for each init + activation the network with its body frozen at init (only the head
trained), same protocol. Reported per arm: final
training loss and accuracy, held-out accuracy, how far the body moved (relative Frobenius change),
and the orthogonality error ``||Conv(A, A) - delta|| / ||delta||`` of every regularised conv over
training (--track-every), with the mean over layers at the end.

Writes into a new folder (never overwrites): results.json, table.md, curves.png,
orthogonality.png.
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
from isonet_det.experiments import reporting  # noqa: E402
from isonet_det.experiments import trainability as tr  # noqa: E402
from isonet_det.models import ISONet  # noqa: E402
from isonet_det.models.utils import pytorch_default_init  # noqa: E402
from isonet_det.ops import isometry_penalty  # noqa: E402
from isonet_det.ops import regularized_convs  # noqa: E402

DEFAULT_ARMS = [
    'delta+srelu+0', 'delta+srelu+1e-4', 'delta+srelu+1e-3', 'delta+srelu+1e-2',
    'delta+srelu+0+5e-4', 'delta+srelu+1e-4+5e-4', 'delta+srelu+1e-3+5e-4', 'delta+srelu+1e-2+5e-4',
    'kaiming+srelu+1e-4', 'delta+relu+1e-4', 'kaiming+relu+0'
]
INITS = ('delta', 'kaiming')
ACTIVATIONS = {'srelu': dict(type='SReLU', init_value=-1.0), 'relu': dict(type='ReLU')}


def parse_arm(text):
    """``'delta+srelu+1e-4[+5e-4]'`` -> ``('delta', 'srelu', 1e-4, 5e-4 or None)`` (None: the
    --weight-decay default), with an error naming the part."""
    parts = text.split('+')
    if len(parts) not in (3, 4):
        raise argparse.ArgumentTypeError(
            f'arm {text!r}: expected init+activation+coeff[+weight_decay]')
    init, act, coeff = parts[:3]
    if init not in INITS:
        raise argparse.ArgumentTypeError(f'arm {text!r}: init must be one of {INITS}')
    if act not in ACTIVATIONS:
        raise argparse.ArgumentTypeError(f'arm {text!r}: activation must be one of '
                                         f'{tuple(ACTIVATIONS)}')
    numbers = []
    for name, value in zip(('coeff', 'weight_decay'), parts[2:]):
        try:
            numbers.append(float(value))
        except ValueError:
            raise argparse.ArgumentTypeError(f'arm {text!r}: {name} {value!r} is not a number')
        if not math.isfinite(numbers[-1]) or numbers[-1] < 0:
            raise argparse.ArgumentTypeError(f'arm {text!r}: {name} must be finite and >= 0')
    return (init, act, *numbers, None)[:4]


class ISONetClassifier(nn.Module):
    """``ISONet backbone -> global average pool -> linear``; ``body_convs`` are the convs the
    regulariser acts on: those IsometryRegularizerHook selects (every conv but the stem)."""

    def __init__(self, depth, base_channels, init, act, num_classes):
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
        self.head = nn.Linear(self.backbone.feat_dim, num_classes)

    def body_convs(self):
        return regularized_convs(self.backbone, module=None)

    def head_input(self, x):
        return self.backbone(x)[0].mean(dim=(2, 3))

    def forward(self, x):
        return self.head(self.head_input(x))


def arm_name(arm, args):
    init, act, coeff, wd = arm
    return '+'.join([init, act, f'{coeff:g}', f'{args.weight_decay if wd is None else wd:g}'])


def finish(run, model, test):
    """The run with its final scores (:func:`trainability.final_scores`), without the model."""
    run.update(tr.final_scores(run, model, test))
    return run


def sweep_then_seeds(make_model, data, test, args, **kwargs):
    """The lr by a sweep on two unreported seeds, then every --seeds run with it."""
    first = tr.sweep_and_train(
        make_model, data, args.lrs, args.sweep_steps, args.steps, seed=args.seeds[0], **kwargs)
    runs = [finish(first, first.pop('model'), test)]
    for seed in args.seeds[1:]:
        model = make_model(seed)
        run = tr.train_classifier(model, data, first['lr'], args.steps, seed=seed, **kwargs)
        run['unstable'] = run['diverged'] or tr.blew_up(run['losses'])
        runs.append(finish(run, model, test))
    return dict(
        lr=first['lr'],
        interior=first['interior'],
        sweep={str(k): v
               for k, v in first['sweep'].items()},
        runs=runs)


def classifier_factory(init, act, args):
    """``make(seed)``: a seeded ISONetClassifier of --depth and --base-channels."""

    def make(seed):
        torch.manual_seed(seed)
        return ISONetClassifier(args.depth, args.base_channels, init, act, tr.TASKS[args.task][1])

    return make


def run_arm(arm, data, test, args):
    init, act, coeff, wd = arm
    result = sweep_then_seeds(
        classifier_factory(init, act, args),
        data,
        test,
        args,
        regulariser=isometry_penalty if coeff > 0 else None,
        coeff=coeff,
        batch_size=args.batch_size,
        weight_decay=args.weight_decay if wd is None else wd,
        track_every=args.track_every)
    return dict(arm=arm_name(arm, args), **result)


def baselines(data, test, args):
    """The linear classifier on the pixels and, per init + activation of --arms, the network with
    its body frozen at init (features computed once per seed; the same protocol)."""
    common = dict(batch_size=args.batch_size, weight_decay=args.weight_decay)
    probe = tr.linear_probe_factory(data[0], tr.TASKS[args.task][1])
    out = {'linear on pixels': sweep_then_seeds(probe, data, test, args, **common)}
    for init, act in dict.fromkeys((a[0], a[1]) for a in args.arms):
        frozen, indexed, held_out = tr.frozen_body_task(
            classifier_factory(init, act, args), data, test)
        out[f'{init}+{act}, body frozen at init'] = sweep_then_seeds(frozen, indexed, held_out,
                                                                     args, **common)
    return out


def final_orthogonality(run):
    """Mean over layers of the orthogonality error at the end of a run (nan if not tracked)."""
    tracked = run.get('orthogonality')
    if not tracked or run['diverged']:
        return float('nan')
    errors = tracked[-1][1]
    return sum(errors) / len(errors)


def mean_std(values):
    """``'mean ± sd'`` over seeds, ``'div'`` if no seed gave a finite value."""
    return reporting.format_mean_sd(reporting.mean_sd(values), empty='div')


def write_table(results, base, args, seconds):
    num_classes = tr.TASKS[args.task][1]
    lines = [
        f'ISONet-{args.depth} (base_channels {args.base_channels}), task {args.task!r} '
        f'({num_classes} classes), {args.steps} steps, seeds {args.seeds}: mean ± sd over seeds; '
        f'diverged (non-finite) / unstable (spiked, blew_up) seeds counted (chance loss '
        f'{math.log(num_classes):.3f}, accuracy {1 / num_classes:.2f}). lr: swept on two other '
        'seeds ("‡": at the edge of the extended grid). Δ body: relative Frobenius change of '
        'the regularised convs; orth. error: mean over those convs of ||Conv(A, A) - delta|| / '
        '||delta|| at the end (0 at Delta init).', '',
        '| init + activation + coeff + weight decay | lr | final training loss | final training '
        'accuracy | held-out accuracy | Δ body | orth. error | diverged / unstable |',
        '|---|---|---|---|---|---|---|---|'
    ]

    def row(name, r, extra):
        runs = r['runs']
        lines.append(f'| {name} | {r["lr"]:g}{"" if r["interior"] else " ‡"} | '
                     f'{mean_std([x["final_loss"] for x in runs])} | '
                     f'{mean_std([x["final_accuracy"] for x in runs])} | '
                     f'{mean_std([x["test_accuracy"] for x in runs])} | {extra} | '
                     f'{sum(x["diverged"] for x in runs)} / {sum(x["unstable"] for x in runs)} '
                     f'of {len(runs)} |')

    for r in results:
        row(
            r['arm'], r, f'{mean_std([x["body_change"] for x in r["runs"]])} | '
            f'{mean_std([final_orthogonality(x) for x in r["runs"]])}')
    for name, r in base.items():
        row(f'baseline: {name}', r, '- | -')
    return reporting.write_table(args.out_dir, lines, seconds)


def plot(results, args):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, r in enumerate(results):
        for j, run in enumerate(r['runs']):
            label = f'{r["arm"]} (lr {r["lr"]:g})' if j == 0 else None
            axes[0].plot(run['losses'], color=f'C{i % 10}', lw=1, alpha=0.8, label=label)
            axes[1].plot(run['accuracies'], color=f'C{i % 10}', lw=1, alpha=0.8)
    axes[0].axhline(math.log(tr.TASKS[args.task][1]), color='k', lw=0.7, ls=':')
    axes[0].set(xlabel='step', ylabel='training loss', ylim=(0, 4))
    axes[1].set(xlabel='step', ylabel='training accuracy', ylim=(0, 1))
    axes[0].legend(fontsize=6)
    fig.suptitle(f'ISONet-{args.depth} ablation')
    fig.tight_layout()
    fig.savefig(osp.join(args.out_dir, 'curves.png'), dpi=110)
    plt.close(fig)
    # orthogonality error over training (mean over layers, first seed) and per layer at the end
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, r in enumerate(results):
        run = r['runs'][0]
        if not run.get('orthogonality') or run['diverged']:
            continue
        steps = [t for t, _ in run['orthogonality']]
        means = [sum(e) / len(e) for _, e in run['orthogonality']]
        axes[0].plot(steps, means, color=f'C{i % 10}', lw=1.2, label=r['arm'])
        axes[1].plot(run['orthogonality'][-1][1], color=f'C{i % 10}', lw=1, marker='.', ms=3)
    axes[0].set(xlabel='step', ylabel='orthogonality error (mean over convs)')
    axes[1].set(xlabel='regularised conv (module order)', ylabel='orthogonality error at the end')
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(osp.join(args.out_dir, 'orthogonality.png'), dpi=110)
    plt.close(fig)


QUICK = dict(
    steps=40,
    seeds=[0, 1],
    lrs=[1e-2, 1e-1],
    size=16,
    num_train=512,
    num_test=256,
    arms=['delta+srelu+0', 'delta+srelu+1e-2+5e-4', 'kaiming+relu+0'])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--depth', type=int, default=18, choices=[18, 34, 50, 101, 152])
    parser.add_argument('--base-channels', type=int, default=16)
    parser.add_argument('--arms', type=parse_arm, nargs='+', default=DEFAULT_ARMS)
    parser.add_argument('--task', choices=list(tr.TASKS), default='pairs')
    parser.add_argument('--steps', type=int, default=300)
    tr.add_lr_arguments(parser)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--weight-decay', type=float, default=1e-4, help='of the arms that do not give one')
    parser.add_argument(
        '--track-every', type=int, default=30, help='steps between orthogonality records')
    parser.add_argument('--size', type=int, default=32)
    parser.add_argument('--noise', type=float, default=1.0)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--num-train', type=int, default=2048)
    parser.add_argument('--num-test', type=int, default=1024)
    parser.add_argument('--data-seed', type=int, default=0)
    reporting.add_run_arguments(parser, 'isonet_ablation', QUICK, 'about a minute')
    args = parser.parse_args(argv)
    reporting.apply_quick(parser, args, QUICK)
    args.arms = [parse_arm(a) if isinstance(a, str) else a for a in args.arms]
    args.out_dir = reporting.new_run_dir(args.out_dir, 'isonet_ablation')
    return args


def main(argv=None):
    args = parse_args(argv)
    from mmengine.logging import MMLogger
    MMLogger.get_instance('isonet_ablation', log_level='WARNING')  # no per-layer init log
    logging.getLogger('mmengine').setLevel(logging.WARNING)
    start = time.perf_counter()
    torch.set_flush_denormal(True)
    make = tr.TASKS[args.task][0]
    data = make(args.num_train, args.size, args.noise, args.data_seed, 'train')
    test = make(args.num_test, args.size, args.noise, args.data_seed, 'test')
    print(f'{"arm":<28}{"lr":>7}{"final loss":>16}{"train acc":>16}{"test acc":>16}'
          f'{"orth. error":>16}')

    def show(name, r):
        runs = r['runs']
        print(
            f'{name:<28}{r["lr"]:>7g}{mean_std([x["final_loss"] for x in runs]):>16}'
            f'{mean_std([x["final_accuracy"] for x in runs]):>16}'
            f'{mean_std([x["test_accuracy"] for x in runs]):>16}'
            f'{mean_std([final_orthogonality(x) for x in runs]):>16}',
            flush=True)

    results = []
    for arm in args.arms:
        results.append(run_arm(arm, data, test, args))
        show(results[-1]['arm'], results[-1])
    base = baselines(data, test, args)
    for name, r in base.items():
        show(name[:27], r)
    seconds = time.perf_counter() - start
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(dict(vars(args), results=results, baselines=base, seconds=seconds), f)
    plot(results, args)
    print(write_table(results, base, args, seconds))
    print(f'wrote {args.out_dir}/{{results.json,table.md,curves.png,orthogonality.png}}')


if __name__ == '__main__':
    main()
