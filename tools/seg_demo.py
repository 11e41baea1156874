"""The segmentation demo: ISO-UNet and a BN UNet side by side on generated scans (MMSegmentation),
each at a learning rate chosen on a tuning split, over paired seeds, beside an intensity threshold.

    python tools/seg_demo.py [--epochs 50] [--seeds 0 1 2] [--jobs 2] [--quick]
                             [--out-dir DIR | --resume DIR] [--unet-bn-from PREVIOUS_RUN_DIR]

Writes the generated scans to data/seg_demo_scans if absent (240 train / 60 val / 60 tune, 96 x
96, seed 0; never overwritten): 'val' is the test split, reported and never used for a choice;
'tune' is where the learning rates and the threshold are chosen. Trains
configs/iso_unet/iso-unet_s5-b16_scans-96x96.py (ISO-UNet: no normalisation, SReLU, Delta init
with the skip connections open, the isometry regulariser) and its BN UNet baseline
(configs/iso_unet/unet-bn_s5-b16_scans-96x96.py), each run in its own process (--jobs of them at
once).

Tuning, the detector comparison's rules (tools/analysis/compare_detectors.py): each lr of an
arm's grid (--iso-unet-lrs, --unet-bn-lrs, x2 apart) trains the whole schedule (--tune-epochs,
default --epochs) on every --tune-seeds seed (at least two, none of them a reported seed); its
score is the mean tuning-split mIoU at the end (a seed that diverges counts 0; ties: the lower
mean final training loss); the grid is extended x2 / x0.5 while the best is at an edge. Then every
--seeds seed at the chosen lr, scored on the test split (a run that diverges is scored as a model
that marks no lesion, and said in the table). Baseline: a per-pixel intensity threshold
(lesion where the scan is brighter), its threshold the best lesion IoU on the tuning split.

--unet-bn-from PREVIOUS_RUN_DIR trains the ISO-UNet arm only: the BN UNet's tuning and seed runs
(results and checkpoints, which are evaluated again) are read from a previous complete run of this
tool with the same protocol (--epochs, --tune-epochs, --tune-seeds, --unet-bn-lrs,
--max-extensions, --num-train, --data; its seeds include --seeds), and nothing is written there.
The BN UNet does not depend on ISO-UNet's code, so its runs are the ones this run would train.

Output (a new folder; --resume DIR finishes the runs an interrupted one had not): table.md (mIoU
and mDice over both classes, the lesion class's IoU and Dice, mean ± sd over seeds; ISO-UNet - BN
UNet paired over seeds with a 95% t interval; the chosen lrs and the tuning runs; s/iter, peak
resident memory), predictions.png (scans, ground truth, the
threshold and both models on the first seed), results.json, and each run's work folder.
"""
import argparse
import os
import os.path as osp
import sys
import textwrap
import threading
import time
from functools import partial

import numpy as np

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)
from isonet_det.experiments import launch, reporting, tuning  # noqa: E402

# arm -> (label, config, lr grid it is tuned on)
ARMS = {
    'iso_unet': ('ISO-UNet (no norm, SReLU, Delta, skips open, reg 1e-4)',
                 osp.join(ROOT, 'configs', 'iso_unet',
                          'iso-unet_s5-b16_scans-96x96.py'), [0.0125, 0.025, 0.05]),
    'unet_bn': ('UNet + BN (MMSegmentation)',
                osp.join(ROOT, 'configs', 'iso_unet',
                         'unet-bn_s5-b16_scans-96x96.py'), [0.2, 0.4, 0.8]),
}
THRESHOLD = 'Intensity threshold (tuned on the tuning split)'
DATA = dict(num_train=240, num_val=60, num_tune=60, image_size=96, seed=0)
QUICK = dict(
    epochs=2, tune_epochs=1, num_train=32, seeds=[0], iso_unet_lrs=[0.025], unet_bn_lrs=[0.2])
CONFIG_LOCK = threading.Lock()
# what a previous run must share with this one for --unet-bn-from
REUSED_PROTOCOL = ('epochs', 'tune_epochs', 'tune_seeds', 'unet_bn_lrs', 'max_extensions',
                   'num_train', 'data')


