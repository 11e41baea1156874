"""The classification demo (MMPretrain): R-ISONet-18 on generated shape images, then its backbone
into the detection demo.

    python tools/cls_demo.py [--epochs 30] [--quick] [--out-dir DIR]

Writes the generated images to data/demo_classes if absent (600 train / 150 val, 64 x 64, 3
classes, seed 0; never overwritten), trains configs/classification/risonet18_shapes-cls_demo.py
with tools/train.py (MMPretrain's ImageClassifier with `mmdet.RISONet`, the dropout head and the
isometry regulariser), reads its top-1 accuracy on the validation images, then builds the
detection demo (configs/demo/mask-rcnn_risonet18_fpn_shapes.py) with
`init_cfg=dict(type='Pretrained', checkpoint=<classifier>, prefix='backbone.')` and checks that
every backbone weight came from the classifier. Output in a new folder: the classifier's work
folder, detector_from_classifier.py (that detection config) and result.json.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)
from isonet_det.experiments import launch, reporting  # noqa: E402

CONFIG = osp.join(ROOT, 'configs', 'classification', 'risonet18_shapes-cls_demo.py')
DETECTOR = osp.join(ROOT, 'configs', 'demo', 'mask-rcnn_risonet18_fpn_shapes.py')
DATA = dict(num_train=600, num_val=150, image_size=64, seed=0)
QUICK = dict(epochs=1, num_train=60)


def classifier_config(args):
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.data_root = args.data
    if args.num_train:
        cfg.train_dataloader.dataset.indices = args.num_train
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = args.epochs
    cfg.default_hooks.checkpoint.interval = args.epochs
    cfg.param_scheduler.milestones = [m for m in cfg.param_scheduler.milestones if m < args.epochs]
    return cfg


def detector_from_classifier(checkpoint):
    """The detection demo with its backbone initialised from a classifier checkpoint."""
    from mmengine.config import Config
    cfg = Config.fromfile(DETECTOR)
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
    return cfg


def backbone_transfer(config_path, checkpoint):
    """How many of the detector's backbone tensors equal the classifier's, out of how many."""
    import torch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    from isonet_det.engine import load_checkpoint_file
    register_all_modules()
    model = MODELS.build(Config.fromfile(config_path).model)
    model.init_weights()
    saved = load_checkpoint_file(checkpoint)['state_dict']
    state = model.backbone.state_dict()
    same = sum(
        torch.equal(v, saved[f'backbone.{k}']) for k, v in state.items()
        if f'backbone.{k}' in saved)
    return same, len(state)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--num-train', type=int, default=None, help='first N training images')
    parser.add_argument('--data', default=osp.join(ROOT, 'data', 'demo_classes'))
    reporting.add_run_arguments(parser, 'cls_demo', QUICK, 'under a minute')
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f'--epochs must be at least 1, got {args.epochs}')
    reporting.apply_quick(parser, args, QUICK)
    args.out_dir = osp.abspath(reporting.new_run_dir(args.out_dir, 'cls_demo', root=ROOT))
    args.data = osp.abspath(args.data)
    return args


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    from isonet_det.datasets import generate_classification_dataset
    if generate_classification_dataset(args.data, **DATA):
        print(f'wrote the generated images to {args.data}', flush=True)
    work_dir = osp.join(args.out_dir, 'classifier')
    os.makedirs(work_dir)
    config = osp.join(work_dir, 'config.py')
    classifier_config(args).dump(config)
    usage = launch.train_in_subprocess(config, work_dir, name='the classifier')
    rows = launch.read_scalars(work_dir)
    accuracy = [r['accuracy/top1'] for r in rows if 'accuracy/top1' in r][-1]
    times = [r['time'] for r in rows if 'loss' in r]
    checkpoint = open(osp.join(work_dir, 'last_checkpoint')).read().strip()
    detector = osp.join(args.out_dir, 'detector_from_classifier.py')
    detector_from_classifier(checkpoint).dump(detector)
    same, total = backbone_transfer(detector, checkpoint)
    result = dict(
        top1=accuracy,
        epochs=args.epochs,
        s_per_iter=sum(times) / max(1, len(times)),
        train_wall_s=usage['wall_s'],
        peak_rss_mib=usage['peak_rss_mib'],
        checkpoint=checkpoint,
        detector_config=detector,
        backbone_tensors_loaded=same,
        backbone_tensors=total,
        seconds=time.perf_counter() - start)
    with open(osp.join(args.out_dir, 'result.json'), 'w') as f:
        json.dump(result, f, indent=1)
    print(f'R-ISONet-18 classifier: top-1 {accuracy:.2f}% on {DATA["num_val"]} validation images '
          f'after {args.epochs} epoch(s), training {usage["wall_s"]:.0f} s '
          f'({result["s_per_iter"]:.3f} s/iter), peak RSS {usage["peak_rss_mib"]:.0f} MiB')
    print(f'detection demo backbone from it: {same} / {total} tensors loaded ({detector})')
    print(f'done in {result["seconds"]:.0f} s: {args.out_dir}')
    if same != total:
        sys.exit('the classifier checkpoint did not fill the detector backbone')


if __name__ == '__main__':
    main()
