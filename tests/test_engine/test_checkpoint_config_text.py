"""Nothing an untrusted checkpoint carries runs after the reader returns (issue 27, item 1).

mmengine executes two strings of a checkpoint as Python when it turns them back into a config
(``Config.fromstring(text, '.py')``): ``meta['config']`` in ``Runner.resume`` and
``message_hub.runtime_info['cfg']`` / ``meta['cfg']`` in its inferencers. Each way a checkpoint
reaches mmengine or mmdet is tried with a genuine checkpoint whose three strings are a payload
that touches a marker file."""
import copy
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.registry import DATASETS, METRICS, MODELS
from tiny_runner import TinyModel, make_runner

from isonet_det.engine import load_checkpoint_file
from isonet_det.engine.checkpoint import CONFIG_TEXT
from isonet_det.engine.mmengine_internals import config_text_readers

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
DEMO = osp.join(ROOT, 'configs', 'demo', 'mask-rcnn_risonet18_fpn_shapes.py')


def tool(name):
    """tools/<name>.py as a module (``test`` would be the standard library's package)."""
    spec = importlib.util.spec_from_file_location(f'isonet_tools_{name}',
                                                  osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@MODELS.register_module(name='ConfigTextTinyModel', force=True)
class PredictingTinyModel(TinyModel):

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode == 'predict':
            return [dict(value=float(x.sum())) for x in inputs]
        return super().forward(inputs, mode)


@DATASETS.register_module(name='ConfigTextTinyDataset', force=True)
class TinyDataset(torch.utils.data.Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.full((4, ), float(i)))


@METRICS.register_module(name='ConfigTextTinyMetric', force=True)
class CountMetric(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        return dict(count=len(results))


TINY_CONFIG = """
model = dict(type='ConfigTextTinyModel')
loader = dict(dataset=dict(type='ConfigTextTinyDataset'), batch_size=2, num_workers=0,
              sampler=dict(type='DefaultSampler', shuffle=False),
              collate_fn=dict(type='pseudo_collate'))
train_dataloader = loader
test_dataloader = loader
train_cfg = dict(by_epoch=True, max_epochs=2)
test_cfg = dict(type='TestLoop')
test_evaluator = dict(type='ConfigTextTinyMetric')
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1))
log_level = 'WARNING'
"""


def payload(marker) -> str:
    return f"__import__('os').system('touch {marker}')\n"


def poison(checkpoint: dict, marker) -> dict:
    for path in CONFIG_TEXT:
        node = checkpoint
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = payload(marker)
    return checkpoint


@pytest.fixture(scope='module')
def genuine(tmp_path_factory):
    work = tmp_path_factory.mktemp('genuine')
    make_runner(work, 1).train()
    return load_checkpoint_file(str(work / 'epoch_1.pth'))


@pytest.fixture
def poisoned(genuine, tmp_path):
    """(path of a genuine epoch-1 checkpoint with the payload in each config string, marker)"""
    marker = tmp_path / 'payload-ran'
    path = tmp_path / 'poisoned.pth'
    checkpoint = poison(copy.deepcopy(genuine), marker)
    torch.save(checkpoint, path)
    return str(path), marker


def test_genuine_config_text_is_dropped_unless_trusted(tmp_path, monkeypatch):
    make_runner(tmp_path, 1).train()
    path = str(tmp_path / 'epoch_1.pth')
    raw = torch.load(path, weights_only=False)  # a file of this test
    assert 'cfg' in raw['meta'] and 'cfg' in raw['message_hub']['runtime_info']
    loaded = load_checkpoint_file(path)
    assert 'cfg' not in loaded['meta'] and 'cfg' not in loaded['message_hub']['runtime_info']
    assert loaded['meta']['epoch'] == 1 and loaded['state_dict'].keys() == raw['state_dict'].keys()
    monkeypatch.setenv('ISONET_TRUSTED_CHECKPOINTS', path)
    assert load_checkpoint_file(path)['meta']['cfg'] == raw['meta']['cfg']


def test_every_place_that_executes_config_text_is_known():
    """Runner.resume and FlexibleRunner.resume read meta['config'], the inferencers
    message_hub.runtime_info['cfg'] then meta['cfg'] (CONFIG_TEXT); mmdet executes none."""
    import mmdet
    import mmengine
    assert config_text_readers(mmengine) == [
        'mmengine.infer.infer', 'mmengine.runner._flexible_runner', 'mmengine.runner.runner'
    ]
    assert config_text_readers(mmdet) == []
    assert sorted(CONFIG_TEXT) == [('message_hub', 'runtime_info', 'cfg'), ('meta', 'cfg'),
                                   ('meta', 'config')]


@pytest.mark.parametrize('trusted', [False, True])
def test_runner_resume(poisoned, tmp_path, monkeypatch, trusted):
    path, marker = poisoned
    if trusted:  # the path does execute the string: the file's owner may, by trusting it
        monkeypatch.setenv('ISONET_TRUSTED_CHECKPOINTS', path)
    runner = make_runner(tmp_path / 'work', 2, resume=True, load_from=path)
    runner.train()
    assert runner.epoch == 2
    assert marker.exists() == trusted


def test_load_from(poisoned, tmp_path):
    path, marker = poisoned
    make_runner(tmp_path / 'work', 1, load_from=path).train()
    assert not marker.exists()


def test_tools_train_resume(poisoned, tmp_path):
    path, marker = poisoned
    config = tmp_path / 'tiny.py'
    config.write_text(TINY_CONFIG)
    work = tmp_path / 'work'
    tool('train').main([str(config), '--work-dir', str(work), '--resume', path])
    assert (work / 'epoch_2.pth').exists()
    assert not marker.exists()


def test_tools_test(poisoned, tmp_path):
    path, marker = poisoned
    config = tmp_path / 'tiny.py'
    config.write_text(TINY_CONFIG)
    tool('test').main([str(config), path, '--work-dir', str(tmp_path / 'work')])
    assert not marker.exists()


@pytest.fixture(scope='module')
def detector_checkpoint(tmp_path_factory):
    """A genuine checkpoint of the demo detector with the payload in its config strings."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from isonet_det.models import RISONet  # noqa: F401  registers the backbone
    init_default_scope('mmdet')
    model = MODELS.build(Config.fromfile(DEMO).model)
    folder = tmp_path_factory.mktemp('detector')
    marker = folder / 'payload-ran'
    path = folder / 'detector.pth'
    meta = dict(epoch=1, iter=1, dataset_meta=dict(classes=('rectangle', 'ellipse', 'triangle')))
    torch.save(poison(dict(state_dict=model.state_dict(), meta=meta, message_hub={}), marker), path)
    return str(path), marker


def test_init_detector(detector_checkpoint):
    from mmdet.apis import init_detector
    path, marker = detector_checkpoint
    model = init_detector(DEMO, path, device='cpu')
    assert model.dataset_meta['classes'] == ('rectangle', 'ellipse', 'triangle')
    assert not marker.exists()


def test_det_inferencer(detector_checkpoint, monkeypatch):
    from mmdet.apis import DetInferencer
    path, marker = detector_checkpoint
    DetInferencer(model=DEMO, weights=path, device='cpu', show_progress=False)
    assert not marker.exists()
    # without a config, the inferencer would build one from the checkpoint's text: it is gone
    with pytest.raises(ValueError, match='Cannot find the config'):
        DetInferencer(model=None, weights=path, device='cpu', show_progress=False)
    assert not marker.exists()
    monkeypatch.setenv('ISONET_TRUSTED_CHECKPOINTS', path)
    with pytest.raises(Exception):  # the payload is no config: it runs, then the build fails
        DetInferencer(model=None, weights=path, device='cpu', show_progress=False)
    assert marker.exists()
