"""The package users install: ``python -m build`` makes an sdist and a wheel that carry the
configs and tools (``isonet_det/.mim``), the wheel installs into this environment without
changing any package of the stack, and an ``isonet_det::`` config builds a detector from
outside the repository, from the wheel and from this environment's editable install."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib.metadata import distribution

import pytest

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
SKIP = shutil.ignore_patterns('.git', '.venv*', 'work_dirs', 'data', 'dist', 'build', '.mim',
                              '__pycache__', '*.egg-info', '.pytest_cache')


def run(args, **kwargs):
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc


@pytest.fixture(scope='module')
def dist(tmp_path_factory):
    """sdist, then the wheel built from it, from a copy of the checkout (a build writes
    ``isonet_det/.mim``)."""
    source = tmp_path_factory.mktemp('source') / 'isonet-det'
    shutil.copytree(ROOT, source, ignore=SKIP, symlinks=True)
    out = tmp_path_factory.mktemp('dist')
    run([sys.executable, '-m', 'build', '--no-isolation', '--outdir', str(out)], cwd=source)
    wheel = next(out.glob('isonet_det-*.whl'))
    sdist = next(out.glob('isonet[-_]det-*.tar.gz'))  # setuptools < 69 keeps the dash
    return wheel, sdist


def test_wheel_and_sdist_carry_configs_and_tools(dist):
    wheel, sdist = dist
    names = zipfile.ZipFile(wheel).namelist()
    mim = 'isonet_det/.mim/'
    for path in (mim + 'configs/demo/mask-rcnn_risonet18_fpn_shapes.py',
                 mim + 'configs/risonet/mask-rcnn_risonet50-scratch_fpn_gn-all_6x_coco.py',
                 mim + 'tools/train.py', mim + 'tools/test.py', mim + 'model-index.yml',
                 'isonet_det/engine/checkpoint_reader.py', 'isonet_theory/mean_field.py'):
        assert path in names, path
    assert not any(n.startswith(('tests/', 'configs/')) for n in names)
    members = tarfile.open(sdist).getnames()
    assert any(m.endswith('/configs/demo/mask-rcnn_risonet18_fpn_shapes.py') for m in members)


def test_installing_the_wheel_changes_no_package_of_the_stack(dist, tmp_path):
    wheel, _ = dist
    report = tmp_path / 'report.json'
    # --no-index: a requirement this environment does not already satisfy fails here
    run([
        sys.executable, '-m', 'pip', 'install', '--dry-run', '--no-index', '--report',
        str(report),
        str(wheel)
    ])
    installs = [item['metadata']['name'] for item in json.loads(report.read_text())['install']]
    assert installs == ['isonet-det'], installs


def test_an_isonet_det_config_builds_from_outside_the_repository(dist, tmp_path):
    wheel, _ = dist
    target = tmp_path / 'site'
    run([
        sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index', '--target',
        str(target),
        str(wheel)
    ])
    config = tmp_path / 'my_config.py'
    config.write_text("_base_ = 'isonet_det::demo/mask-rcnn_risonet18_fpn_shapes.py'\n"
                      "model = dict(backbone=dict(depth=34))\n")
    code = ('import sys, isonet_det\n'
            f'assert isonet_det.__file__.startswith({str(target)!r}), isonet_det.__file__\n'
            'from mmengine.config import Config\n'
            'from mmengine.registry import init_default_scope\n'
            'from mmdet.registry import MODELS\n'
            f'cfg = Config.fromfile({str(config)!r})\n'
            'init_default_scope("mmdet")\n'
            'model = MODELS.build(cfg.model)\n'
            'print(type(model).__name__, type(model.backbone).__name__, model.backbone.depth)\n'
            'from isonet_det.cli import train\n'
            'sys.argv = ["isonet-det-train", "--help"]\n'
            'try:\n'
            '    train()\n'
            'except SystemExit as e:\n'
            '    assert e.code == 0\n')
    env = dict(os.environ, PYTHONPATH=str(target))
    proc = run([sys.executable, '-c', code], cwd=tmp_path, env=env)
    assert 'MaskRCNN RISONet 34' in proc.stdout, proc.stdout
    assert '--trust-checkpoint' in proc.stdout  # the train tool's help, from the package


def test_an_isonet_det_config_resolves_from_an_editable_install(tmp_path):
    """The project's environments install the package editable (``pip install -e .``, as
    tools/setup_env.sh and MMDetection's guide do): pip < 25.1 the legacy way for a project
    without a pyproject.toml (``setup.py develop``, the metadata in the checkout; the oldest
    stack), newer pip by PEP 660 (the metadata in site-packages, the package in the checkout; the
    newest stack). ``_base_ = 'isonet_det::...'`` from a folder outside the checkout, after
    ``import isonet_det``, reads the checkout's configs (``isonet_det/.mim``, linked by
    setup.py) either way."""
    distribution('isonet-det')  # installed, not only importable from the checkout
    config = tmp_path / 'my_config.py'
    config.write_text(
        "_base_ = 'isonet_det::risonet/mask-rcnn_risonet50-scratch_fpn_gn-all_6x_coco.py'\n"
        'model = dict(backbone=dict(depth=101))\n')
    code = ('import os.path as osp, isonet_det\n'
            'from mmengine.config import Config\n'
            'from mmengine.config.utils import MODULE2PACKAGE\n'
            'from mmengine.utils import get_installed_path\n'
            f'cfg = Config.fromfile({str(config)!r})\n'
            'print(osp.dirname(osp.abspath(isonet_det.__file__)))\n'
            "print(get_installed_path(MODULE2PACKAGE['isonet_det']))\n"
            'print(cfg.model.type, cfg.model.backbone.type, cfg.model.backbone.depth)\n')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = run([sys.executable, '-c', code], cwd=tmp_path, env=env)
    package_dir, lookup_dir, model = proc.stdout.splitlines()[-3:]
    assert package_dir == osp.join(ROOT, 'isonet_det')  # editable: the checkout's package
    assert lookup_dir == package_dir  # where mmengine reads .mim/configs
    assert model == 'MaskRCNN RISONet 101'
