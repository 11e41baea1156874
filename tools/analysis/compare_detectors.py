"""The demo detector with different backbones, side by side: every arm searched on the same grid
(learning rate x backbone learning-rate multiplier) and chosen on two tuning seeds, a learning
curve for every run, and the test split scored once per reported run.

    python tools/analysis/compare_detectors.py [--arms ...] [--seeds 0 1 2 3 4] [--epochs 3]
        [--lrs 0.01 0.02 0.04] [--mults 1 0.2] [--tune-seeds 100 101] [--jobs 2] [--quick]
        [--out-dir DIR | --resume DIR | --tuned-from DIR]

Every arm trains the demo's Mask R-CNN + FPN (configs/demo/mask-rcnn_risonet18_fpn_shapes.py)
from scratch and changes only the backbone (depth 18, stage widths 32/64/128/256 for all) and
what belongs to it (isonet_det.experiments.detector_arms):
  risonet          R-ISONet-18 + the isometry regulariser (coeff 1e-4): the demo itself
  risonet_noreg    R-ISONet-18 without the regulariser
  risonet_reg1e-3  R-ISONet-18 + the regulariser at coeff 1e-3
  isonet           ISONet-18 (no shortcuts) + the regulariser
  resnet_gn        mmdet's ResNet-18 with GN (8 groups): the normalised reference of the table
  resnet_bn        mmdet's ResNet-18 with BN in train mode at batch 4 (a known weak baseline)
  skipinit         SkipInit (De & Smith 2020): R-ISONet-18's residual structure with ReLU,
                   Kaiming init and the branch scale at 0, no regulariser
  nf_resnet        timm's NF-ResNet-26 (Brock et al. 2021) through MMPretrain's TIMMBackbone,
                   stage outputs 32-256 (bottleneck ratio 1.25, stem 32: 2.88 M parameters)
The default arms (risonet, resnet_gn) take about 60-70 minutes on 2 cores at 3 epochs, and
--arms risonet isonet resnet_gn about 100 (estimates from the three-arm run's times,
docs/experiments/compare_detectors.md); resnet_gn is always run (every difference is taken
against it).

Data: data/compare_shapes_<variant>, written if absent: 400 training images, a tuning split of 100
and a test split ('val') of 200 other images, all from the same generator (--variant simple: the
demo's shapes, the default; hard: textured backgrounds, clutter, occlusion, object scales 6-60%,
on which R-ISONet reaches 0.027 box mAP after 5 epochs: too hard to rank anything at this budget).

Schedule: --epochs epochs of the demo's schedule (100 iterations each at 400 images, batch 4, its
warm-up, lr x0.1 for the last epoch), the tuning split scored after every epoch.

Tuning, the same for every arm: each (lr, multiplier) of --lrs x --mults (the multiplier scales
every backbone parameter's lr, normalisation layers included) trains the whole schedule on each
--tune-seeds seed (seeds no reported run uses); a setting's score is its tuning-split box mAP at the
last epoch, averaged over the tuning seeds (a diverged seed counts 0; ties: the lower mean final
training loss). While an arm's best lr for a multiplier is the largest or smallest of its grid,
the grid is extended x2 / x0.5 (--max-extensions). The arm takes the (lr, multiplier) with the best
score. Choices: tune/<arm>.json.

Reported: each arm at its chosen setting on every --seeds seed (the same seed gives every arm the
same data order), scored on the test split once at the end: box / mask mAP, the paired difference
to resnet_gn per seed with a 95% t interval ("ahead" / "behind" only where it excludes 0), the
orthogonality error of the backbone convs at the end, s/iter as a ratio to resnet_gn in this run,
peak resident memory. The learning curves: each arm's tuning-split box mAP per epoch (mean over the
reported seeds), and whether the arms' order on it is the same at the last two evaluations and at
the last two before the decay (if it is not, the table ranks a budget, not the methods). Each run
is tools/train.py (then tools/test.py) on a config written into the run folder, in its own
process; --jobs N runs N of them at once, each with cores / N threads.

Output (a new folder; --resume DIR finishes the runs an interrupted one had not): results.json,
table.md, curves.png (tuning-split box mAP per epoch, training loss, tuning grid).
"""
import argparse
import glob
import math
import os
import os.path as osp
import sys
import threading
import time
from functools import partial

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)
from isonet_det.datasets import generate_shapes_dataset  # noqa: E402
from isonet_det.experiments import launch, reporting, tuning  # noqa: E402
from isonet_det.experiments.detector_arms import ARMS, ISOMETRIC, arm_config  # noqa: E402