def arm_config(arm, lr, seed, epochs, args, split='val'):
    """The arm's config (mmengine Config) at ``lr`` and ``seed`` on the demo's data, evaluated on
    ``split`` at the end; the first ``epochs`` of the --epochs schedule (its halvings at the same
    fractions of it as the config's)."""
    from mmengine.config import Config
    cfg = Config.fromfile(ARMS[arm][1])
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.data_root = args.data
    cfg.val_dataloader.dataset.data_prefix = dict(
        img_path=f'img_dir/{split}', seg_map_path=f'ann_dir/{split}')
    cfg.test_dataloader = cfg.val_dataloader
    if args.num_train:
        cfg.train_dataloader.dataset.indices = args.num_train
    cfg.randomness = dict(seed=seed)
    cfg.optim_wrapper.optimizer.lr = lr
    if args.epochs != cfg.train_cfg.max_epochs:
        scale = args.epochs / cfg.train_cfg.max_epochs
        scheduler = cfg.param_scheduler[0]
        scheduler.milestones = sorted({max(1, round(m * scale)) for m in scheduler.milestones})
        scheduler.end = args.epochs
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    return cfg


def train(arm, lr, seed, epochs, work_dir, args, split):
    """One run in its own process: usage, s/iter, the final mIoU / mDice on ``split``."""
    os.makedirs(work_dir, exist_ok=True)
    config = osp.join(work_dir, 'config.py')
    with CONFIG_LOCK:  # mmengine's Config.fromfile (pkg_resources) is not thread-safe
        arm_config(arm, lr, seed, epochs, args, split).dump(config)
    usage = launch.train_in_subprocess(
        config, work_dir, args.jobs, name=f'{arm} (lr {lr:g}, seed {seed})')
    rows = launch.read_scalars(work_dir)
    times = [r['time'] for r in rows if 'loss' in r]
    val = [r for r in rows if 'mIoU' in r][-1]
    return dict(
        usage,
        arm=arm,
        lr=lr,
        seed=seed,
        work_dir=work_dir,
        s_per_iter=launch.steady_s_per_iter(times),
        mIoU=val['mIoU'],
        mDice=val['mDice'],
        loss=[r['loss'] for r in rows if 'loss' in r])


def run_root(arm, args):
    """Where ``arm``'s runs are: --unet-bn-from for the BN UNet when given, else --out-dir."""
    return args.unet_bn_from if arm == 'unet_bn' and args.unet_bn_from else args.out_dir


def reused_result(work_dir):
    """A run of --unet-bn-from, read and never trained or written."""
    done = osp.join(work_dir, 'result.json')
    if not osp.exists(done):
        raise FileNotFoundError(f'{done} is missing: --unet-bn-from needs every BN UNet run this '
                                'protocol asks for, from a complete previous run')
    return reporting.read_json(done)


def tune_seed_run(arm, lr, seed, args):
    """One tuning run: ``arm`` at ``lr`` on tuning seed ``seed`` (--tune-epochs), its mIoU on the
    tuning split; kept in its ``result.json``."""
    work_dir = osp.join(run_root(arm, args), 'tune', arm, f'lr{lr:g}', f'seed{seed}')
    if run_root(arm, args) != args.out_dir:
        return reused_result(work_dir)

    def make():
        try:
            return train(arm, lr, seed, args.tune_epochs, work_dir, args, 'tune')
        except launch.Diverged:
            print(f'{arm} (lr {lr:g}, tuning seed {seed}) diverged', flush=True)
            return dict(
                arm=arm,
                lr=lr,
                seed=seed,
                mIoU=float('nan'),
                mDice=float('nan'),
                loss=[],
                diverged=True)

    return reporting.cached_result(work_dir, make)


def tune_setting(arm, lr, runs):
    """``arm`` at ``lr`` from its ``runs`` on the --tune-seeds seeds: the mean tuning-split mIoU (a
    diverged seed counts 0) and the mean final training loss (infinite if a seed diverged)."""
    per_seed = [None if r.get('diverged') else r['mIoU'] for r in runs]
    return dict(
        arm=arm,
        lr=lr,
        mIoU=sum(v or 0.0 for v in per_seed) / len(per_seed),
        per_seed=per_seed,
        final_loss=tuning.mean_final_loss(runs),
        diverged=sum(bool(r.get('diverged')) for r in runs))


