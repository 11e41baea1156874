"""R-ISONet's from-scratch recipe, tested where its training stops moving: the residual gate's
learning rate and initial value, paired over seeds, with a learning curve for every run.

    python tools/analysis/risonet_recipe.py [--variants ...] [--seeds 0 1 2 3 4] [--epochs 8]
        [--lr 0.04] [--mult 0.2] [--jobs 2] [--quick] [--out-dir DIR | --resume DIR]

Every run is the detector comparison's R-ISONet-18 arm (compare_detectors.py: the demo's Mask
R-CNN + FPN, the regulariser at 1e-4, lr 0.04 with the backbone at 0.2x, the settings the
comparison's tuning chose) on the same generated data, with one thing changed per variant:
  reference   s = 0 in every block at init, s trained at 0.1x the backbone's lr (the reference
              code's RES_MULTIPLIER 0.0 and its optimizer policy; what the shipped configs do)
  gate_1x     s = 0 at init, s trained at the backbone's own lr
  init_0.1    s = 0.1 at init (the branch open a little), s at 0.1x the backbone's lr
(``residual_scale_init=1`` is not a variant: it diverged in both runs of a first check.)

Schedule: --epochs epochs of 100 iterations (400 images, batch 4), the demo's warm-up, lr x0.1 for
the last epoch. The tuning split (100 images) is scored after every epoch: the learning curves, and
the check that the budget is long enough (whether the variants' order on the mean tuning-split box
mAP is the same at the last two evaluations, and at the last two before the decay). The test split
(200 images) is scored once per run, at the end, and decides nothing. Every variant runs on every
--seeds seed (the same seed: the same data order and the same initial weights but for s), and each
variant is compared with the reference by the paired difference of test box / mask mAP: mean and 95%
t interval, "ahead" / "behind" only where the interval excludes 0. The final s of every block is
read from each run's checkpoint.

Output (a new folder; --resume DIR finishes an interrupted one): results.json, table.md and
curves.png (tuning-split box mAP per epoch, training loss).
"""
import argparse
import glob
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
from isonet_det.experiments.detector_arms import arm_config  # noqa: E402

CONFIG_LOCK = threading.Lock()
REFERENCE = 'reference'
# variant -> (s at init, s's lr as a fraction of the backbone's)
VARIANTS = {
    'reference': (0.0, 0.1),
    'gate_1x': (0.0, 1.0),
    'init_0.1': (0.1, 0.1),
}


def run_config(variant, seed, args):
    """The comparison's R-ISONet arm with ``variant``'s gate: the tuning split scored every epoch,
    the test split (``val``) for ``tools/test.py``."""
    init, gate_lr = VARIANTS[variant]
    with CONFIG_LOCK:  # mmengine's Config.fromfile (pkg_resources) is not thread-safe
        cfg = arm_config(
            'risonet',
            args.lr,
            seed,
            args.epochs,
            args.data,
            num_train=args.num_train,
            val_interval=1,
            log_interval=args.log_interval,
            backbone_lr_mult=args.mult,
            val_split='tune',
            test_split='val')
    cfg.model.backbone.residual_scale_init = init
    cfg.optim_wrapper.paramwise_cfg.custom_keys['residual_scale'] = dict(lr_mult=gate_lr *
                                                                         args.mult)
    return cfg


def final_gates(checkpoint):
    """Every block's ``s`` in ``checkpoint``, in the backbone's order."""
    from isonet_det.engine.checkpoint_reader import read_checkpoint
    state = read_checkpoint(checkpoint, map_location='cpu')['state_dict']
    return [
        float(v) for k, v in state.items()
        if k.startswith('backbone.') and k.endswith('residual_scale.scale')
    ]


