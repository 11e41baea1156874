"""The wheels ``gpu_check.sh`` installs on a GPU machine: those of the folders that travelled with
the run (``WHEELS/plugin``, ``cuda``, ``detector``, ``plots``, ``extra``; see
``tools/misc/prepare_gpu_wheels.sh``) whose distribution the machine lacks. The machine's own
numpy, scipy, matplotlib, ... are kept (they match its other packages); the OpenMMLab packages'
tested versions are always installed; mmcv with CUDA ops, where built, replaces ``mmcv_lite``.

    python3 tools/benchmarks/select_gpu_wheels.py WHEELS [CUDA_MMCV_WHEEL]

Prints one wheel path a line; says on stderr which wheels the machine made unnecessary.
"""
import glob
import importlib.metadata as metadata
import os.path as osp
import re
import sys

FOLDERS = ('', 'plugin', 'cuda', 'detector', 'plots', 'extra')
ALWAYS = ('mmcv', 'mmcv_lite', 'mmengine', 'mmdet')  # the versions the project tests


def distribution(wheel):
    """The distribution name of a wheel file (``mmcv_lite-2.1.0-py2.py3-none-any.whl``:
    ``mmcv_lite``)."""
    return re.split(r'-\d', osp.basename(wheel), maxsplit=1)[0]


def needed_wheels(wheels, cuda_mmcv=''):
    """The wheels under ``wheels`` to install here, in folder order."""
    found = [w for d in FOLDERS for w in sorted(glob.glob(osp.join(wheels, d, '*.whl')))]
    needed = []
    for wheel in found:
        dist = distribution(wheel)
        if cuda_mmcv and dist == 'mmcv_lite':
            continue
        if dist not in ALWAYS:
            try:
                metadata.version(dist)
            except metadata.PackageNotFoundError:
                pass
            else:
                print(
                    f'[gpu] the machine has {dist}: {osp.basename(wheel)} not installed',
                    file=sys.stderr)
                continue
        needed.append(wheel)
    return needed


if __name__ == '__main__':
    print('\n'.join(needed_wheels(*sys.argv[1:3])))
