"""The segmentation demo: ISO-UNet and a BN UNet side by side on generated scans (MMSegmentation).

    python tools/seg_demo.py [--epochs 50] [--seed 0] [--jobs 2] [--quick] [--out-dir DIR]

Writes the generated scans to data/demo_scans if absent (240 train / 60 val, 96 x 96, seed 0;
never overwritten), trains configs/iso_unet/iso-unet_s5-b16_scans-96x96.py (ISO-UNet: no
normalisation, SReLU, Delta init, the isometry regulariser) and its BN UNet baseline
(configs/iso_unet/unet-bn_s5-b16_scans-96x96.py) from the same seed, each in its own process
(--jobs of them at once), then evaluates both on the validation images.

Output (a new folder): table.md (mIoU and mDice over both classes as MMSegmentation's IoUMetric
reports them, the lesion class's IoU and Dice, Dice loss = 1 - lesion Dice, parameters, s/iter,
peak resident memory, wall time), predictions.png (scans, ground truth and both predictions),
results.json, and each arm's work folder (config, logs, checkpoint).
"""
import argparse
import json
import os
import os.path as osp
import sys
import threading
import time
from functools import partial

import numpy as np

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)
from isonet_det.experiments import launch, reporting  # noqa: E402

ARMS = {
    'iso_unet': ('ISO-UNet (no norm, SReLU, Delta, reg 1e-4)',
                 osp.join(ROOT, 'configs', 'iso_unet', 'iso-unet_s5-b16_scans-96x96.py')),
    'unet_bn': ('UNet + BN (MMSegmentation)',
                osp.join(ROOT, 'configs', 'iso_unet', 'unet-bn_s5-b16_scans-96x96.py')),
}
DATA = dict(num_train=240, num_val=60, image_size=96, seed=0)
QUICK = dict(epochs=2, num_train=32)
CONFIG_LOCK = threading.Lock()


def arm_config(arm, args):
    """The arm's config with the demo's data folder, seed and schedule (mmengine Config)."""
    from mmengine.config import Config
    cfg = Config.fromfile(ARMS[arm][1])
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = args.data
    if args.num_train:
        cfg.train_dataloader.dataset.indices = args.num_train
    cfg.randomness = dict(seed=args.seed)
    if args.epochs != cfg.train_cfg.max_epochs:  # the halvings at the same fractions
        scale = args.epochs / cfg.train_cfg.max_epochs
        scheduler = cfg.param_scheduler[0]
        scheduler.milestones = sorted({max(1, round(m * scale)) for m in scheduler.milestones})
        scheduler.end = args.epochs
        cfg.train_cfg.max_epochs = args.epochs
        cfg.default_hooks.checkpoint.interval = args.epochs
    cfg.train_cfg.val_interval = min(cfg.train_cfg.val_interval, args.epochs)
    return cfg


def train(arm, args):
    work_dir = osp.join(args.out_dir, arm)
    os.makedirs(work_dir, exist_ok=True)
    config = osp.join(work_dir, 'config.py')
    with CONFIG_LOCK:  # mmengine's Config.fromfile (pkg_resources) is not thread-safe
        arm_config(arm, args).dump(config)
    usage = launch.train_in_subprocess(config, work_dir, args.jobs, name=arm)
    rows = launch.read_scalars(work_dir)
    times = [r['time'] for r in rows if 'loss' in r]
    val = [r for r in rows if 'mIoU' in r][-1]
    return dict(
        usage,
        config=config,
        s_per_iter=sum(times[1:] or times) / len(times[1:] or times),
        mIoU=val['mIoU'],
        mDice=val['mDice'],
        loss=[r['loss'] for r in rows if 'loss' in r])


def evaluate(arm, args):
    """Predictions on every validation image and the lesion class's IoU and Dice over them."""
    import glob

    import torch
    from mmseg.apis import inference_model, init_model
    work_dir = osp.join(args.out_dir, arm)
    checkpoint = open(osp.join(work_dir, 'last_checkpoint')).read().strip()
    model = init_model(osp.join(work_dir, 'config.py'), checkpoint, device='cpu')
    params = sum(p.numel() for p in model.backbone.parameters())
    images = sorted(glob.glob(osp.join(args.data, 'img_dir', 'val', '*.png')))
    preds = []
    with torch.no_grad():
        for i in range(0, len(images), 8):
            results = inference_model(model, images[i:i + 8])
            results = results if isinstance(results, list) else [results]
            preds += [r.pred_sem_seg.data[0].numpy().astype(np.uint8) for r in results]
    return images, preds, params


