"""The demo detector with different backbones, side by side: same data, schedule and seeds.

    python tools/analysis/compare_detectors.py [--arms ...] [--seeds 0 1 2] [--epochs 5]
        [--lrs 0.01 0.02 0.04] [--jobs 2] [--quick] [--out-dir DIR | --resume DIR]

Every arm trains the demo's Mask R-CNN + FPN (configs/demo/mask-rcnn_risonet18_fpn_shapes.py)
from scratch on the generated shapes (data/demo_shapes, written if absent; --variant hard: the
harder variant in data/demo_shapes_hard with textured backgrounds, clutter, occlusion and object
scales from 6% to 60% of the image), changing only the backbone (depth 18, stage widths
32/64/128/256 for all) and what belongs to it:
  risonet        R-ISONet-18 + the isometry regulariser (coeff 1e-4): the demo itself
  risonet_noreg  R-ISONet-18 without the regulariser
  isonet         ISONet-18 (no shortcuts) + the regulariser, backbone at 0.2x lr (the configs')
  resnet_bn      mmdet's ResNet-18 with BN (train mode), from scratch
  resnet_gn      mmdet's ResNet-18 with GN (8 groups), from scratch (MMDetection's scratch norm)
  skipinit       SkipInit (De & Smith 2020): R-ISONet-18's residual structure with ReLU, Kaiming
                 init and the branch scale at 0, no regulariser
  nf_resnet      timm's NF-ResNet-26 (Brock et al. 2021: scaled weight standardisation, no
                 normalisation) through MMPretrain's TIMMBackbone, stage outputs 32-256 as the
                 others (bottleneck ratio 1.25, stem 32: 2.88 M parameters), timm's own init
The learning rate of each family (R-ISONet with and without the regulariser share one) comes
from a sweep on seed 0 (--sweep-epochs over --lrs, lowest mean training loss over the last fifth
of the logged iterations), recorded in sweep.json. Each (arm, seed) run is tools/train.py on a
config written into the run folder, in its own process; --jobs N runs N of them at once, each
with cores / N threads (OMP_NUM_THREADS), so every arm runs under the same load.

Output (a new folder; --resume DIR finishes the runs an interrupted one had not): results.json,
table.md (box / mask mAP mean ± sd over seeds, s/iter as a ratio to resnet_bn from this run,
peak resident memory of the training process, parameter counts), curves.png (training loss,
isometry_reg, box mAP per epoch, from mmengine's json logs).
"""
import argparse
import json
import math
import os
import os.path as osp
import sys
import threading
import time
from functools import partial

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)
from isonet_det.experiments import launch, reporting  # noqa: E402
from isonet_det.experiments.detector_arms import ARMS, REFERENCE_ARM, arm_config  # noqa: E402

CONFIG_LOCK = threading.Lock()


def train(arm, lr, seed, epochs, work_dir, args):
    """Train one (arm, lr, seed) in its own process; returns the parsed logs, the process's peak
    resident memory (MiB) and its wall time."""
    os.makedirs(work_dir, exist_ok=True)
    config = osp.join(work_dir, 'config.py')
    with CONFIG_LOCK:  # mmengine's Config.fromfile (pkg_resources) is not thread-safe
        arm_config(
            arm,
            lr,
            seed,
            epochs,
            args.data,
            num_train=args.num_train,
            val_interval=args.val_interval,
            log_interval=args.log_interval).dump(config)
    usage = launch.train_in_subprocess(
        config, work_dir, getattr(args, 'jobs', 1), name=f'{arm} (lr {lr}, seed {seed})')
    logs = read_scalars(work_dir)
    logs.update(usage)
    return logs


