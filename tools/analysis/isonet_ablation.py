"""ISONet's own ablation, in the spirit of Qi et al. 2020, Table 2: a vanilla ISONet (no shortcut,
no normalisation) with Delta or Kaiming init, SReLU or ReLU, and the isometry regulariser against
weight decay, all on the same data and budget, beside the baselines that would score the same if
the body learned nothing.

    python tools/analysis/isonet_ablation.py [--device cuda] [--stem cifar] [--steps 300]
        [--seeds 0 1 2] [--arms delta+srelu+1e-4+5e-4 ...] [--quick] [--out-dir DIR]

An arm is ``init+activation+coeff[+weight_decay]``: init ``delta`` (the reference: Delta on every
conv but the stem) or ``kaiming`` (He normal, ReLU gain, on every conv but the stem; fan-in below);
activation ``srelu`` (SReLU, thresholds at -1) or ``relu``; coeff the regulariser's coefficient (on
every conv but the stem, as IsometryRegularizerHook); weight decay on kernels and linear weights
(default --weight-decay, the reference's 1e-4). Model: ISONet-<depth> backbone (the plugin type
``ISONet``, ``base_channels`` wide) -> global average pool -> linear. Task (--task): 'pairs'
(isonet_det.datasets.make_prototype_pairs, 32 x 32, 4 classes, (i + j) mod 4 of the prototypes in
the two halves: a linear classifier on the pixels stays at chance) or 'prototypes' (10 classes,
linearly separable); 2048 images for training, 1024 held out. SGD momentum 0.9, batch 32.

Resolution (--stem): 'cifar' (default; ISONet's ``stem_type='cifar'``, conv 3x3 stride 1, no
pooling) keeps the stages at 32, 16, 8, 4 pixels for 32 x 32 images; 'imagenet' (the reference's
conv 7x7 / 2 + max pool / 2, the previous default) runs them at 8, 4, 2, 1, where a zero-padded
3 x 3 conv reads 4 or 1 of its 9 taps. Every stage's size is printed and saved (``stage_sizes``).

Kaiming's fan-in (--kaiming-fan-in): 'live' (default) counts the taps that read the input, not the
zero padding, averaged over the output positions: std ``sqrt(2 / (C_in * k * k * f))`` with ``f``
the conv's live-tap fraction at its input size (saved per conv, ``live_tap_fraction``). Far from
the border ``f = 1`` and this is He's fan-in. At 32 x 32 with the cifar stem every stage runs at 4
x 4 or more, but ``f`` is still 0.96, 0.92, 0.84 and 0.69 for the convs reading 32, 16, 8 and 4
pixel maps, so He's standard fan-in ('he') shrinks the signal's second moment by their product,
0.096, over the 16 body convs (measured at init, Kaiming + ReLU, geometric mean over 12 inits:
0.15 with 'he', 1.6 with 'live'); with the imagenet stem (``f`` 0.44 at 2 x 2, 0.11 at 1 x 1) by
1e-5, which alone could stop a Kaiming arm from training. 'live' keeps it on average at any
resolution.

Learning rate: per arm, runs of the whole budget on two seeds that are not reported, over a grid
sqrt(10) apart (--lrs, default 1e-3 to 1e-1), extended by sqrt(10) at an edge until the choice is
interior (at most --max-extensions times, default 6; trainability.sweep_and_train with
``factor``), then every --seeds run with the lr of the lowest mean final loss. Baselines: a linear
classifier on the pixels, and for each init + activation the network with its body frozen at init
(only the head trained, on the body's features standardised with the training images' mean and
sd, so that a body keeping its inputs apart at a tiny scale is not failed by its head), same
protocol. Reported per arm: final training loss and accuracy, the
drop of the training loss over the last fifth of the budget (near 0: the curve has flattened),
held-out accuracy, how far the body moved (relative Frobenius change), and the orthogonality error
``||Conv(A, A) - delta|| / ||delta||`` of every regularised conv over training (--track-every),
with the mean over layers at the end. Learning curves of every reported run: the training loss per
step and the held-out accuracy every --eval-every steps (curves.png, one panel per arm).

--device cuda runs every model and tensor on the GPU (batches are drawn on the CPU, the same on any
device), the regulariser replayed from a CUDA graph (--no-cuda-graph: kernel by kernel); the tool
imports neither mmdet nor scipy nor mmcv's compiled ops. Cost of the defaults: 11 arms and 5
baselines, each about 15 runs of 300 steps (10 sweep runs, 1-2 grid extensions, 3 seeds). These
nets are launch-bound on a GPU: about 350 kernels per step at ~10 us is ~3 ms, so about 3 minutes
on one H200 (the frozen-body and linear baselines are ~20 kernels a step). On 2 CPU cores the
default run takes hours: use --quick (a minute or two) there.

Writes into a new folder (never overwrites): results.json, table.md, curves.png,
orthogonality.png; results_partial.json after each arm while it runs.
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
from isonet_det.ops import CapturedPenalty  # noqa: E402
from isonet_det.ops import isometry_penalty_and_grads  # noqa: E402
from isonet_det.ops import regularized_convs  # noqa: E402

DEFAULT_ARMS = [
    'delta+srelu+0', 'delta+srelu+1e-4', 'delta+srelu+1e-3', 'delta+srelu+1e-2',
    'delta+srelu+0+5e-4', 'delta+srelu+1e-4+5e-4', 'delta+srelu+1e-3+5e-4', 'delta+srelu+1e-2+5e-4',
    'kaiming+srelu+1e-4', 'delta+relu+1e-4', 'kaiming+relu+0'
]
INITS = ('delta', 'kaiming')
# the initial lr grid, sqrt(10) apart, and the factor by which it extends at an edge
LR_FACTOR = math.sqrt(10)
LRS = [10**(k / 2) for k in range(-6, -1)]  # 1e-3, 3.16e-3, 1e-2, 3.16e-2, 1e-1
MAX_EXTENSIONS = 6  # 3 decades beyond the initial grid
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


def live_tap_fraction(conv, in_size):
    """Mean over ``conv``'s output positions of the fraction of its kernel taps that read the
    ``in_size`` input rather than its zero padding (1 far from the border)."""
    fraction = 1.0
    for n, k, s, p, d in zip(in_size, conv.kernel_size, conv.stride, conv.padding, conv.dilation):
        out = (n + 2 * p - d * (k - 1) - 1) // s + 1
        live = sum(0 <= o * s - p + t * d < n for o in range(out) for t in range(k))
        fraction *= live / (out * k)
    return fraction


def input_sizes(model, size):
    """``{conv: (H, W) of its input}`` and ``{'stem' / 'layer<i>': (H, W) of its output}`` for a
    ``size`` x ``size`` image (one forward pass on zeros)."""
    convs, stages, hooks = {}, {}, []
    for m in model.backbone.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(
                m.register_forward_hook(
                    lambda m, x, y: convs.__setitem__(m, tuple(x[0].shape[-2:]))))
    named = [('stem', model.backbone.maxpool)]
    named += [(name, getattr(model.backbone, name)) for name in model.backbone.res_layers]
    for name, m in named:
        hooks.append(
            m.register_forward_hook(
                lambda m, x, y, name=name: stages.__setitem__(name, tuple(y.shape[-2:]))))
    with torch.no_grad():
        model.backbone(torch.zeros(1, model.backbone.in_channels, size, size))
    for h in hooks:
        h.remove()
    return convs, stages


class ISONetClassifier(nn.Module):
    """``ISONet backbone -> global average pool -> linear``; ``body_convs`` are the convs the
    regulariser acts on: those IsometryRegularizerHook selects (every conv but the stem).

    ``stem``: ISONet's ``stem_type``. ``kaiming_fan_in``: ``'live'`` divides each Kaiming body
    conv's variance by its :func:`live_tap_fraction` at ``size`` x ``size`` input, ``'he'`` keeps
    He's ``C_in * k * k``. ``stage_sizes`` and ``live_fractions`` (per body conv) are recorded."""

    def __init__(self,
                 depth,
                 base_channels,
                 init,
                 act,
                 num_classes,
                 stem='cifar',
                 size=32,
                 kaiming_fan_in='live'):
        super().__init__()
        init_cfg = None  # the reference init: Delta, the stem PyTorch's default
        if init == 'kaiming':
            init_cfg = dict(
                type='Kaiming',
                layer='Conv2d',
                mode='fan_in',
                nonlinearity='relu',
                distribution='normal',
                override=pytorch_default_init('conv1'))
        self.backbone = ISONet(
            depth,
            base_channels=base_channels,
            out_indices=(3, ),
            act_cfg=ACTIVATIONS[act],
            init_cfg=init_cfg,
            stem_type=stem)
        self.backbone.init_weights()
        self.head = nn.Linear(self.backbone.feat_dim, num_classes)
        sizes, self.stage_sizes = input_sizes(self, size)
        self.live_fractions = [live_tap_fraction(c, sizes[c]) for c in self.body_convs()]
        if init == 'kaiming' and kaiming_fan_in == 'live':
            with torch.no_grad():
                for conv, fraction in zip(self.body_convs(), self.live_fractions):
                    conv.weight.mul_(fraction**-0.5)

    def body_convs(self):
        return regularized_convs(self.backbone, module=None)

    def head_input(self, x):
        return self.backbone(x)[0].mean(dim=(2, 3))

    def forward(self, x):
        return self.head(self.head_input(x))


