import importlib.util

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