CONFIG_LOCK = threading.Lock()
PAIRED_REFERENCE = 'resnet_gn'
DEFAULT_ARMS = ['risonet', 'resnet_gn']  # about 60-70 min on 2 cores (estimated); isonet: ~100
LABELS = {
    'risonet': 'R-ISONet-18 + regulariser 1e-4 (the demo)',
    'risonet_noreg': 'R-ISONet-18, no regulariser',
    'risonet_reg1e-3': 'R-ISONet-18 + regulariser 1e-3',
    'isonet': 'ISONet-18 + regulariser 1e-4',
    'skipinit': 'SkipInit (ReLU, Kaiming, branch scale 0)',
    'nf_resnet': 'NF-ResNet-26 (timm)',
    'resnet_gn': 'ResNet-18, GN (reference)',
    'resnet_bn': 'ResNet-18, BN train mode, batch 4 (weak baseline)',
}


def run_config(arm, lr, mult, seed, args, test):
    """``arm`` at (``lr``, backbone lr x ``mult``) on ``seed``: the tuning split scored after every
    epoch, and for a reported run (``test``) the test split (``val``) kept for tools/test.py."""
    with CONFIG_LOCK:  # mmengine's Config.fromfile (pkg_resources) is not thread-safe
        return arm_config(
            arm,
            lr,
            seed,
            args.epochs,
            args.data,
            num_train=args.num_train,
            val_interval=1,
            log_interval=args.log_interval,
            backbone_lr_mult=mult,
            val_split='tune',
            test_split='val' if test else None)


def train(arm, lr, mult, seed, work_dir, args, test):
    """One run in its own process: its training series and tuning-split curve, and for a reported
    run (``test``) the test split's box / mask mAP and the backbone's orthogonality error at the
    end. A run that stops on a non-finite value is ``diverged`` (its mAP 0: it detects nothing)."""
    os.makedirs(work_dir, exist_ok=True)
    config = osp.join(work_dir, 'config.py')
    run_config(arm, lr, mult, seed, args, test).dump(config)
    name = f'{arm} (lr {lr:g}, x{mult:g}, seed {seed})'
    result = dict(arm=arm, lr=lr, mult=mult, seed=seed, diverged=False)
    try:
        result.update(launch.train_in_subprocess(config, work_dir, args.jobs, name=name))
    except launch.Diverged:
        print(f'{name} diverged', flush=True)
        result.update(diverged=True, bbox_mAP=0.0, segm_mAP=0.0)
    try:
        series = launch.read_detector_series(work_dir)
    except FileNotFoundError:  # stopped before its first log
        if not result['diverged']:
            raise
        series = dict(iters=[], loss=[], isometry_reg=[], time=[], bbox_mAP=[], segm_mAP=[])
    result.update(
        iters=series['iters'],
        loss=series['loss'],
        isometry_reg=series['isometry_reg'],
        tune_bbox_mAP=series['bbox_mAP'],
        tune_segm_mAP=series['segm_mAP'],
        s_per_iter=launch.steady_s_per_iter(series['time']) if series['time'] else float('nan'))
    checkpoints = glob.glob(osp.join(work_dir, 'epoch_*.pth'))
    if test and not result['diverged']:
        (checkpoint, ) = checkpoints
        metrics = launch.test_in_subprocess(
            config, checkpoint, osp.join(work_dir, 'test'), args.jobs, name=name)
        result.update(
            **launch.coco_mean_ap(metrics),
            orthogonality_error=backbone_orthogonality_error(arm, checkpoint))
    for checkpoint in checkpoints:  # 11 MB a run; the result keeps what the tables need
        os.remove(checkpoint)
    return result