class _PenaltyWithGrads(torch.autograd.Function):
    """``value`` forward; backward, ``grads`` (its gradient for each weight, computed with it)."""

    @staticmethod
    def forward(ctx, value, grads, *weights):
        ctx.grads = grads
        return value.clone()

    @staticmethod
    def backward(ctx, grad_output):
        return (None, None, *[grad_output * g for g in ctx.grads])


class IsometryPenalty:
    """The regulariser of :func:`~isonet_det.ops.isometry_penalty` for
    :func:`trainability.train_classifier` (``regulariser(convs)``, differentiable in the weights),
    its value and gradients computed by :func:`~isonet_det.ops.isometry_penalty_and_grads` and,
    on CUDA with ``cuda_graph``, replayed from a CUDA graph (:class:`~isonet_det.ops.
    CapturedPenalty`: one launch instead of a few hundred small kernels per step; captured again
    for each new model). The gradients are the graph's buffers: the backward pass must run before
    the next call, as it does in a training step."""

    def __init__(self, cuda_graph=True):
        self.captured = CapturedPenalty(isometry_penalty_and_grads, enabled=cuda_graph)

    def __call__(self, convs):
        convs = list(convs)
        value, grads = self.captured(convs)
        return _PenaltyWithGrads.apply(value, grads, *[c.weight for c in convs])