def read_scalars(work_dir):
    """Training and validation series from mmengine's ``vis_data/scalars.json``."""
    rows = launch.read_scalars(work_dir)
    trains = [r for r in rows if 'loss' in r]
    vals = [r for r in rows if 'coco/bbox_mAP' in r]
    return dict(
        iters=[r['iter'] for r in trains],
        loss=[r['loss'] for r in trains],
        isometry_reg=[r.get('isometry_reg', float('nan')) for r in trains],
        time=[r['time'] for r in trains],
        val_epochs=[r['step'] for r in vals],
        val_bbox_mAP=[r['coco/bbox_mAP'] for r in vals],
        val_segm_mAP=[r['coco/segm_mAP'] for r in vals])


def sweep_run(arm, lr, args, work_dir):
    """Mean training loss over the last fifth of one short sweep run (inf if not finite); kept in
    ``work_dir/result.json``, so a resumed run does not train it again."""
    done = osp.join(work_dir, 'result.json')
    if osp.exists(done):
        return reporting.read_json(done)['loss']
    logs = train(arm, lr, args.seeds[0], args.sweep_epochs, work_dir, args)
    tail = logs['loss'][-max(1, len(logs['loss']) // 5):]
    mean = sum(tail) / len(tail)
    mean = mean if math.isfinite(mean) else float('inf')
    with open(done, 'w') as f:
        json.dump(dict(loss=mean), f)
    return mean


def sweep_families(families, args, out_dir):
    """lr of each family: the lowest mean training loss over the last fifth of a short run on
    seed 0 (every family's runs share the pool); a family's result is kept in
    sweep/<family>.json."""
    sweeps, todo = {}, []
    for family in families:
        path = osp.join(out_dir, 'sweep', f'{family}.json')
        arm = next(a for a, (f, _, _) in ARMS.items() if f == family)
        source = getattr(args, 'sweep_from', None)
        if source and not osp.exists(path):  # another run's choice, recorded as this run's
            chosen = osp.join(source, 'sweep', f'{family}.json')
            if not osp.isfile(chosen):
                raise FileNotFoundError(f'--sweep-from {source}: no lr chosen for {family} '
                                        f'({chosen} is missing)')
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(path, 'w') as f:
                json.dump(dict(reporting.read_json(chosen), swept_in=source), f)
        if osp.exists(path):
            sweeps[family] = reporting.read_json(path)
        elif len(args.lrs) == 1:  # nothing to choose: not swept
            sweeps[family] = dict(family=family, arm=arm, epochs=0, losses={}, lr=args.lrs[0])
        else:
            sweeps[family] = dict(family=family, arm=arm, epochs=args.sweep_epochs, losses={})
            todo += [(family, arm, lr) for lr in args.lrs]
    tasks = [
        partial(sweep_run, arm, lr, args, osp.join(out_dir, 'sweep', family, f'lr{lr:g}'))
        for family, arm, lr in todo
    ]
    for (family, _, lr), loss in zip(todo, launch.run_all(tasks, getattr(args, 'jobs', 1))):
        sweeps[family]['losses'][str(lr)] = loss
    for family in dict.fromkeys(family for family, _, _ in todo):
        sweep = sweeps[family]
        sweep['lr'] = min(args.lrs, key=lambda lr: sweep['losses'][str(lr)])
        with open(osp.join(out_dir, 'sweep', f'{family}.json'), 'w') as f:
            json.dump(sweep, f)
    return sweeps


def backbone_params(arm):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    __import__('isonet_det')
    backbone = ARMS[arm][1]
    if backbone['type'].startswith('mmpretrain.'):
        __import__('mmpretrain.models')
    return sum(p.numel() for p in MODELS.build(dict(backbone)).parameters())


def summarise(runs, sweeps, args):
    rows = []
    ref = [r['s_per_iter'] for r in runs if r['arm'] == REFERENCE_ARM]
    ref_time = sum(ref) / len(ref) if ref else float('nan')
    for arm in args.arms:
        mine = [r for r in runs if r['arm'] == arm]
        box, mask = reporting.mean_sd([r['bbox_mAP'] for r in mine
                                       ]), reporting.mean_sd([r['segm_mAP'] for r in mine])
        s_iter = sum(r['s_per_iter'] for r in mine) / len(mine)
        rows.append(
            dict(
                arm=arm,
                lr=sweeps[ARMS[arm][0]]['lr'],
                params=backbone_params(arm),
                box=box,
                mask=mask,
                seeds=[r['seed'] for r in mine],
                box_per_seed=[r['bbox_mAP'] for r in mine],
                s_per_iter=s_iter,
                time_ratio=s_iter / ref_time,
                peak_rss_mib=max(r['peak_rss_mib'] for r in mine)))
    return rows


def write_table(rows, args, seconds):
    lines = [
        f'Mask R-CNN + FPN on the generated shapes ({getattr(args, "variant", "simple")}), '
        f'{args.epochs} epochs, seeds {args.seeds}, {getattr(args, "jobs", 1)} run(s) at once: box '
        f'/ mask mAP mean ± sd over seeds; s/iter as a ratio to {REFERENCE_ARM} in this run; peak '
        'resident memory of the training process.', '',
        '| backbone | params | lr (swept) | box mAP | mask mAP | box mAP per seed | s/iter '
        f'(/ {REFERENCE_ARM}) | peak RSS |', '|---|---|---|---|---|---|---|---|'
    ]
    for r in rows:
        box, mask = reporting.format_mean_sd(r['box']), reporting.format_mean_sd(r['mask'])
        lines.append(f'| {r["arm"]} | {r["params"] / 1e6:.2f} M | {r["lr"]:g} | {box} | {mask} | '
                     f'{" / ".join(f"{v:.3f}" for v in r["box_per_seed"])} | {r["s_per_iter"]:.3f} '
                     f'({r["time_ratio"]:.2f}) | {r["peak_rss_mib"]:.0f} MiB |')
    return reporting.write_table(args.out_dir, lines, seconds)


def plot(runs, args):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for i, arm in enumerate(args.arms):
        for j, r in enumerate(x for x in runs if x['arm'] == arm):
            label = arm if j == 0 else None
            axes[0].plot(r['iters'], r['loss'], color=f'C{i}', lw=1, label=label)
            if any(math.isfinite(v) for v in r['isometry_reg']):
                axes[1].plot(r['iters'], r['isometry_reg'], color=f'C{i}', lw=1, label=label)
            axes[2].plot(r['val_epochs'], r['val_bbox_mAP'], 'o-', color=f'C{i}', lw=1, label=label)
    axes[0].set(xlabel='iteration', ylabel='training loss')
    axes[1].set(xlabel='iteration', ylabel='isometry_reg')
    axes[2].set(xlabel='epoch', ylabel='box mAP (val)')
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(osp.join(args.out_dir, 'curves.png'), dpi=110)
    plt.close(fig)


QUICK = dict(seeds=[0], epochs=2, sweep_epochs=1, lrs=[0.02], num_train=200, log_interval=10)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arms', nargs='+', default=list(ARMS), choices=list(ARMS))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--epochs', type=int, default=5)
    parser.add_argument('--lrs', type=float, nargs='+', default=[0.01, 0.02, 0.04])
    parser.add_argument('--sweep-epochs', type=int, default=1)
    parser.add_argument(
        '--sweep-from',
        default=None,
        help='a finished run folder whose per-family lr choices this run takes (no sweep)')
    parser.add_argument('--num-train', type=int, default=None, help='first N training images')
    parser.add_argument(
        '--jobs',
        type=int,
        default=min(2,
                    os.cpu_count() or 1),
        help='training processes at once, the cores shared among them (default: 2 where there are '
        '2 cores: 1.6x the throughput of one 2-thread process on the 2-core CI machine)')
    parser.add_argument('--val-interval', type=int, default=1)
    parser.add_argument('--log-interval', type=int, default=25)
    parser.add_argument(
        '--data',
        default=None,
        help='the COCO-format data (default: data/demo_shapes, or data/demo_shapes_hard with '
        '--variant hard; written there if absent)')
    parser.add_argument(
        '--variant',
        choices=['simple', 'hard'],
        default='simple',
        help='the generated data: the demo\'s shapes, or the hard variant (textured backgrounds, '
        'clutter, occlusion, object scales from 6%% to 60%% of the image)')
    parser.add_argument('--quick', action='store_true', help=f'a few minutes: {QUICK}')
    parser.add_argument(
        '--out-dir',
        type=reporting.new_folder_arg,
        default=None,
        help='default: work_dirs/compare_detectors/<date_time>; a run folder to finish: --resume')
    parser.add_argument('--resume', default=None, help='a run folder to finish')
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f'--jobs must be at least 1, got {args.jobs}')
    if args.resume:
        saved = osp.join(args.resume, 'args.json')
        if not osp.isfile(saved):
            parser.error(f'{args.resume} is not a run folder of this tool (no args.json)')
        args = argparse.Namespace(**dict(reporting.read_json(saved), resume=args.resume))
        return args
    reporting.apply_quick(parser, args, QUICK)
    if args.data is None:
        args.data = osp.join(ROOT, 'data',
                             'demo_shapes' if args.variant == 'simple' else 'demo_shapes_hard')
    args.data = osp.abspath(args.data)
    args.out_dir = osp.abspath(reporting.new_run_dir(args.out_dir, 'compare_detectors', root=ROOT))
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'args.json'), 'w') as f:
        json.dump({k: v for k, v in vars(args).items() if k != 'resume'}, f)
    return args