def final_tune_score(run, key='tune_bbox_mAP'):
    """A run's tuning-split score at the last epoch: 0 for a diverged run."""
    return 0.0 if run['diverged'] or not run[key] else run[key][-1]


def backbone_orthogonality_error(arm, checkpoint):
    """Mean ``||Conv(A, A) - delta|| / ||delta||`` over the convs the regulariser acts on, of the
    backbone in ``checkpoint`` (nan for a backbone the regulariser does not apply to: timm's
    NF-ResNet standardises its weights in the forward pass, and ResNet's convs feed
    normalisation)."""
    if arm not in ISOMETRIC:
        return float('nan')
    from isonet_det.analysis.layer_report import orthogonality_error
    from isonet_det.engine.checkpoint_reader import read_checkpoint
    from isonet_det.ops import regularized_convs
    state = read_checkpoint(checkpoint, map_location='cpu')['state_dict']
    backbone = build_backbone(arm)
    backbone.load_state_dict(
        {k[len('backbone.'):]: v
         for k, v in state.items() if k.startswith('backbone.')})
    errors = [orthogonality_error(c) for c in regularized_convs(backbone, module='')]
    return sum(errors) / len(errors)


def tune_seed_run(key, lr, seed, args):
    """One tuning run: the arm of ``key`` (``(arm, multiplier)``) at ``lr`` on tuning seed
    ``seed``, over the whole schedule; kept in its ``result.json``."""
    arm, mult = key
    work_dir = osp.join(args.out_dir, 'tune', arm, f'x{mult:g}', f'lr{lr:g}', f'seed{seed}')
    return reporting.cached_result(work_dir,
                                   partial(train, arm, lr, mult, seed, work_dir, args, test=False))


def tune_setting(key, lr, runs):
    """One tuning setting, ``key`` = ``(arm, multiplier)`` at ``lr``, from its ``runs`` on the
    --tune-seeds seeds: its score is the mean final tuning-split box mAP."""
    arm, mult = key

    def mean(values):
        return sum(values) / len(values)

    return dict(
        arm=arm,
        mult=mult,
        lr=lr,
        bbox_mAP=mean([final_tune_score(r) for r in runs]),
        segm_mAP=mean([final_tune_score(r, 'tune_segm_mAP') for r in runs]),
        per_seed=[final_tune_score(r) for r in runs],
        final_loss=tuning.mean_final_loss(runs),
        diverged=sum(r['diverged'] for r in runs),
        tune_curve=mean_curve(runs))


def mean_curve(runs):
    """The tuning-split box mAP per epoch averaged over ``runs`` (a diverged run counts 0 from
    where it stopped)."""
    length = max((len(r['tune_bbox_mAP']) for r in runs), default=0)
    if not length:
        return []
    padded = [list(r['tune_bbox_mAP']) + [0.0] * (length - len(r['tune_bbox_mAP'])) for r in runs]
    return [sum(c) / len(c) for c in zip(*padded)]


def score(setting):
    """Tuning order: higher mean box mAP on the tuning split, then lower mean final loss."""
    return tuning.score(setting['bbox_mAP'], setting['final_loss'])