def arm_name(arm, args):
    init, act, coeff, wd = arm
    return '+'.join([init, act, f'{coeff:g}', f'{args.weight_decay if wd is None else wd:g}'])


def finish(run, model, test):
    """The run with its final scores (:func:`trainability.final_scores`), without the model."""
    run.update(tr.final_scores(run, model, test))
    return run


def sweep_then_seeds(make_model, data, test, args, **kwargs):
    """The lr by a sweep on two unreported seeds (a grid ``LR_FACTOR`` apart, extended at an edge,
    and downward while no lr's loss is below 0.95 x chance), then every --seeds run with it; each
    reported run records its held-out accuracy every --eval-every steps."""
    kwargs.update(eval_data=test, eval_every=args.eval_every)
    first = tr.sweep_and_train(
        make_model,
        data,
        args.lrs,
        args.sweep_steps,
        args.steps,
        seed=args.seeds[0],
        max_extensions=args.max_extensions,
        factor=LR_FACTOR,
        chance_loss=math.log(tr.TASKS[args.task][1]),
        **kwargs)
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
        return ISONetClassifier(
            args.depth,
            args.base_channels,
            init,
            act,
            tr.TASKS[args.task][1],
            stem=args.stem,
            size=args.size,
            kaiming_fan_in=args.kaiming_fan_in).to(args.device)

    return make