def run(variant, seed, args):
    """One run: trained with the tuning split scored per epoch, then scored once on the test
    split; kept in its ``result.json``."""
    work_dir = osp.join(args.out_dir, 'runs', variant, f'seed{seed}')

    def make():
        os.makedirs(work_dir, exist_ok=True)
        config = osp.join(work_dir, 'config.py')
        run_config(variant, seed, args).dump(config)
        name = f'{variant} seed {seed}'
        result = dict(variant=variant, seed=seed, diverged=False)
        try:
            usage = launch.train_in_subprocess(config, work_dir, args.jobs, name=name)
        except launch.Diverged:
            return dict(result, diverged=True, bbox_mAP=0.0, segm_mAP=0.0, **curves(work_dir))
        (checkpoint, ) = glob.glob(osp.join(work_dir, 'epoch_*.pth'))
        metrics = launch.test_in_subprocess(
            config, checkpoint, osp.join(work_dir, 'test'), args.jobs, name=name)
        result.update(
            **launch.coco_mean_ap(metrics),
            gates=final_gates(checkpoint),
            **usage,
            **curves(work_dir))
        os.remove(checkpoint)  # 11 MB a run; the result keeps what the tables need
        return result

    result = reporting.cached_result(work_dir, make)
    gates = result.get('gates') or [float('nan')]
    print(
        f'{variant:<10} seed {seed}: box {result["bbox_mAP"]:.3f} mask {result["segm_mAP"]:.3f}'
        f' (tune per epoch {" ".join(f"{v:.2f}" for v in result["tune_bbox_mAP"])}), s in '
        f'[{min(gates):.3f}, {max(gates):.3f}]',
        flush=True)
    return result


def curves(work_dir):
    """The run's training loss per logged iteration and tuning-split mAP per epoch."""
    series = launch.read_detector_series(work_dir)
    return dict(
        iters=series['iters'],
        loss=series['loss'],
        tune_bbox_mAP=series['bbox_mAP'],
        tune_segm_mAP=series['segm_mAP'])


def summarise(runs, args):
    """Per variant: test mAP mean ± sd, paired difference to the reference, final gates, the
    mean tuning-split curve; and whether the variants' order held over the last two evaluations
    before the decay."""
    by = {v: {r['seed']: r for r in runs if r['variant'] == v} for v in args.variants}
    rows = []
    for variant in args.variants:
        mine = by[variant]
        gates = [g for r in mine.values() for g in r.get('gates', [])]
        curve = [sum(c) / len(c)
                 for c in zip(*(r['tune_bbox_mAP']
                                for r in mine.values()))] if all(r['tune_bbox_mAP']
                                                                 for r in mine.values()) else []
        row = dict(
            variant=variant,
            init=VARIANTS[variant][0],
            gate_lr=VARIANTS[variant][1],
            box=reporting.mean_sd(r['bbox_mAP'] for r in mine.values()),
            mask=reporting.mean_sd(r['segm_mAP'] for r in mine.values()),
            box_per_seed=[mine[s]['bbox_mAP'] for s in sorted(mine)],
            diverged=sum(r['diverged'] for r in mine.values()),
            gates=dict(
                mean=sum(gates) / len(gates) if gates else float('nan'),
                min=min(gates, default=float('nan')),
                max=max(gates, default=float('nan')),
                positive=sum(g > 0 for g in gates),
                count=len(gates)),
            tune_curve=curve)
        if variant != REFERENCE and REFERENCE in by:
            for metric in ('bbox_mAP', 'segm_mAP'):
                row[f'{metric}_vs_reference'] = tuning.compare_paired(
                    {s: r[metric]
                     for s, r in mine.items()}, {s: r[metric]
                                                 for s, r in by[REFERENCE].items()})
        rows.append(row)
    return rows, tuning.order_held({r['variant']: r['tune_curve'] for r in rows}, args.epochs)


def fmt(value, digits=3):
    return reporting.format_mean_sd((value, float('nan')), empty='—', digits=digits)