def score(setting):
    """Higher mean tuning-split mIoU, then lower mean final training loss."""
    return tuning.score(setting['mIoU'], setting['final_loss'])


def report_run(arm, seed, lr, args):
    """A reported run: ``arm`` at its chosen ``lr`` on ``seed``, scored on the test split. A run
    that stops on a non-finite value is kept as ``diverged`` (no checkpoint: :func:`main` scores
    it as a model that marks no lesion) and the other runs go on."""
    work_dir = osp.join(run_root(arm, args), 'runs', arm, f'seed{seed}')
    if run_root(arm, args) != args.out_dir:
        return reused_result(work_dir)

    def make():
        try:
            return train(arm, lr, seed, args.epochs, work_dir, args, 'val')
        except launch.Diverged as e:
            stopped = str(e).split(':\n', 1)[-1].strip().splitlines()[-1]
            print(f'{arm} (lr {lr:g}, seed {seed}) diverged: {stopped}', flush=True)
            nan = float('nan')
            return dict(
                arm=arm,
                lr=lr,
                seed=seed,
                work_dir=work_dir,
                diverged=True,
                stopped=stopped,
                s_per_iter=nan,
                peak_rss_mib=nan,
                loss=[])

    return reporting.cached_result(work_dir, make)


def split_images(data, split):
    """The scans of ``split`` (sorted paths) and their masks (uint8 arrays)."""
    import glob

    from PIL import Image
    images = sorted(glob.glob(osp.join(data, 'img_dir', split, '*.png')))
    return images, [np.asarray(Image.open(p.replace('img_dir', 'ann_dir'))) for p in images]


def evaluate(work_dir, images):
    """The run's final model on ``images``: its predictions and backbone parameter count."""
    import torch
    from mmseg.apis import inference_model, init_model
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    model = init_model(osp.join(work_dir, 'config.py'), checkpoint, device='cpu')
    params = sum(p.numel() for p in model.backbone.parameters())
    preds = []
    with torch.no_grad():
        for i in range(0, len(images), 8):
            results = inference_model(model, images[i:i + 8])
            results = results if isinstance(results, list) else [results]
            preds += [r.pred_sem_seg.data[0].numpy().astype(np.uint8) for r in results]
    return preds, params


def score_reported(run, images, gts):
    """A reported run's predictions on the test ``images``, its lesion IoU / Dice and backbone
    parameter count added to ``run``. A diverged run has no model: it marks no lesion anywhere,
    and every score of it (mIoU and mDice too, which a trained run has from its own evaluation)
    is that of the empty prediction."""
    if run.get('diverged'):
        preds, run['params'] = [np.zeros_like(g) for g in gts], None
        run.update(segmentation_scores(preds, gts))
        return preds
    preds, run['params'] = evaluate(run['work_dir'], images)
    run.update({k: v for k, v in segmentation_scores(preds, gts).items() if 'lesion' in k})
    return preds


def segmentation_scores(preds, gts, num_classes=2, ignore_index=255):
    """mIoU and mDice over both classes (%, as IoUMetric reports them) and the lesion class's IoU
    and Dice (fractions), all over every pixel of every image (areas summed first), by
    MMSegmentation's own IoUMetric arithmetic (0 where a class is absent from both)."""
    import torch
    from mmseg.evaluation.metrics import IoUMetric
    areas = [
        IoUMetric.intersect_and_union(
            torch.from_numpy(p.astype(np.int64)), torch.from_numpy(g.astype(np.int64)), num_classes,
            ignore_index) for p, g in zip(preds, gts)
    ]
    totals = [sum(a[i] for a in areas) for i in range(4)]
    scores = IoUMetric.total_area_to_metrics(*totals, metrics=['mIoU', 'mDice'], nan_to_num=0)
    return dict(
        mIoU=100 * float(np.mean(scores['IoU'])),
        mDice=100 * float(np.mean(scores['Dice'])),
        lesion_IoU=float(scores['IoU'][1]),
        lesion_Dice=float(scores['Dice'][1]))