def run_arm(arm, data, test, args):
    init, act, coeff, wd = arm
    result = sweep_then_seeds(
        classifier_factory(init, act, args),
        data,
        test,
        args,
        regulariser=IsometryPenalty(args.cuda_graph) if coeff > 0 else None,
        coeff=coeff,
        batch_size=args.batch_size,
        weight_decay=args.weight_decay if wd is None else wd,
        track_every=args.track_every)
    return dict(arm=arm_name(arm, args), **result)


def baselines(data, test, args):
    """The linear classifier on the pixels and, per init + activation of --arms, the network with
    its body frozen at init, its head reading the features standardised with the training images'
    statistics (computed once per seed; the same protocol, lr grid and steps)."""
    common = dict(batch_size=args.batch_size, weight_decay=args.weight_decay)
    probe = tr.linear_probe_factory(data[0], tr.TASKS[args.task][1])
    out = {
        'linear on pixels':
        sweep_then_seeds(lambda seed: probe(seed).to(args.device), data, test, args, **common)
    }
    for init, act in dict.fromkeys((a[0], a[1]) for a in args.arms):
        frozen, indexed, held_out = tr.frozen_body_task(
            classifier_factory(init, act, args), data, test, standardize=True)
        indexed, held_out = (tuple(t.to(args.device) for t in d) for d in (indexed, held_out))
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


def late_drop(run):
    """How much the training loss fell over the last fifth of the run (10-step means at 4/5 of
    the budget and at the end; ``nan`` if diverged): near 0 once the curve has flattened."""
    losses = run['losses']
    at = len(losses) * 4 // 5
    if run['diverged'] or at < 1:
        return float('nan')
    return tr.tail_mean(losses[:at]) - tr.tail_mean(losses)


def format_sizes(stage_sizes):
    """``{'stem': (32, 32), ...}`` -> ``'stem 32 x 32, layer1 32 x 32, ...'``."""
    return ', '.join(f'{name} {h} x {w}' for name, (h, w) in stage_sizes.items())


def mean_std(values):
    """``'mean ± sd'`` over seeds, ``'div'`` if no seed gave a finite value."""
    return reporting.format_mean_sd(reporting.mean_sd(values), empty='div')