def write_table(rows, held, args, seconds):
    lines = [
        f'R-ISONet-18 in the demo Mask R-CNN on the generated shapes: lr {args.lr:g}, backbone lr '
        f'x{args.mult:g}, regulariser 1e-4, {args.epochs} epochs (lr x0.1 for the last), test '
        f'split box / mask mAP, mean ± sd over seeds {args.seeds}; Δ: paired difference to the '
        f'reference, mean [95% t interval]; s: every block\'s gate at the end, over all runs.', '',
        '| variant | s at init | s lr / backbone lr | box mAP | mask mAP | box Δ | mask Δ | box '
        'mAP per seed | final s: mean [min, max], > 0 | diverged |', '|---' * 10 + '|'
    ]
    for r in rows:
        deltas = []
        for metric in ('bbox_mAP', 'segm_mAP'):
            d = r.get(f'{metric}_vs_reference')
            deltas.append('—' if d is None else f'{d["mean"]:+.3f} [{fmt(d["low"])}, '
                          f'{fmt(d["high"])}] {d["verdict"]}')
        g = r['gates']
        lines.append(
            f'| {r["variant"]} | {r["init"]:g} | {r["gate_lr"]:g} | '
            f'{reporting.format_mean_sd(r["box"])} | {reporting.format_mean_sd(r["mask"])} | '
            f'{deltas[0]} | {deltas[1]} | {" / ".join(fmt(v) for v in r["box_per_seed"])} | '
            f'{fmt(g["mean"])} [{fmt(g["min"])}, {fmt(g["max"])}], {g["positive"]}/{g["count"]} '
            f'| {r["diverged"]} |')
    lines += reporting.learning_curve_lines('variant',
                                            {r['variant']: r['tune_curve']
                                             for r in rows}, args.epochs, held)
    return reporting.write_table(args.out_dir, lines, seconds)


def plot(runs, args):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, variant in enumerate(args.variants):
        for j, r in enumerate(x for x in runs if x['variant'] == variant):
            label = variant if j == 0 else None
            epochs = range(1, len(r['tune_bbox_mAP']) + 1)
            axes[0].plot(epochs, r['tune_bbox_mAP'], 'o-', color=f'C{i}', lw=0.8, ms=3, label=label)
            axes[1].plot(r['iters'], r['loss'], color=f'C{i}', lw=0.6, label=label)
    axes[0].set(xlabel='epoch', ylabel='box mAP (tuning split)')
    axes[1].set(xlabel='iteration', ylabel='training loss', yscale='log')
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(osp.join(args.out_dir, 'curves.png'), dpi=110)
    plt.close(fig)


QUICK = dict(seeds=[0, 1], epochs=1, num_train=40, log_interval=5)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    parser.add_argument('--epochs', type=int, default=8)
    parser.add_argument('--lr', type=float, default=0.04)
    parser.add_argument('--mult', type=float, default=0.2, help='backbone lr multiplier')
    parser.add_argument('--num-train', type=int, default=None, help='first N training images')
    parser.add_argument('--jobs', type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument('--log-interval', type=int, default=25)
    parser.add_argument(
        '--data',
        default=osp.join(ROOT, 'data', 'compare_shapes_simple'),
        help='COCO-format data with train / tune / val splits (written there if absent: the '
        'detector comparison\'s simple shapes)')
    reporting.add_run_arguments(parser, 'risonet_recipe', QUICK, 'a few minutes',
                                '; a run folder to finish: --resume')
    parser.add_argument('--resume', default=None, help='a run folder to finish')
    args = parser.parse_args(argv)
    if args.resume:
        return reporting.resumed_args(parser, args.resume)
    if args.jobs < 1:
        parser.error(f'--jobs must be at least 1, got {args.jobs}')
    if REFERENCE not in args.variants:
        args.variants.insert(0, REFERENCE)  # every difference is taken against it
    reporting.apply_quick(parser, args, QUICK)
    args.data = osp.abspath(args.data)
    args.out_dir = osp.abspath(reporting.new_run_dir(args.out_dir, 'risonet_recipe', root=ROOT))
    reporting.save_run_args(args)
    return args


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    if not osp.isdir(args.data):  # the comparison's data: the same generator, sizes and seed
        generate_shapes_dataset(args.data, 400, 200, 128, 0, 'simple', num_tune=100)
    # seed-major: every variant of a seed finishes before the next seed starts, so an interrupted
    # run leaves complete pairs
    runs = launch.run_all([partial(run, v, s, args) for s in args.seeds for v in args.variants],
                          args.jobs)
    rows, held = summarise(runs, args)
    seconds = time.perf_counter() - start
    reporting.write_json(
        osp.join(args.out_dir, 'results.json'),
        dict(
            args=vars(args),
            rows=rows,
            held=held,
            runs=runs,
            seconds=seconds,
            load_average=os.getloadavg()))
    plot(runs, args)
    print(write_table(rows, held, args, seconds))
    print(f'wrote {args.out_dir}/{{results.json,table.md,curves.png}}')


if __name__ == '__main__':
    main()