def tune(arms, args):
    """Every arm's lr per multiplier on a grid extended until the choice is interior, then its
    (lr, multiplier); the choice of ``arm`` in ``tune/<arm>.json``."""
    keys = [(arm, mult) for arm in arms for mult in args.mults]
    grids = tuning.tune_lr_grids(
        keys,
        args.lrs,
        partial(tune_seed_run, args=args),
        score,
        jobs=args.jobs,
        max_extensions=args.max_extensions,
        seeds=args.tune_seeds,
        combine=tune_setting)
    choices = {}
    for arm in arms:
        per_mult = {m: tuning.best_lr(grids[arm, m], score) for m in args.mults}
        mult = max(per_mult, key=lambda m: score(grids[arm, m][per_mult[m]]))
        choice = dict(
            arm=arm,
            lr=per_mult[mult],
            mult=mult,
            interior=tuning.is_interior(grids[arm, mult], per_mult[mult]),
            lr_per_mult={str(m): lr
                         for m, lr in per_mult.items()},
            tune_seeds=list(args.tune_seeds),
            epochs=args.epochs,
            runs=[grids[arm, m][lr] for m in args.mults for lr in sorted(grids[arm, m])])
        reporting.write_json(osp.join(args.out_dir, 'tune', f'{arm}.json'), choice)
        choices[arm] = choice
    return choices


def choices_for(arms, args):
    """The tuned settings of ``arms``: from ``tune/<arm>.json`` where it exists (a resumed run, or
    copied from --tuned-from), tuned here for the rest."""
    os.makedirs(osp.join(args.out_dir, 'tune'), exist_ok=True)
    choices = {}
    for arm in arms:
        path = osp.join(args.out_dir, 'tune', f'{arm}.json')
        if args.tuned_from and not osp.exists(path):  # another run's choice, recorded as this one's
            chosen = osp.join(args.tuned_from, 'tune', f'{arm}.json')
            if not osp.isfile(chosen):
                raise FileNotFoundError(f'--tuned-from {args.tuned_from}: no settings chosen for '
                                        f'{arm} ({chosen} is missing)')
            reporting.write_json(path, dict(reporting.read_json(chosen), tuned_in=args.tuned_from))
        if osp.exists(path):
            choices[arm] = reporting.read_json(path)
    choices.update(tune([a for a in arms if a not in choices], args))
    return choices


def run_arm(arm, seed, choice, args):
    """One reported run: ``arm`` at its chosen lr and multiplier on ``seed``, its tuning-split
    curve, scored once on the test split; kept in its ``result.json``."""
    work_dir = osp.join(args.out_dir, 'runs', arm, f'seed{seed}')
    result = reporting.cached_result(
        work_dir,
        partial(train, arm, choice['lr'], choice['mult'], seed, work_dir, args, test=True))
    print(
        f'{arm:<15} seed {seed}: box {result["bbox_mAP"]:.3f} mask {result["segm_mAP"]:.3f} (tune '
        f'per epoch {" ".join(f"{v:.2f}" for v in result["tune_bbox_mAP"])}), '
        f'{result["s_per_iter"]:.3f} s/iter',
        flush=True)
    return result


