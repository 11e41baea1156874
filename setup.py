import os
import os.path as osp
import shutil
import sys
from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def add_mim_extension():
    """OpenMMLab's convention (as mmdet's setup.py): the configs and tools ship inside the package
    under ``isonet_det/.mim``, so ``_base_ = 'isonet_det::risonet/...'`` and ``mim`` find them
    after ``pip install``. A development install links them; sdist and wheel builds copy them."""
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif 'sdist' in sys.argv or 'bdist_wheel' in sys.argv:
        mode = 'copy'
    else:
        return
    here = osp.dirname(osp.abspath(__file__))
    mim = osp.join(here, 'isonet_det', '.mim')
    os.makedirs(mim, exist_ok=True)
    for name in ('configs', 'tools', 'model-index.yml'):
        src, dst = osp.join(here, name), osp.join(mim, name)
        if not osp.exists(src):  # building the wheel from an sdist: .mim is already filled
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)


version = {}
with open('isonet_det/version.py', encoding='utf-8') as f:
    exec(f.read(), version)

if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='isonet-det',
        version=version['__version__'],
        description=('Deep isometric learning (ISONet / R-ISONet, Qi et al. ICML 2020) for '
                     'MMDetection'),
        long_description=readme(),
        long_description_content_type='text/markdown',
        # isonet_theory: the numpy-only maths, importable without loading the plugin
        packages=find_packages(include=['isonet_det', 'isonet_det.*', 'isonet_theory']),
        include_package_data=True,  # isonet_det/.mim (MANIFEST.in)
        python_requires='>=3.8',
        # Ranges, not pins: installing into an MMDetection 3.x environment changes none of its
        # packages. Tested at both ends (tools/setup_env.sh): Python 3.8 + torch 2.1.2 +
        # torchvision 0.16.2 + mmengine 0.10.4 and Python 3.11 + torch 2.14.1 + torchvision
        # 0.29.1 + mmengine 0.10.7, each with mmcv 2.1.0 (with its compiled ops, built against
        # that torch) and mmdet 3.3.0; what lies between is in docs/get_started.md.
        install_requires=[
            'torch>=2.1',
            'torchvision>=0.16',
            'mmcv>=2.0.0,<2.2.0',
            'mmengine>=0.10.4,<0.11',
            'mmdet>=3.3.0,<3.4',
            # mmengine imports pkg_resources, which setuptools 81 removes
            'setuptools<81',
            'pycocotools>=2.0.7',
            'numpy',
            # the mean-field root finders and integrals (isonet_det.analysis.mean_field)
            'scipy',
        ],
        extras_require={
            'tests': ['pytest>=7.3', 'flake8==5.0.4', 'isort==5.11.5', 'yapf==0.32.0', 'build'],
            'analysis': ['matplotlib'],
            # ISO-UNet in MMSegmentation (its tokenizer imports ftfy and regex, which it does not
            # declare); classification configs and the NF-ResNet baseline (timm through
            # MMPretrain's TIMMBackbone). Versions that import with mmcv 2.1.0 and mmengine 0.10.7.
            'seg': ['mmsegmentation==1.2.2', 'ftfy', 'regex'],
            'cls': ['mmpretrain==1.2.0', 'timm==1.0.31'],
        },
        entry_points={
            'console_scripts': [
                'isonet-det-train=isonet_det.cli:train',
                'isonet-det-test=isonet_det.cli:test',
            ]
        },
        license='Apache-2.0',
    )
