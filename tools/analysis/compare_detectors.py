"""The demo detector with different backbones, side by side: same data, schedule and seeds, every
setting chosen on a tuning split the reported test split never takes part in.

    python tools/analysis/compare_detectors.py [--arms ...] [--seeds 0 1 2 3 4] [--epochs 3]
        [--lrs 0.01 0.02 0.04] [--mults 1 0.2] [--jobs 2] [--quick]
        [--out-dir DIR | --resume DIR]

Every arm trains the demo's Mask R-CNN + FPN (configs/demo/mask-rcnn_risonet18_fpn_shapes.py)
from scratch and changes only the backbone (depth 18, stage widths 32/64/128/256 for all) and
what belongs to it (isonet_det.experiments.detector_arms):
  risonet          R-ISONet-18 + the isometry regulariser (coeff 1e-4): the demo itself
  risonet_noreg    R-ISONet-18 without the regulariser
  risonet_reg1e-3  R-ISONet-18 + the regulariser at coeff 1e-3 (tuning factorial only)
  isonet           ISONet-18 (no shortcuts) + the regulariser
  resnet_gn        mmdet's ResNet-18 with GN (8 groups): the normalised reference of the table
  resnet_bn        mmdet's ResNet-18 with BN in train mode at batch 4 (a known weak baseline)
  skipinit         SkipInit (De & Smith 2020): R-ISONet-18's residual structure with ReLU,
                   Kaiming init and the branch scale at 0, no regulariser
  nf_resnet        timm's NF-ResNet-26 (Brock et al. 2021) through MMPretrain's TIMMBackbone,
                   stage outputs 32-256 (bottleneck ratio 1.25, stem 32: 2.88 M parameters)

Data: data/compare_shapes_<variant>, written if absent: 400 training images, a tuning split of 100
and a test split ('val') of 200 other images, all from the same generator (--variant simple: the
demo's shapes, the default; hard: textured backgrounds, clutter, occlusion, object scales 6-60%,
on which R-ISONet reaches 0.027 box mAP after 5 epochs: too hard to rank anything at this budget).

Tuning (seed --tune-seed, not a reported seed; --tune-epochs of the --epochs schedule, i.e. the
same warm-up and learning rate, stopped before the decay): for every arm and, for the
normalisation-free arms, every backbone learning-rate multiplier in --mults, each lr of --lrs is
trained and scored by box mAP on the tuning split (ties: lower final training loss); while the
best lr is the grid's largest or smallest, the grid is extended by x2 / x0.5 (--max-extensions).
A normalisation-free arm then takes the multiplier whose best lr scored higher. risonet_noreg and
risonet_reg1e-3 change only the regulariser's coefficient: they run at risonet's lr for each
multiplier and choose the multiplier; the six cells are R-ISONet's factorial (multiplier x
coefficient {0, 1e-4, 1e-3}), reported on the tuning split with the backbone's mean orthogonality
error at the end. Choices: tune/<arm>.json.

Reported: each arm at its chosen settings on every --seeds seed (the same seed gives every arm the
same data order), box / mask mAP on the test split, the paired difference to resnet_gn per seed
with a 95% t interval ("ahead" / "behind" only where it excludes 0), the orthogonality error of
the backbone convs at the end, s/iter as a ratio to resnet_bn measured in this run, peak resident
memory. Each run is tools/train.py on a config written into the run folder, in its own process;
--jobs N runs N of them at once, each with cores / N threads.

Output (a new folder; --resume DIR finishes the runs an interrupted one had not): results.json,
table.md, curves.png (training loss, isometry_reg per iteration, tuning-split box mAP per lr).
"""
import argparse
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
from isonet_det.experiments.detector_arms import NORMALISATION_FREE  # noqa: E402
from isonet_det.experiments.detector_arms import ARMS, ISOMETRIC, REFERENCE_ARM, arm_config

CONFIG_LOCK = threading.Lock()
PAIRED_REFERENCE = 'resnet_gn'
FACTORIAL = ('risonet_noreg', 'risonet', 'risonet_reg1e-3')  # coefficient 0, 1e-4, 1e-3
DERIVED_FROM = 'risonet'
DERIVED = ('risonet_noreg', 'risonet_reg1e-3')  # take R-ISONet's lr per multiplier
DEFAULT_ARMS = [
    'risonet', 'risonet_noreg', 'isonet', 'skipinit', 'nf_resnet', 'resnet_gn', 'resnet_bn'
]
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