def build_backbone(arm):
    """``arm``'s backbone, built as the detector's config builds it (mmdet's registry, the plugin
    and, for TIMMBackbone, MMPretrain's models registered)."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    __import__('isonet_det')
    backbone = ARMS[arm][0]
    if backbone['type'].startswith('mmpretrain.'):
        __import__('mmpretrain.models')
    return MODELS.build(dict(backbone))


def backbone_params(arm):
    return sum(p.numel() for p in build_backbone(arm).parameters())


def summarise(runs, choices, args, params=backbone_params):
    """One row per arm: test scores over seeds, the paired difference to resnet_gn, the mean
    tuning-split curve over the reported seeds; and whether the arms' order on those curves held
    at the end (:func:`isonet_det.experiments.tuning.order_held`)."""
    by_arm = {arm: {r['seed']: r for r in runs if r['arm'] == arm} for arm in args.arms}
    ref_time = reporting.mean_sd(
        [r['s_per_iter'] for r in by_arm.get(PAIRED_REFERENCE, {}).values()])[0]
    rows = []
    for arm in args.arms:
        mine = by_arm[arm]
        row = dict(
            arm=arm,
            lr=choices[arm]['lr'],
            mult=choices[arm]['mult'],
            params=params(arm),
            box=reporting.mean_sd(r['bbox_mAP'] for r in mine.values()),
            mask=reporting.mean_sd(r['segm_mAP'] for r in mine.values()),
            seeds=sorted(mine),
            box_per_seed=[mine[s]['bbox_mAP'] for s in sorted(mine)],
            diverged=sum(r['diverged'] for r in mine.values()),
            detected_nothing=sum(r.get('detected_nothing', False) for r in mine.values()),
            tune_curve=mean_curve(list(mine.values())),
            orthogonality_error=reporting.mean_sd(
                r.get('orthogonality_error', math.nan) for r in mine.values())[0],
            s_per_iter=reporting.mean_sd(r['s_per_iter'] for r in mine.values())[0],
            peak_rss_mib=max((r.get('peak_rss_mib', math.nan) for r in mine.values()),
                             default=math.nan))
        row['time_ratio'] = row['s_per_iter'] / ref_time
        ref = by_arm.get(PAIRED_REFERENCE, {})
        if arm != PAIRED_REFERENCE and ref:
            for metric in ('bbox_mAP', 'segm_mAP'):
                row[f'{metric}_vs_{PAIRED_REFERENCE}'] = tuning.compare_paired(
                    {s: r[metric]
                     for s, r in mine.items()}, {s: r[metric]
                                                 for s, r in ref.items()})
        rows.append(row)
    return rows, tuning.order_held({r['arm']: r['tune_curve'] for r in rows}, args.epochs)


def fmt(value, digits=3):
    return '—' if value is None or not math.isfinite(value) else f'{value:.{digits}f}'


def write_table(rows, held, choices, args, seconds):
    reg = f'{args.jobs} run(s) at once, {launch.threads_per_job(args.jobs)} thread(s) each'
    lines = [
        f'Mask R-CNN + FPN on the generated shapes ({args.variant}): {args.epochs} epochs (lr '
        f'x0.1 for the last), box / mask mAP on the test split (mean ± sd over seeds '
        f'{args.seeds}); lr and backbone lr multiplier chosen on the tuning split (the same grid '
        f'for every arm, mean over tuning seeds {args.tune_seeds}, the whole schedule); Δ vs '
        f'{PAIRED_REFERENCE}: paired over seeds, mean [95% t interval]; orth. error: mean over '
        f'the backbone convs at the end; s/iter as a ratio to {PAIRED_REFERENCE} in this run '
        f'({reg}).', '',
        f'| backbone | params | lr | backbone lr x | box mAP | mask mAP | box Δ vs '
        f'{PAIRED_REFERENCE} | mask Δ vs {PAIRED_REFERENCE} | box mAP per seed | orth. error | '
        f's/iter (/ {PAIRED_REFERENCE}) | peak RSS |', '|---' * 12 + '|'
    ]
    for r in rows:
        deltas = []
        for metric in ('bbox_mAP', 'segm_mAP'):
            d = r.get(f'{metric}_vs_{PAIRED_REFERENCE}')
            deltas.append('—' if d is None else f'{d["mean"]:+.3f} [{fmt(d["low"])}, '
                          f'{fmt(d["high"])}] {d["verdict"]}')
        interior = '' if choices[r['arm']].get('interior', True) else ' (edge)'
        failed = f' ({r["diverged"]} diverged)' if r['diverged'] else ''
        if r.get('detected_nothing'):  # trained to the end, no detection in the test split: 0
            failed += f' ({r["detected_nothing"]} detected nothing)'
        lines.append(
            f'| {LABELS.get(r["arm"], r["arm"])} | {r["params"] / 1e6:.2f} M | '
            f'{r["lr"]:g}{interior} | {r["mult"]:g} | {reporting.format_mean_sd(r["box"])}'
            f'{failed} | {reporting.format_mean_sd(r["mask"])} | {deltas[0]} | {deltas[1]} | '
            f'{" / ".join(fmt(v) for v in r["box_per_seed"])} | {fmt(r["orthogonality_error"])} | '
            f'{r["s_per_iter"]:.3f} ({r["time_ratio"]:.2f}) | {r["peak_rss_mib"]:.0f} MiB |')
    lines += reporting.learning_curve_lines('arm', {r['arm']: r['tune_curve']
                                                    for r in rows}, args.epochs, held)
    lines += [
        '', f'Tuning (box mAP on the tuning split at the last epoch, mean over seeds '
        f'{args.tune_seeds} and per seed; the choice in bold):', ''
    ]
    for arm, choice in choices.items():
        if 'tuned_in' in choice:  # --tuned-from: another run's choice, maybe at another budget
            lines.append(f'- {arm}: taken from {choice["tuned_in"]}, chosen there at '
                         f'{choice.get("epochs", "an unrecorded number of")} epochs')
        for mult in sorted({r['mult'] for r in choice['runs']}, reverse=True):
            cells = []
            for r in (r for r in choice['runs'] if r['mult'] == mult):
                text = (f'{r["lr"]:g}: {fmt(r["bbox_mAP"])} '
                        f'({" / ".join(fmt(v) for v in r["per_seed"])}'
                        f'{", " + str(r["diverged"]) + " diverged" if r["diverged"] else ""})')
                chosen = r['lr'] == choice['lr'] and mult == choice['mult']
                cells.append(f'**{text}**' if chosen else text)
            lines.append(f'- {arm} x{mult:g}: {", ".join(cells)}')
    return reporting.write_table(args.out_dir, lines, seconds)


def plot(runs, choices, args):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    for i, arm in enumerate(args.arms):
        for j, r in enumerate(x for x in runs if x['arm'] == arm):
            label = arm if j == 0 else None
            epochs = range(1, len(r['tune_bbox_mAP']) + 1)
            axes[0].plot(epochs, r['tune_bbox_mAP'], 'o-', color=f'C{i}', lw=0.8, ms=3, label=label)
            axes[1].plot(r['iters'], r['loss'], color=f'C{i}', lw=0.6, label=label)
        for mult, style in zip(sorted(args.mults, reverse=True), ('o-', 's--', '^:', 'v-.')):
            tuned = sorted(
                (r['lr'], r['bbox_mAP']) for r in choices[arm]['runs'] if r['mult'] == mult)
            if tuned:
                axes[2].plot(*zip(*tuned), style, color=f'C{i}', lw=1, label=f'{arm} x{mult:g}')
    axes[0].set(xlabel='epoch', ylabel='box mAP (tuning split)')
    axes[1].set(xlabel='iteration', ylabel='training loss', yscale='log')
    axes[2].set(xlabel='lr', ylabel='box mAP (tuning split, mean of tuning seeds)', xscale='log')
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(osp.join(args.out_dir, 'curves.png'), dpi=110)
    plt.close(fig)


QUICK = dict(
    seeds=[0],
    tune_seeds=[100, 101],
    epochs=1,
    lrs=[0.02],
    mults=[1.0],
    num_train=40,
    log_interval=5)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arms', nargs='+', default=DEFAULT_ARMS, choices=list(ARMS))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    tuning.add_tune_seeds_argument(parser)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--lrs', type=float, nargs='+', default=[0.01, 0.02, 0.04])
    parser.add_argument(
        '--mults',
        type=float,
        nargs='+',
        default=[1.0, 0.2],
        help='backbone lr multipliers, tried for every arm')
    parser.add_argument('--max-extensions', type=int, default=1)
    parser.add_argument(
        '--tuned-from',
        default=None,
        help='a finished run folder whose tuned settings this run takes (no tuning runs)')
    parser.add_argument('--num-train', type=int, default=None, help='first N training images')
    parser.add_argument(
        '--jobs',
        type=int,
        default=min(2,
                    os.cpu_count() or 1),
        help='training processes at once, the cores shared among them (default: 2 where there are '
        '2 cores: 1.6x the throughput of one 2-thread process on the 2-core CI machine)')
    parser.add_argument('--log-interval', type=int, default=25)
    parser.add_argument(
        '--data',
        default=None,
        help='the COCO-format data with train / tune / val splits (default: '
        'data/compare_shapes_<variant>; written there if absent)')
    parser.add_argument(
        '--variant',
        choices=['simple', 'hard'],
        default='simple',
        help='the generated data: the demo\'s shapes, or the hard variant (textured backgrounds, '
        'clutter, occlusion, object scales from 6%% to 60%% of the image: at this budget every '
        'arm stays near 0 box mAP on it, see docs/experiments/compare_detectors.md)')
    reporting.add_run_arguments(parser, 'compare_detectors', QUICK, 'a few minutes',
                                '; a run folder to finish: --resume')
    parser.add_argument('--resume', default=None, help='a run folder to finish')
    args = parser.parse_args(argv)
    if args.resume:
        return reporting.resumed_args(parser, args.resume)
    if args.jobs < 1:
        parser.error(f'--jobs must be at least 1, got {args.jobs}')
    reporting.apply_quick(parser, args, QUICK)
    tuning.check_tune_seeds(parser, args, choosing=not args.tuned_from)
    if PAIRED_REFERENCE not in args.arms:
        args.arms.append(PAIRED_REFERENCE)  # every row's difference is taken against it
    if args.data is None:
        args.data = osp.join(ROOT, 'data', f'compare_shapes_{args.variant}')
    args.data = osp.abspath(args.data)
    args.out_dir = osp.abspath(reporting.new_run_dir(args.out_dir, 'compare_detectors', root=ROOT))
    reporting.save_run_args(args)
    return args


def check_data(args):
    """The data folder: generated if absent (400 train, 100 tune, 200 test images, seed 0); refused
    without a tuning split."""
    if not osp.isdir(args.data):
        generate_shapes_dataset(args.data, 400, 200, 128, 0, args.variant, num_tune=100)
    missing = [
        split for split in ('train', 'tune', 'val')
        if not osp.isfile(osp.join(args.data, 'annotations', f'instances_{split}.json'))
    ]
    if missing:
        raise FileNotFoundError(
            f'{args.data} has no {" / ".join(missing)} split (annotations/instances_<split>.json): '
            'the comparison tunes on "tune" and reports on "val"; generate one with '
            'isonet_det.datasets.generate_shapes_dataset(..., num_tune=N)')


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    check_data(args)
    choices = choices_for(args.arms, args)
    for arm, choice in choices.items():
        print(f'tuned {arm}: lr {choice["lr"]:g}, backbone lr x{choice["mult"]:g}', flush=True)
    # seed-major: every arm of a seed finishes before the next seed starts, so an interrupted run
    # leaves complete pairs
    runs = launch.run_all([
        partial(run_arm, arm, seed, choices[arm], args) for seed in args.seeds for arm in args.arms
    ], args.jobs)
    rows, held = summarise(runs, choices, args)
    seconds = time.perf_counter() - start
    reporting.write_json(
        osp.join(args.out_dir, 'results.json'),
        dict(
            args=vars(args),
            choices=choices,
            rows=rows,
            held=held,
            runs=runs,
            seconds=seconds,
            load_average=os.getloadavg()))
    plot(runs, choices, args)
    print(write_table(rows, held, choices, args, seconds))
    print(f'wrote {args.out_dir}/{{results.json,table.md,curves.png}}')


if __name__ == '__main__':
    main()