def write_table(results, base, args, seconds, stage_sizes):
    num_classes = tr.TASKS[args.task][1]
    epochs = args.steps * args.batch_size / args.num_train
    lines = [
        f'ISONet-{args.depth} (base_channels {args.base_channels}, {args.stem} stem: stages at '
        f'{format_sizes(stage_sizes)} for {args.size} x {args.size} images; Kaiming fan-in '
        f'{args.kaiming_fan_in!r}), task {args.task!r} ({num_classes} classes). Budget: '
        f'{args.steps} steps of batch {args.batch_size} per run ({epochs:.1f} epochs of '
        f'{args.num_train} images); the learning curves of every run are in curves.png. Seeds '
        f'{args.seeds}: mean ± sd over seeds; diverged (non-finite) / unstable (spiked, '
        f'blew_up) seeds counted (chance loss {math.log(num_classes):.3f}, accuracy '
        f'{1 / num_classes:.2f}). lr: swept on two other seeds over a grid x{LR_FACTOR:.3g} '
        'apart, extended by that factor at an edge ("‡": still at the edge). Loss drop, last '
        'fifth: the 10-step mean training loss at 4/5 of the budget minus the final one (near 0: '
        'the curve has flattened). Δ body: relative Frobenius change of the regularised convs; '
        'orth. error: mean over those convs of ||Conv(A, A) - delta|| / ||delta|| at the end (0 '
        'at Delta init).', '',
        '| init + activation + coeff + weight decay | lr | final training loss | loss drop, last '
        'fifth | final training accuracy | held-out accuracy | Δ body | orth. error | diverged / '
        'unstable |', '|---|---|---|---|---|---|---|---|---|'
    ]

    def row(name, r, extra):
        runs = r['runs']
        lines.append(f'| {name} | {r["lr"]:.3g}{"" if r["interior"] else " ‡"} | '
                     f'{mean_std([x["final_loss"] for x in runs])} | '
                     f'{mean_std([late_drop(x) for x in runs])} | '
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


def moving_mean(values, window=10):
    """Mean of each ``window`` consecutive values (the window of the final loss)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def plot_curves(panels, args):
    """curves.png: one panel per arm and baseline, every reported seed's training loss (10-step
    moving mean) against the step and its held-out accuracy at the points recorded."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cols = 4
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.7 * rows), squeeze=False)
    chance = math.log(tr.TASKS[args.task][1])
    for ax, (name, r) in zip(axes.flat, panels):
        acc_ax = ax.twinx()
        for j, run in enumerate(r['runs']):
            ax.plot(moving_mean(run['losses']), color='C0', lw=1, alpha=0.9 - 0.2 * j)
            if run.get('held_out'):
                steps, accs = zip(*run['held_out'])
                acc_ax.plot(steps, accs, color='C3', lw=0.8, marker='.', ms=4, alpha=0.9 - 0.2 * j)
        ax.axhline(chance, color='k', lw=0.7, ls=':')
        ax.set_xlim(0, args.steps)
        ax.set_ylim(0, 1.5 * chance)
        acc_ax.set_ylim(0, 1)
        ax.set_title(f'{name} (lr {r["lr"]:.3g})', fontsize=8)
        ax.set_xlabel('step', fontsize=7)
        ax.set_ylabel('training loss, 10-step mean (blue)', fontsize=7)
        acc_ax.set_ylabel('held-out accuracy (red)', fontsize=7)
        ax.tick_params(labelsize=6)
        acc_ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis('off')
    fig.suptitle(f'ISONet-{args.depth} ablation ({args.stem} stem): learning curves, '
                 f'{args.steps} steps, seeds {args.seeds} (dotted: chance loss)')
    fig.tight_layout()
    fig.savefig(osp.join(args.out_dir, 'curves.png'), dpi=100)
    plt.close(fig)