def train(arm, lr, mult, seed, work_dir, args, for_tuning):
    """Train one setting in its own process; returns its parsed logs, the process's peak resident
    memory (MiB), wall time and the backbone's mean orthogonality error at the end."""
    os.makedirs(work_dir, exist_ok=True)
    config = osp.join(work_dir, 'config.py')
    with CONFIG_LOCK:  # mmengine's Config.fromfile (pkg_resources) is not thread-safe
        cfg = arm_config(
            arm,
            lr,
            seed,
            args.epochs,
            args.data,
            num_train=args.num_train,
            val_interval=args.epochs,
            log_interval=args.log_interval,
            backbone_lr_mult=mult,
            val_split='tune' if for_tuning else 'val')
        if for_tuning:  # the first --tune-epochs of the same schedule: warm-up and lr, no decay
            cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = args.tune_epochs
            cfg.default_hooks.checkpoint.interval = args.tune_epochs
        cfg.dump(config)
    usage = launch.train_in_subprocess(
        config, work_dir, args.jobs, name=f'{arm} (lr {lr}, x{mult:g}, seed {seed})')
    logs = read_scalars(work_dir)
    logs.update(usage)
    logs['orthogonality_error'] = backbone_orthogonality_error(arm, work_dir)
    return logs


def read_scalars(work_dir):
    """Training series and the last evaluation's box / mask mAP of the run in ``work_dir``."""
    series = launch.read_detector_series(work_dir)
    last = {k: series[k][-1] if series[k] else float('nan') for k in ('bbox_mAP', 'segm_mAP')}
    return dict(series, **last)


def backbone_orthogonality_error(arm, work_dir):
    """Mean ``||Conv(A, A) - delta|| / ||delta||`` over the convs the regulariser acts on, of the
    run's final backbone (nan for a backbone the regulariser does not apply to: timm's NF-ResNet
    standardises its weights in the forward pass, and ResNet's convs feed normalisation)."""
    if arm not in ISOMETRIC:
        return float('nan')
    import glob

    from isonet_det.analysis.layer_report import orthogonality_error
    from isonet_det.engine.checkpoint_reader import read_checkpoint
    from isonet_det.ops import regularized_convs
    (path, ) = glob.glob(osp.join(work_dir, 'epoch_*.pth'))
    state = read_checkpoint(path, map_location='cpu')['state_dict']
    backbone = build_backbone(arm)
    backbone.load_state_dict(
        {k[len('backbone.'):]: v
         for k, v in state.items() if k.startswith('backbone.')})
    errors = [orthogonality_error(c) for c in regularized_convs(backbone, module='')]
    return sum(errors) / len(errors)


def tune_run(arm, mult, lr, args):
    """One tuning run: the tuning-split scores of ``arm`` at (``lr``, ``mult``) on --tune-seed."""
    work_dir = osp.join(args.out_dir, 'tune', arm, f'x{mult:g}', f'lr{lr:g}')

    def make():
        nan = float('nan')
        try:
            logs = train(arm, lr, mult, args.tune_seed, work_dir, args, for_tuning=True)
        except launch.Diverged:  # a non-finite loss or regulariser: the worst score
            print(f'{arm} (lr {lr:g}, x{mult:g}) diverged', flush=True)
            logs = dict(
                bbox_mAP=nan,
                segm_mAP=nan,
                orthogonality_error=nan,
                iters=[],
                loss=[],
                diverged=True)
        loss = logs['loss'][-1] if logs['loss'] else nan
        run = dict(
            arm=arm,
            mult=mult,
            lr=lr,
            bbox_mAP=logs['bbox_mAP'],
            segm_mAP=logs['segm_mAP'],
            final_loss=loss if math.isfinite(loss) else float('inf'),
            orthogonality_error=logs['orthogonality_error'],
            iters=logs['iters'],
            loss=logs['loss'])
        if logs.get('diverged'):
            run['diverged'] = True
        return run

    return reporting.cached_result(work_dir, make)


def score(run):
    """Tuning order: higher box mAP on the tuning split, then lower final training loss."""
    return tuning.score(run['bbox_mAP'], run['final_loss'])


def mults_of(arm, args):
    return args.mults if arm in NORMALISATION_FREE else [1.0]


def record(choice, args):
    reporting.write_json(osp.join(args.out_dir, 'tune', f'{choice["arm"]}.json'), choice)
    return choice


