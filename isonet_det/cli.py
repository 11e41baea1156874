"""``isonet-det-train`` / ``isonet-det-test`` (or ``python -m isonet_det.cli train|test ...``):
the package's tools/train.py and tools/test.py, shipped under ``isonet_det/.mim/tools`` (linked
in a development install, copied in the wheel), as commands."""
import os.path as osp
import runpy
import sys


def _run(tool: str) -> None:
    path = osp.join(osp.dirname(osp.abspath(__file__)), '.mim', 'tools', tool)
    if not osp.isfile(path):
        sys.exit(f'{path} is missing: this isonet_det was installed without its tools (install '
                 'the wheel, or `pip install -e .` from a checkout)')
    sys.argv[0] = path
    runpy.run_path(path, run_name='__main__')


def train() -> None:
    _run('train.py')


def test() -> None:
    _run('test.py')


if __name__ == '__main__':
    commands = {'train': train, 'test': test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit('usage: python -m isonet_det.cli {train,test} ARGS...')
    command = commands[sys.argv.pop(1)]
    command()