def run_arm(arm, seed, sweeps, args):
    """One (arm, seed) at its family's lr: its result.json, trained unless it exists."""
    work_dir = osp.join(args.out_dir, 'runs', arm, f'seed{seed}')
    done = osp.join(work_dir, 'result.json')
    if osp.exists(done):
        return reporting.read_json(done)
    logs = train(arm, sweeps[ARMS[arm][0]]['lr'], seed, args.epochs, work_dir, args)
    steady = logs['time'][1:] or logs['time']
    result = dict(
        arm=arm,
        seed=seed,
        s_per_iter=sum(steady) / len(steady),
        bbox_mAP=logs['val_bbox_mAP'][-1] if logs['val_bbox_mAP'] else float('nan'),
        segm_mAP=logs['val_segm_mAP'][-1] if logs['val_segm_mAP'] else float('nan'),
        **logs)
    with open(done, 'w') as f:
        json.dump(result, f)
    print(
        f'{arm:<14} seed {seed}: box {result["bbox_mAP"]:.3f} mask {result["segm_mAP"]:.3f}, '
        f'{result["s_per_iter"]:.3f} s/iter, {result["peak_rss_mib"]:.0f} MiB',
        flush=True)
    return result


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    if not osp.isdir(args.data):
        from isonet_det.datasets import generate_shapes_dataset
        generate_shapes_dataset(args.data, 400, 50, 128, 0, getattr(args, 'variant', 'simple'))
    families = list(dict.fromkeys(ARMS[arm][0] for arm in args.arms))
    sweeps = sweep_families(families, args, args.out_dir)
    for family in families:
        print(
            f'lr sweep {family}: {sweeps[family]["losses"]} -> {sweeps[family]["lr"]}', flush=True)
    pairs = [(arm, seed) for arm in args.arms for seed in args.seeds]
    runs = launch.run_all([partial(run_arm, arm, seed, sweeps, args) for arm, seed in pairs],
                          getattr(args, 'jobs', 1))
    rows = summarise(runs, sweeps, args)
    seconds = time.perf_counter() - start
    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(dict(args=vars(args), sweeps=sweeps, rows=rows, runs=runs, seconds=seconds), f)
    plot(runs, args)
    print(write_table(rows, args, seconds))
    print(f'wrote {args.out_dir}/{{results.json,table.md,curves.png}}')


if __name__ == '__main__':
    main()