def read_scans(images):
    from PIL import Image
    return [np.asarray(Image.open(p)) for p in images]


def best_threshold(scans, gts):
    """The intensity ``t`` (0-254) whose rule "lesion where the scan > t" has the highest lesion
    IoU over all pixels of ``scans``: from the two classes' intensity histograms, every ``t`` at
    once."""
    values = np.concatenate([s.ravel() for s in scans]).astype(np.int64)
    lesion = np.concatenate([g.ravel() for g in gts]) == 1
    above_lesion = np.cumsum(np.bincount(values[lesion], minlength=256)[::-1])[::-1]
    above_other = np.cumsum(np.bincount(values[~lesion], minlength=256)[::-1])[::-1]
    true_positive = above_lesion[1:]  # value > t for t = 0 .. 254
    iou = true_positive / np.maximum(lesion.sum() + above_other[1:], 1)
    return int(np.argmax(iou))


def draw(images, gts, rows, out_path, count=6):
    """Rows: scan, ground truth, one row per entry of ``rows`` (label -> predictions); columns:
    test images with lesions and one without."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    with_lesion = [i for i, g in enumerate(gts) if g.any()]
    empty = [i for i, g in enumerate(gts) if not g.any()]
    picks = with_lesion[:count - 1] + empty[:1]
    rows = [('scan', None), ('ground truth', gts)] + list(rows.items())
    scans = read_scans([images[i] for i in picks])
    fig, axes = plt.subplots(len(rows), len(picks), figsize=(1.8 * len(picks), 1.9 * len(rows)))
    for c, (i, scan) in enumerate(zip(picks, scans)):
        for r, (title, masks) in enumerate(rows):
            ax = axes[r, c]
            ax.imshow(scan, cmap='gray', vmin=0, vmax=255)
            if masks is not None:
                ax.imshow(np.ma.masked_where(masks[i] == 0, masks[i]), cmap='autumn', alpha=0.55)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(textwrap.fill(title, 22), fontsize=7)  # long labels wrap
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=int, default=50)
    parser.add_argument(
        '--tune-epochs', type=int, default=None, help='epochs of a tuning run (default: --epochs)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    tuning.add_tune_seeds_argument(parser)
    parser.add_argument('--iso-unet-lrs', type=float, nargs='+', default=ARMS['iso_unet'][2])
    parser.add_argument('--unet-bn-lrs', type=float, nargs='+', default=ARMS['unet_bn'][2])
    parser.add_argument('--max-extensions', type=int, default=2)
    parser.add_argument('--num-train', type=int, default=None, help='first N training images')
    parser.add_argument(
        '--jobs',
        type=int,
        default=min(2, launch.threads_per_job(1)),
        help='runs at once, the cores shared among them (default: 2 where there are 2)')
    parser.add_argument('--data', default=osp.join(ROOT, 'data', 'seg_demo_scans'))
    parser.add_argument(
        '--unet-bn-from',
        default=None,
        metavar='PREVIOUS_RUN_DIR',
        help='train ISO-UNet only; the BN UNet runs from this previous run (same protocol)')
    reporting.add_run_arguments(parser, 'seg_demo', QUICK, 'a minute or two',
                                '; a run folder to finish: --resume')
    parser.add_argument('--resume', default=None, help='a run folder to finish')
    args = parser.parse_args(argv)
    if args.resume:
        return reporting.resumed_args(parser, args.resume)
    if args.epochs < 1 or args.jobs < 1:
        parser.error(f'--epochs and --jobs must be at least 1, got {args.epochs}, {args.jobs}')
    reporting.apply_quick(parser, args, QUICK)
    if args.tune_epochs is None:
        args.tune_epochs = args.epochs
    tuning.check_tune_seeds(parser, args)
    if not 1 <= args.tune_epochs <= args.epochs:
        parser.error(f'--tune-epochs must be 1 to --epochs ({args.epochs}), got {args.tune_epochs}')
    args.out_dir = osp.abspath(reporting.new_run_dir(args.out_dir, 'seg_demo', root=ROOT))
    args.data = osp.abspath(args.data)
    if args.unet_bn_from:
        args.unet_bn_from = osp.abspath(args.unet_bn_from)
        check_previous_run(parser, args)
    reporting.save_run_args(args)
    return args


def check_previous_run(parser, args):
    """--unet-bn-from: a complete run (its results.json) of the same protocol and seeds."""
    try:
        previous = reporting.read_json(osp.join(args.unet_bn_from, 'results.json'))['args']
    except FileNotFoundError:
        parser.error(f'--unet-bn-from {args.unet_bn_from}: no results.json, not a complete run')
    differ = [
        f'{key}: {previous.get(key)!r} there, {getattr(args, key)!r} here'
        for key in REUSED_PROTOCOL if previous.get(key) != getattr(args, key)
    ]
    if not set(args.seeds) <= set(previous['seeds']):
        differ.append(f'seeds: {previous["seeds"]} there, {args.seeds} here')
    if differ:
        parser.error(f'--unet-bn-from {args.unet_bn_from} ran another protocol: ' +
                     '; '.join(differ))


def tune(args):
    """Each arm's lr (``{arm: {'lr', 'interior', 'runs'}}``), chosen on the tuning split."""
    grids = tuning.tune_lr_grids(
        list(ARMS),
        dict(iso_unet=args.iso_unet_lrs, unet_bn=args.unet_bn_lrs),
        partial(tune_seed_run, args=args),
        score,
        jobs=args.jobs,
        max_extensions=args.max_extensions,
        seeds=args.tune_seeds,
        combine=tune_setting)
    choices = {}
    for arm, grid in grids.items():
        lr = tuning.best_lr(grid, score)
        choices[arm] = dict(
            lr=lr, interior=tuning.is_interior(grid, lr), runs=[grid[x] for x in sorted(grid)])
    return choices


