"""Train a detector: MMDetection's tools/train.py with the isonet_det plugin loaded.

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--auto-scale-lr] [--resume [CKPT]]
                                 [--overwrite] [--cfg-options k=v ...] [--launcher pytorch]
                                 [--trust-checkpoint]

A work dir that already holds checkpoints is refused unless the run resumes (``--resume``) or is
told to overwrite them (``--overwrite``).
"""
import argparse
import glob
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
import isonet_det  # noqa: E402,F401  registers the plugin, installs the safe checkpoint loader
from isonet_det.engine import setup_cpu_distributed  # noqa: E402
from isonet_det.engine import checkpoints_of_config, trust_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training (CUDA)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale lr by (GPUs x batch per GPU) / auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or without a path from the latest checkpoint in '
        'the work directory')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='train into a work dir that already holds checkpoints, overwriting those the new '
        'run saves under the same names')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value (a.b=c, key="[a,b]")')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load the checkpoints this run reads (--resume, load_from, init_cfg Pretrained) '
        'with plain torch.load, which runs any code they carry: only for files you trust that '
        'the safe checkpoint reader refuses')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if not osp.isfile(args.config):
        parser.error(f'config file {args.config} does not exist')
    if args.resume not in (None, 'auto') and not osp.isfile(args.resume):
        parser.error(f'--resume checkpoint {args.resume} does not exist')
    if args.amp and not torch.cuda.is_available():
        parser.error('--amp needs a CUDA device (mmengine AmpOptimWrapper); this machine has '
                     'none')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_config(args) -> Config:
    """The config the run uses, after every command-line option is applied."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        # The regulariser hook works with any optim wrapper: it runs inside optimizer.step(),
        # after AmpOptimWrapper's GradScaler unscaled the gradients.
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise RuntimeError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the '
                               'config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def existing_checkpoints(work_dir: str) -> list:
    """Checkpoint files a run in ``work_dir`` would overwrite."""
    found = sorted(glob.glob(osp.join(glob.escape(work_dir), '*.pth')))
    last = osp.join(work_dir, 'last_checkpoint')
    return found + ([last] if osp.isfile(last) else [])


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    found = existing_checkpoints(cfg.work_dir)
    if found and not cfg.get('resume') and not args.overwrite:
        names = ', '.join(osp.basename(p) for p in found[:4]) + (' ...' if len(found) > 4 else '')
        sys.exit(f'error: the work dir {cfg.work_dir} already holds checkpoints ({names}): pass '
                 '--resume to continue that run, --overwrite to train over it, or --work-dir '
                 'for a new folder')
    if args.trust_checkpoint:
        try:
            trusted = checkpoints_of_config(cfg)
        except ValueError as e:
            sys.exit(f'error: {e}')
        for path in trusted:
            trust_checkpoint(path)
    setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
