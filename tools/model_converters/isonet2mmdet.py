"""Convert a reference ISONet / R-ISONet ImageNet checkpoint into an isonet_det backbone one.

    python tools/model_converters/isonet2mmdet.py SRC DST [--arch RISONet-50]

DST loads with ``init_cfg=dict(type='Pretrained', checkpoint=DST)`` on the backbone, with no
missing or unexpected keys; the classifier head is dropped. Without --arch the architecture is
read off the keys. DST is never overwritten.
"""
import argparse
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from isonet_det.engine import UntrustedCheckpointError, load_checkpoint_file  # noqa: E402
from isonet_det.models.converters import convert_reference_checkpoint  # noqa: E402
from isonet_det.utils import write_new_file  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='reference checkpoint (dict with "net")')
    parser.add_argument('dst', help='output backbone checkpoint')
    parser.add_argument('--arch', help='expected architecture, e.g. RISONet-50 or ISONet-18')
    args = parser.parse_args(argv)
    if not osp.isfile(args.src):
        parser.error(f'{args.src} does not exist')
    if osp.exists(args.dst):
        parser.error(f'{args.dst} already exists; it is not overwritten')
    try:
        state, arch = convert_reference_checkpoint(load_checkpoint_file(args.src, 'cpu'), args.arch)
    except UntrustedCheckpointError as e:
        parser.error(str(e))
    except ValueError as e:
        parser.error(f'{args.src}: {e}')
    checkpoint = {'state_dict': state, 'meta': dict(arch=arch, source=osp.basename(args.src))}
    try:
        write_new_file(args.dst, lambda f: torch.save(checkpoint, f), binary=True)
    except OSError as e:  # the destination exists, or its folder cannot be written
        parser.error(str(e))
    print(f'{args.src} ({arch}) -> {args.dst}: {len(state)} tensors, '
          f'{sum(v.numel() for v in state.values()):,} parameters')


if __name__ == '__main__':
    main()