def lesion_scores(preds, gts, num_classes=2, ignore_index=255):
    """The lesion class's IoU and Dice over all validation pixels (areas summed over images), by
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
    return float(scores['IoU'][1]), float(scores['Dice'][1])


def draw(images, gts, preds, out_path, count=6):
    """Rows: scan, ground truth, one row per arm; columns: validation images with lesions and
    one without."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from PIL import Image
    with_lesion = [i for i, g in enumerate(gts) if g.any()]
    empty = [i for i, g in enumerate(gts) if not g.any()]
    picks = with_lesion[:count - 1] + empty[:1]
    rows = [('scan', None), ('ground truth', gts)] + [(ARMS[a][0], p) for a, p in preds.items()]
    fig, axes = plt.subplots(len(rows), len(picks), figsize=(1.8 * len(picks), 1.9 * len(rows)))
    for c, i in enumerate(picks):
        scan = np.asarray(Image.open(images[i]))
        for r, (title, masks) in enumerate(rows):
            ax = axes[r, c]
            ax.imshow(scan, cmap='gray', vmin=0, vmax=255)
            if masks is not None:
                ax.imshow(np.ma.masked_where(masks[i] == 0, masks[i]), cmap='autumn', alpha=0.55)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(title, fontsize=7)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=int, default=50)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=None, help='first N training images')
    parser.add_argument(
        '--jobs',
        type=int,
        default=min(2, launch.threads_per_job(1)),
        help='arms trained at once, the cores shared among them (default: 2 where there are 2)')
    parser.add_argument('--data', default=osp.join(ROOT, 'data', 'demo_scans'))
    parser.add_argument('--quick', action='store_true', help=f'a minute or two: {QUICK}')
    parser.add_argument(
        '--out-dir',
        type=reporting.new_folder_arg,
        default=None,
        help='default: work_dirs/seg_demo/<date_time>')
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.jobs < 1:
        parser.error(f'--epochs and --jobs must be at least 1, got {args.epochs}, {args.jobs}')
    reporting.apply_quick(parser, args, QUICK)
    args.out_dir = osp.abspath(reporting.new_run_dir(args.out_dir, 'seg_demo', root=ROOT))
    args.data = osp.abspath(args.data)
    return args


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    os.makedirs(args.out_dir, exist_ok=True)
    from isonet_det.datasets import generate_scans_dataset
    if generate_scans_dataset(args.data, **DATA):
        print(f'wrote the generated scans to {args.data}', flush=True)
    runs = dict(zip(ARMS, launch.run_all([partial(train, arm, args) for arm in ARMS], args.jobs)))
    from PIL import Image
    preds = {}
    for arm, run in runs.items():
        images, preds[arm], run['params'] = evaluate(arm, args)
    gts = [np.asarray(Image.open(p.replace('img_dir', 'ann_dir'))) for p in images]
    for arm, run in runs.items():
        run['lesion_IoU'], run['lesion_Dice'] = lesion_scores(preds[arm], gts)
    draw(images, gts, preds, osp.join(args.out_dir, 'predictions.png'))
    seconds = time.perf_counter() - start
    lines = [
        f'Generated scans ({DATA["num_train"] if not args.num_train else args.num_train} train / '
        f'{DATA["num_val"]} val, {DATA["image_size"]} px), {args.epochs} epochs, seed '
        f'{args.seed}, {args.jobs} run(s) at once. mIoU / mDice: both classes, MMSegmentation\'s '
        'IoUMetric (%); lesion IoU / Dice over all validation pixels; Dice loss = 1 - lesion '
        'Dice.', '', '| model | backbone params | mIoU | mDice | lesion IoU | lesion Dice | '
        'Dice loss | s/iter | peak RSS | train wall |', '|---|---|---|---|---|---|---|---|---|---|'
    ]
    for arm, r in runs.items():
        lines.append(f'| {ARMS[arm][0]} | {r["params"] / 1e6:.2f} M | {r["mIoU"]:.2f} | '
                     f'{r["mDice"]:.2f} | {r["lesion_IoU"]:.3f} | {r["lesion_Dice"]:.3f} | '
                     f'{1 - r["lesion_Dice"]:.3f} | {r["s_per_iter"]:.3f} | '
                     f'{r["peak_rss_mib"]:.0f} MiB | {r["wall_s"]:.0f} s |')
    with open(osp.join(args.out_dir, 'results.json'), 'w') as f:
        json.dump(dict(args=vars(args), runs=runs, seconds=seconds), f)
    print(reporting.write_table(args.out_dir, lines, seconds))
    print(f'wrote {args.out_dir}/{{table.md,predictions.png,results.json}}')


if __name__ == '__main__':
    main()
