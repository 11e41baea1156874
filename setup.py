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
    # torch and mmcv (with its C++ ops) are installed first by tools/setup_env.sh: torch pinned
    # to the CPU wheel on CPU machines, mmcv built from source against it.
    install_requires=[
        'torch>=2.0',
        'mmcv>=2.0.0rc4,<2.2.0',
        # mmengine imports pkg_resources (gone in setuptools 81); torch 2.13 wants >= 77.0.3
        'setuptools>=77.0.3,<81',
        'mmengine==0.10.7',
        'mmdet==3.3.0',
        'pycocotools>=2.0.7',
        'numpy',
    ],
    extras_require={
        'tests': ['pytest>=7'],
        'analysis': ['matplotlib'],
    },
    license='Apache-2.0',
)
