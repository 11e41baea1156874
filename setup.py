from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


version = {}
with open('isonet_det/version.py', encoding='utf-8') as f:
    exec(f.read(), version)

setup(
    name='isonet-det',
    version=version['__version__'],
    description='Deep isometric learning (ISONet / R-ISONet, Qi et al. ICML 2020) for MMDetection',
    long_description=readme(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['isonet_det', 'isonet_det.*']),
    python_requires='>=3.8',
    # torch + torchvision and mmcv (with its C++ ops, built from source against that torch) are
    # installed first by tools/setup_env.sh. torch >= 2.6: checkpoints load through
    # torch.load(weights_only=True) with torch.serialization.safe_globals and its
    # (function, name) entries; 2.14.1 is what the setup script pins.
    install_requires=[
        'torch>=2.6',
        'torchvision',
        'mmcv>=2.0.0rc4,<2.2.0',
        # mmengine imports pkg_resources (gone in setuptools 81); torch 2.14 wants >= 77.0.3
        'setuptools>=77.0.3,<81',
        'mmengine==0.10.7',
        'mmdet==3.3.0',
        'pycocotools>=2.0.7',
        'numpy',
    ],
    extras_require={
        'tests': ['pytest>=7', 'flake8==5.0.4', 'isort==5.11.5', 'yapf==0.32.0'],
        'analysis': ['matplotlib'],
        # ISO-UNet in MMSegmentation (its tokenizer imports ftfy and regex, which it does not
        # declare); classification configs and the NF-ResNet baseline (timm through
        # MMPretrain's TIMMBackbone). Versions that import with mmcv 2.1.0 and mmengine 0.10.7.
        'seg': ['mmsegmentation==1.2.2', 'ftfy', 'regex'],
        'cls': ['mmpretrain==1.2.0', 'timm==1.0.31'],
    },
    license='Apache-2.0',
)