def tune(arms, args):
    """Every arm's lr per multiplier on a grid extended until the choice is interior, then its
    multiplier; the choice of ``arm`` in ``tune/<arm>.json``."""
    keys = [(arm, mult) for arm in arms for mult in mults_of(arm, args)]
    grids = tuning.tune_lr_grids(
        keys,
        args.lrs,
        lambda key, lr: tune_run(*key, lr, args),
        score,
        jobs=args.jobs,
        max_extensions=args.max_extensions)
    choices = {}
    for arm in arms:
        per_mult = {m: tuning.best_lr(grids[arm, m], score) for m in mults_of(arm, args)}
        mult = max(per_mult, key=lambda m: score(grids[arm, m][per_mult[m]]))
        choices[arm] = record(
            dict(
                arm=arm,
                lr=per_mult[mult],
                mult=mult,
                interior=tuning.is_interior(grids[arm, mult], per_mult[mult]),
                lr_per_mult={str(m): lr
                             for m, lr in per_mult.items()},
                runs=[
                    grids[arm, m][lr] for m in mults_of(arm, args) for lr in sorted(grids[arm, m])
                ]), args)
    return choices


def tune_derived(arms, lrs_from, args):
    """The R-ISONet coefficient arms (``DERIVED``): each multiplier at the lr ``lrs_from`` (the
    coefficient-1e-4 arm's choice) found for it, the better multiplier chosen on the tuning split:
    the regulariser's coefficient is the one factor that changes."""
    cells = [(arm, mult) for arm in arms for mult in mults_of(arm, args)]
    runs = launch.run_all([
        partial(tune_run, arm, mult, lrs_from['lr_per_mult'][str(mult)], args)
        for arm, mult in cells
    ], args.jobs)
    choices = {}
    for arm in arms:
        mine = [r for (a, _), r in zip(cells, runs) if a == arm]
        best = max(mine, key=score)
        grid = {r['lr']: r for r in lrs_from['runs'] if r['mult'] == best['mult']}
        choices[arm] = record(
            dict(
                arm=arm,
                lr=best['lr'],
                mult=best['mult'],
                interior=tuning.is_interior(grid, best['lr']),
                lr_per_mult=lrs_from['lr_per_mult'],
                lr_from=lrs_from['arm'],
                runs=mine), args)
    return choices


def choices_for(arms, args):
    """The tuned settings of ``arms`` (with R-ISONet's, which the coefficient arms take their lrs
    from): from ``tune/<arm>.json`` where it exists (a resumed run, or copied from
    --tuned-from), tuned here for the rest."""
    os.makedirs(osp.join(args.out_dir, 'tune'), exist_ok=True)
    if any(arm in DERIVED for arm in arms) and DERIVED_FROM not in arms:
        arms = [DERIVED_FROM] + list(arms)
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
    choices.update(tune([a for a in arms if a not in choices and a not in DERIVED], args))
    derived = [a for a in arms if a not in choices and a in DERIVED]
    if derived:
        choices.update(tune_derived(derived, choices[DERIVED_FROM], args))
    return choices


