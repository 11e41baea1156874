import importlib.util
import sys

import pytest
import torch

EXTRAS = ('mmseg', 'mmpretrain', 'timm')


def pytest_collection_modifyitems(config, items):
    missing = [name for name in EXTRAS if importlib.util.find_spec(name) is None]
    if not missing:
        return
    skip = pytest.mark.skip(reason=f'needs the seg/cls extras ({", ".join(missing)} missing)')
    for item in items:
        if 'extras' in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _no_visualizer_outlives_its_test():
    """mmengine keeps one visualizer per name for the whole process, and the configs name theirs
    'visualizer': a Runner built in a later test would reuse an earlier test's, whose folder (that
    test's tmp_path) is gone. Each test's Runners start with none."""
    yield
    if 'mmengine.visualization' not in sys.modules:
        return
    from mmengine.visualization import Visualizer
    classes = [Visualizer]
    while classes:
        cls = classes.pop()
        cls._instance_dict.clear()
        classes.extend(cls.__subclasses__())