def summarise(runs, threshold, args):
    """Mean ± sd over seeds of every score, and ISO-UNet - BN UNet paired over seeds."""
    by_arm = {arm: {r['seed']: r for r in runs if r['arm'] == arm} for arm in ARMS}
    rows = {}
    for arm, mine in by_arm.items():
        rows[arm] = {
            k: reporting.mean_sd(r[k] for r in mine.values())
            for k in ('mIoU', 'mDice', 'lesion_IoU', 'lesion_Dice')
        }
        trained = [r for r in mine.values() if not r.get('diverged')]
        rows[arm].update(
            s_per_iter=reporting.mean_sd(r['s_per_iter'] for r in trained)[0],
            peak_rss_mib=max((r['peak_rss_mib'] for r in trained), default=float('nan')),
            params=next((r['params'] for r in trained), float('nan')),
            diverged=len(mine) - len(trained))
    iso, bn = by_arm['iso_unet'], by_arm['unet_bn']
    paired = {
        k: tuning.compare_paired({s: r[k]
                                  for s, r in iso.items()}, {s: r[k]
                                                             for s, r in bn.items()})
        for k in ('mIoU', 'lesion_Dice')
    }
    rows['threshold'] = {
        k: (threshold[k], float('nan'))
        for k in ('mIoU', 'mDice', 'lesion_IoU', 'lesion_Dice')
    }
    return rows, paired