def run_arm(arm, seed, choice, args):
    """One reported run: ``arm`` at its chosen lr and multiplier on ``seed``, scored on the test
    split; kept in its ``result.json``."""
    work_dir = osp.join(args.out_dir, 'runs', arm, f'seed{seed}')

    def make():
        logs = train(arm, choice['lr'], choice['mult'], seed, work_dir, args, for_tuning=False)
        return dict(arm=arm, seed=seed, s_per_iter=launch.steady_s_per_iter(logs['time']), **logs)

    result = reporting.cached_result(work_dir, make)
    print(
        f'{arm:<15} seed {seed}: box {result["bbox_mAP"]:.3f} mask {result["segm_mAP"]:.3f}, '
        f'{result["s_per_iter"]:.3f} s/iter, {result["peak_rss_mib"]:.0f} MiB',
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


def summarise(runs, choices, args):
    """One row per reported arm: scores over seeds, the paired difference to resnet_gn."""
    by_arm = {arm: {r['seed']: r for r in runs if r['arm'] == arm} for arm in args.arms}
    ref_time = reporting.mean_sd([r['s_per_iter']
                                  for r in by_arm.get(REFERENCE_ARM, {}).values()])[0]
    rows = []
    for arm in args.arms:
        mine = by_arm[arm]
        row = dict(
            arm=arm,
            lr=choices[arm]['lr'],
            mult=choices[arm]['mult'],
            params=backbone_params(arm),
            box=reporting.mean_sd(r['bbox_mAP'] for r in mine.values()),
            mask=reporting.mean_sd(r['segm_mAP'] for r in mine.values()),
            seeds=sorted(mine),
            box_per_seed=[mine[s]['bbox_mAP'] for s in sorted(mine)],
            orthogonality_error=reporting.mean_sd(r['orthogonality_error']
                                                  for r in mine.values())[0],
            s_per_iter=reporting.mean_sd(r['s_per_iter'] for r in mine.values())[0],
            peak_rss_mib=max(r['peak_rss_mib'] for r in mine.values()))
        row['time_ratio'] = row['s_per_iter'] / ref_time
        ref = by_arm.get(PAIRED_REFERENCE, {})
        if arm != PAIRED_REFERENCE and ref:
            for metric in ('bbox_mAP', 'segm_mAP'):
                row[f'{metric}_vs_{PAIRED_REFERENCE}'] = tuning.compare_paired(
                    {s: r[metric]
                     for s, r in mine.items()}, {s: r[metric]
                                                 for s, r in ref.items()})
        rows.append(row)
    return rows


def factorial_rows(choices, args):
    """R-ISONet's multiplier x coefficient cells on the tuning split (tune seed), each at the
    coefficient-1e-4 arm's best lr for that multiplier."""
    rows = []
    for arm in FACTORIAL:
        if arm not in choices:
            continue
        for run in choices[arm]['runs']:
            if run['lr'] != choices[arm]['lr_per_mult'][str(run['mult'])]:
                continue  # a tuning run of another lr
            rows.append(
                dict(
                    arm=arm,
                    coeff=ARMS[arm][1],
                    mult=run['mult'],
                    lr=run['lr'],
                    bbox_mAP=run['bbox_mAP'],
                    segm_mAP=run['segm_mAP'],
                    orthogonality_error=run['orthogonality_error']))
    return rows


def fmt(value, digits=3):
    return '—' if value is None or not math.isfinite(value) else f'{value:.{digits}f}'


def write_table(rows, factorial, choices, args, seconds):
    reg = f'{args.jobs} run(s) at once, {launch.threads_per_job(args.jobs)} thread(s) each'
    lines = [
        f'Mask R-CNN + FPN on the generated shapes ({args.variant}): {args.epochs} epochs, box / '
        f'mask mAP on the test split (mean ± sd over seeds {args.seeds}); lr and backbone lr '
        f'multiplier chosen on the tuning split (seed {args.tune_seed}, {args.tune_epochs} '
        f'epochs); Δ vs {PAIRED_REFERENCE}: paired over seeds, mean [95% t interval]; orth. '
        f'error: mean over the backbone convs at the end; s/iter as a ratio to {REFERENCE_ARM} '
        f'in this run ({reg}).', '',
        f'| backbone | params | lr | backbone lr x | box mAP | mask mAP | box Δ vs '
        f'{PAIRED_REFERENCE} | mask Δ vs {PAIRED_REFERENCE} | box mAP per seed | orth. error | '
        f's/iter (/ {REFERENCE_ARM}) | peak RSS |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|'
    ]
    for r in rows:
        deltas = []
        for metric in ('bbox_mAP', 'segm_mAP'):
            d = r.get(f'{metric}_vs_{PAIRED_REFERENCE}')
            deltas.append('—' if d is None else f'{d["mean"]:+.3f} [{fmt(d["low"])}, '
                          f'{fmt(d["high"])}] {d["verdict"]}')
        interior = '' if choices[r['arm']].get('interior', True) else ' (edge)'
        lines.append(
            f'| {LABELS.get(r["arm"], r["arm"])} | {r["params"] / 1e6:.2f} M | '
            f'{r["lr"]:g}{interior} | {r["mult"]:g} | {reporting.format_mean_sd(r["box"])} | '
            f'{reporting.format_mean_sd(r["mask"])} | {deltas[0]} | {deltas[1]} | '
            f'{" / ".join(fmt(v) for v in r["box_per_seed"])} | {fmt(r["orthogonality_error"])} | '
            f'{r["s_per_iter"]:.3f} ({r["time_ratio"]:.2f}) | {r["peak_rss_mib"]:.0f} MiB |')
    if factorial:
        lines += [
            '',
            f'R-ISONet-18, backbone lr multiplier x regulariser coefficient, on the tuning split '
            f'(seed {args.tune_seed}, {args.tune_epochs} epochs, one run per cell):', '',
            '| coefficient | backbone lr x | lr | box mAP (tune) | mask mAP (tune) | orth. error |',
            '|---|---|---|---|---|---|'
        ]
        lines += [
            f'| {r["coeff"]:g} | {r["mult"]:g} | {r["lr"]:g} | {fmt(r["bbox_mAP"])} | '
            f'{fmt(r["segm_mAP"])} | {fmt(r["orthogonality_error"])} |' for r in factorial
        ]
    lines += [
        '', 'Tuning runs (box mAP on the tuning split per lr, per backbone lr multiplier):', ''
    ]
    for arm, choice in choices.items():
        for mult in sorted({r['mult'] for r in choice['runs']}, reverse=True):
            grid = ', '.join(
                f'{r["lr"]:g}: {"diverged" if r.get("diverged") else fmt(r["bbox_mAP"])}'
                for r in choice['runs'] if r['mult'] == mult)
            lines.append(f'- {arm} x{mult:g}: {grid}')
    return reporting.write_table(args.out_dir, lines, seconds)


def plot(runs, choices, args):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    for i, arm in enumerate(args.arms):
        for j, r in enumerate(x for x in runs if x['arm'] == arm):
            label = arm if j == 0 else None
            axes[0].plot(r['iters'], r['loss'], color=f'C{i}', lw=0.8, label=label)
            if any(math.isfinite(v) for v in r['isometry_reg']):
                axes[1].plot(r['iters'], r['isometry_reg'], color=f'C{i}', lw=0.8, label=label)
        for mult, style in zip(sorted(args.mults, reverse=True), ('o-', 's--')):
            tuned = sorted(
                (r['lr'], r['bbox_mAP']) for r in choices[arm]['runs'] if r['mult'] == mult)
            if tuned:
                axes[2].plot(
                    *zip(*tuned),
                    style,
                    color=f'C{i}',
                    lw=1,
                    label=f'{arm} x{mult:g}' if len(args.mults) > 1 else arm)
    axes[0].set(xlabel='iteration', ylabel='training loss', yscale='log')
    axes[1].set(xlabel='iteration', ylabel='isometry_reg')
    axes[2].set(xlabel='lr', ylabel='box mAP (tuning split)', xscale='log')
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(osp.join(args.out_dir, 'curves.png'), dpi=110)
    plt.close(fig)


QUICK = dict(
    seeds=[0], epochs=1, tune_epochs=1, lrs=[0.02], mults=[1.0], num_train=200, log_interval=10)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arms', nargs='+', default=DEFAULT_ARMS, choices=list(ARMS))
    parser.add_argument(
        '--no-factorial',
        dest='factorial',
        action='store_false',
        help='skip the risonet_reg1e-3 cells of the R-ISONet factorial')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    parser.add_argument('--tune-seed', type=int, default=100)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--tune-epochs', type=int, default=2)
    parser.add_argument('--lrs', type=float, nargs='+', default=[0.01, 0.02, 0.04])
    parser.add_argument('--mults', type=float, nargs='+', default=[1.0, 0.2])
    parser.add_argument('--max-extensions', type=int, default=2)
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
    if not 1 <= args.tune_epochs <= args.epochs:
        parser.error(f'--tune-epochs must be 1 to --epochs ({args.epochs}), got {args.tune_epochs}')
    if PAIRED_REFERENCE not in args.arms:
        args.arms.append(PAIRED_REFERENCE)  # every row's difference is taken against it
    reporting.apply_quick(parser, args, QUICK)
    if args.data is None:
        args.data = osp.join(ROOT, 'data', f'compare_shapes_{args.variant}')
    args.data = osp.abspath(args.data)
    args.out_dir = osp.abspath(reporting.new_run_dir(args.out_dir, 'compare_detectors', root=ROOT))
    os.makedirs(args.out_dir, exist_ok=True)
    reporting.write_json(
        osp.join(args.out_dir, 'args.json'), {k: v
                                              for k, v in vars(args).items() if k != 'resume'})
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
    tuned = args.arms + (['risonet_reg1e-3'] if args.factorial else [])
    choices = choices_for(list(dict.fromkeys(tuned)), args)
    for arm, choice in choices.items():
        print(f'tuned {arm}: lr {choice["lr"]:g}, backbone lr x{choice["mult"]:g}', flush=True)
    runs = launch.run_all([
        partial(run_arm, arm, seed, choices[arm], args) for arm in args.arms for seed in args.seeds
    ], args.jobs)
    rows = summarise(runs, choices, args)
    factorial = factorial_rows(choices, args)
    seconds = time.perf_counter() - start
    reporting.write_json(
        osp.join(args.out_dir, 'results.json'),
        dict(
            args=vars(args),
            choices=choices,
            rows=rows,
            factorial=factorial,
            runs=runs,
            seconds=seconds,
            load_average=os.getloadavg()))
    plot(runs, choices, args)
    print(write_table(rows, factorial, choices, args, seconds))
    print(f'wrote {args.out_dir}/{{results.json,table.md,curves.png}}')


if __name__ == '__main__':
    main()