def plot(results, base, args):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    plot_curves([(r['arm'], r) for r in results] + [(f'baseline: {k}', r) for k, r in base.items()],
                args)
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
    base_channels=8,
    steps=30,
    seeds=[0, 1],
    lrs=LRS[2:4],
    max_extensions=1,
    size=16,
    num_train=256,
    num_test=128,
    eval_every=10,
    arms=['delta+srelu+0', 'delta+srelu+1e-2+5e-4', 'kaiming+relu+0'])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--depth', type=int, default=18, choices=[18, 34, 50, 101, 152])
    parser.add_argument('--base-channels', type=int, default=16)
    parser.add_argument(
        '--stem',
        choices=['cifar', 'imagenet'],
        default='cifar',
        help="ISONet's stem_type: 'cifar' (conv 3x3 / 1, stages at 32, 16, 8, 4 px for 32 px "
        "images) or 'imagenet' (conv 7x7 / 2 + max pool / 2: 8, 4, 2, 1 px; the previous runs)")
    parser.add_argument(
        '--kaiming-fan-in',
        choices=['live', 'he'],
        default='live',
        help="Kaiming arms: 'live' counts the taps that read the input, not the zero padding "
        "(mean over output positions); 'he': C_in * k * k whatever the map's size")
    parser.add_argument('--arms', type=parse_arm, nargs='+', default=DEFAULT_ARMS)
    parser.add_argument('--task', choices=list(tr.TASKS), default='pairs')
    parser.add_argument('--steps', type=int, default=300)
    tr.add_lr_arguments(parser, lrs=LRS, factor=LR_FACTOR)
    parser.add_argument(
        '--max-extensions',
        type=int,
        default=MAX_EXTENSIONS,
        help='how often the lr grid may extend at an edge')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--weight-decay', type=float, default=1e-4, help='of the arms that do not give one')
    parser.add_argument(
        '--track-every', type=int, default=30, help='steps between orthogonality records')
    parser.add_argument(
        '--eval-every',
        type=int,
        default=50,
        help='steps between held-out accuracy records of the reported runs (0: none)')
    parser.add_argument('--size', type=int, default=32)
    parser.add_argument('--noise', type=float, default=1.0)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--num-train', type=int, default=2048)
    parser.add_argument('--num-test', type=int, default=1024)
    parser.add_argument('--data-seed', type=int, default=0)
    tr.add_device_argument(
        parser, 'where every model and tensor lives (batches are drawn on the CPU either way)')
    parser.add_argument(
        '--no-cuda-graph',
        dest='cuda_graph',
        action='store_false',
        help='with --device cuda, launch the regulariser kernel by kernel instead of replaying it '
        'from a CUDA graph (the same values, slower)')
    reporting.add_run_arguments(parser, 'isonet_ablation', QUICK, 'a minute or two on 2 CPU cores')
    args = parser.parse_args(argv)
    reporting.apply_quick(parser, args, QUICK)
    tr.check_device(parser, args.device)
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
    tr.full_float32(args.device)
    os.makedirs(args.out_dir, exist_ok=True)
    make = tr.TASKS[args.task][0]
    data = make(args.num_train, args.size, args.noise, args.data_seed, 'train')
    test = make(args.num_test, args.size, args.noise, args.data_seed, 'test')
    data, test = (tuple(t.to(args.device) for t in d) for d in (data, test))
    probe = ISONetClassifier(
        args.depth,
        args.base_channels,
        'kaiming',
        'relu',
        tr.TASKS[args.task][1],
        stem=args.stem,
        size=args.size)
    stage_sizes, live = probe.stage_sizes, probe.live_fractions
    print(f'device {args.device}; {args.stem} stem, {args.size} x {args.size} images: '
          f'{format_sizes(stage_sizes)}')
    print('live-tap fraction of the body convs: ' + ' '.join(f'{f:.2f}' for f in live))
    if min(min(hw) for hw in stage_sizes.values()) < 4:
        print('warning: a stage runs below 4 x 4: its 3 x 3 convs read mostly zero padding')
    print(f'{"arm":<28}{"lr":>7}{"final loss":>16}{"train acc":>16}{"test acc":>16}'
          f'{"orth. error":>16}{"time":>8}')

    def show(name, r):
        runs = r['runs']
        print(
            f'{name:<28}{r["lr"]:>7.3g}{mean_std([x["final_loss"] for x in runs]):>16}'
            f'{mean_std([x["final_accuracy"] for x in runs]):>16}'
            f'{mean_std([x["test_accuracy"] for x in runs]):>16}'
            f'{mean_std([final_orthogonality(x) for x in runs]):>16}'
            f'{time.perf_counter() - start:>7.0f}s',
            flush=True)

    def save(name, results, base):
        with open(osp.join(args.out_dir, name), 'w') as f:
            json.dump(
                dict(
                    vars(args),
                    stage_sizes=stage_sizes,
                    live_tap_fraction=live,
                    lr_factor=LR_FACTOR,
                    results=results,
                    baselines=base,
                    seconds=time.perf_counter() - start), f)

    results = []
    for arm in args.arms:  # results_partial.json after each arm: a run cut short keeps them
        results.append(run_arm(arm, data, test, args))
        show(results[-1]['arm'], results[-1])
        save('results_partial.json', results, {})
    base = baselines(data, test, args)
    for name, r in base.items():
        show(name[:27], r)
    seconds = time.perf_counter() - start
    save('results.json', results, base)
    os.remove(osp.join(args.out_dir, 'results_partial.json'))
    plot(results, base, args)
    print(write_table(results, base, args, seconds, stage_sizes))
    print(f'wrote {args.out_dir}/{{results.json,table.md,curves.png,orthogonality.png}} '
          f'in {seconds:.0f} s')


if __name__ == '__main__':
    main()