def write_table(rows, paired, choices, threshold, args, seconds):
    lines = [
        f'Generated scans ({args.num_train or DATA["num_train"]} train; lrs and threshold chosen '
        f'on the {DATA["num_tune"]} tuning scans (mean over seeds {args.tune_seeds}, '
        f'{args.tune_epochs} epochs); scored on the {DATA["num_val"]} test scans), {args.epochs} '
        'epochs, seeds '
        f'{args.seeds}, {args.jobs} run(s) at once. mIoU / mDice: both classes, MMSegmentation\'s '
        'IoUMetric (%); lesion IoU / Dice over all test pixels; mean ± sd over seeds.' +
        (f' BN UNet runs read from {args.unet_bn_from} (not retrained; its s/iter there).'
         if args.unet_bn_from else ''), '',
        '| model | backbone params | lr | mIoU | mDice | lesion IoU | lesion Dice | s/iter | '
        'peak RSS |', '|---|---|---|---|---|---|---|---|---|'
    ]
    for arm, (label, _, _) in ARMS.items():
        r = rows[arm]
        edge = '' if choices[arm]['interior'] else ' (edge)'
        if r['diverged']:
            edge += f' ({r["diverged"]} of {len(args.seeds)} seeds diverged)'
        lines.append(f'| {label} | {r["params"] / 1e6:.2f} M | {choices[arm]["lr"]:g}{edge} | ' +
                     ' | '.join(
                         reporting.format_mean_sd(r[k], digits=digits)
                         for k, digits in (('mIoU', 2), ('mDice', 2), ('lesion_IoU', 3),
                                           ('lesion_Dice', 3))) +
                     f' | {r["s_per_iter"]:.3f} | {r["peak_rss_mib"]:.0f} MiB |')
    t = rows['threshold']
    lines.append(f'| {THRESHOLD}: lesion where the scan > {threshold["t"]} | 0 | — | '
                 f'{t["mIoU"][0]:.2f} | {t["mDice"][0]:.2f} | {t["lesion_IoU"][0]:.3f} | '
                 f'{t["lesion_Dice"][0]:.3f} | — | — |')
    if any(rows[arm]['diverged'] for arm in ARMS):
        lines += [
            '', 'A diverged run (stopped on a non-finite value, no checkpoint) is scored as a '
            'model that marks no lesion anywhere.'
        ]
    lines += ['', 'ISO-UNet - BN UNet, paired over seeds, mean [95% t interval]:']
    for k, d in paired.items():
        lines.append(f'- {k}: {d["mean"]:+.3f} [{d["low"]:.3f}, {d["high"]:.3f}] {d["verdict"]} '
                     f'({d["pairs"]} pairs)')
    lines += ['', 'Tuning (mean tuning-split mIoU per lr, a diverged seed counted 0; per seed):']
    for arm, choice in choices.items():
        lines.append(f'- {arm}: ' + ', '.join(
            f'{r["lr"]:g}: {r["mIoU"]:.2f} (' + ' / '.join('diverged' if v is None else f'{v:.2f}'
                                                           for v in r['per_seed']) + ')'
            for r in choice['runs']))
    return reporting.write_table(args.out_dir, lines, seconds)


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    os.makedirs(args.out_dir, exist_ok=True)
    from isonet_det.datasets import generate_scans_dataset
    if generate_scans_dataset(args.data, **DATA):
        print(f'wrote the generated scans to {args.data}', flush=True)
    choices = tune(args)
    for arm, choice in choices.items():
        print(f'tuned {arm}: lr {choice["lr"]:g}', flush=True)
    runs = launch.run_all([
        partial(report_run, arm, seed, choices[arm]['lr'], args) for arm in ARMS
        for seed in args.seeds
    ], args.jobs)
    images, gts = split_images(args.data, 'val')
    shown = {}
    for run in runs:
        preds = score_reported(run, images, gts)
        if run['seed'] == args.seeds[0]:
            shown[ARMS[run['arm']][0] + (' (diverged)' if run.get('diverged') else '')] = preds
    tune_images, tune_gts = split_images(args.data, 'tune')
    t = best_threshold(read_scans(tune_images), tune_gts)
    scans = read_scans(images)
    threshold_preds = [(scan > t).astype(np.uint8) for scan in scans]
    threshold = dict(segmentation_scores(threshold_preds, gts), t=t)
    draw(images, gts, dict({f'threshold > {t}': threshold_preds}, **shown),
         osp.join(args.out_dir, 'predictions.png'))
    rows, paired = summarise(runs, threshold, args)
    seconds = time.perf_counter() - start
    reporting.write_json(
        osp.join(args.out_dir, 'results.json'),
        dict(
            args=vars(args),
            choices=choices,
            runs=runs,
            rows=rows,
            paired=paired,
            threshold=threshold,
            seconds=seconds))
    print(write_table(rows, paired, choices, threshold, args, seconds))
    print(f'wrote {args.out_dir}/{{table.md,predictions.png,results.json}}')


if __name__ == '__main__':
    main()
