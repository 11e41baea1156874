"""Checkpoints load through torch's weights-only unpickler in every format; payloads never run."""
import os
import pickle
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader
from payloads import TouchPayload
from tiny_runner import make_runner

from isonet_det.engine import (UntrustedCheckpointError, checkpoints_of_config,
                               load_checkpoint_file, trust_checkpoint)

ROOT = __file__.rsplit('/tests/', 1)[0]


class TouchModule(nn.Module):

    def forward(self, x):
        return x + 1


def write_payload(path, fmt, marker):
    """A file in ``fmt`` whose loading with a plain unpickler runs ``touch marker``."""
    obj = {'state_dict': {'w': torch.zeros(1)}, 'meta': TouchPayload(marker)}
    if fmt == 'zip':
        torch.save(obj, path)
    elif fmt == 'legacy':  # what PyTorch < 1.6 wrote (the reference ImageNet checkpoints)
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    elif fmt == 'raw-pickle':
        with open(path, 'wb') as f:
            pickle.dump(TouchPayload(marker), f, protocol=2)  # reaches the GLOBAL opcode
    elif fmt == 'torchscript':
        torch.jit.save(torch.jit.script(TouchModule()), str(path))


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('train')
    make_runner(work_dir).train()
    return work_dir / 'epoch_1.pth'


@pytest.fixture
def jit_load_forbidden(monkeypatch):
    """Loading a TorchScript archive would go through torch.jit.load: make that observable."""
    calls = []
    monkeypatch.setattr(torch.jit, 'load', lambda *a, **k: calls.append(a))
    return calls


def test_mmengine_checkpoint_needs_the_plugin_and_loads_with_it(checkpoint):
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(checkpoint, weights_only=True)
    ckpt = load_checkpoint_file(str(checkpoint))
    assert {'meta', 'state_dict', 'optimizer', 'message_hub'} <= set(ckpt)
    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert type(buffer) is HistoryBuffer and buffer.mean() > 0
    assert buffer.statistics('max') >= buffer.statistics('min')


def test_legacy_format_mmengine_checkpoint_loads(checkpoint, tmp_path):
    legacy = tmp_path / 'legacy.pth'
    torch.save(load_checkpoint_file(str(checkpoint)), legacy, _use_new_zipfile_serialization=False)
    assert not __import__('zipfile').is_zipfile(legacy)
    ckpt = load_checkpoint_file(str(legacy))
    assert type(ckpt['message_hub']['log_scalars']['train/loss']) is HistoryBuffer


def test_mmengine_resume_uses_the_safe_loader(checkpoint, tmp_path):
    assert CheckpointLoader._schemes[''] is load_checkpoint_file
    runner = make_runner(tmp_path, max_epochs=2, resume=True, load_from=str(checkpoint))
    runner.train()
    assert runner.epoch == 2 and (tmp_path / 'epoch_2.pth').exists()


@pytest.mark.parametrize('fmt', ['zip', 'legacy', 'raw-pickle', 'torchscript'])
def test_payload_in_every_format_is_refused_without_running(fmt, tmp_path, jit_load_forbidden):
    marker = tmp_path / 'payload-ran'
    evil = tmp_path / f'evil-{fmt}.pth'
    write_payload(evil, fmt, marker)
    # directly, and through mmengine's load_checkpoint (load_from, init_cfg Pretrained)
    for load in (lambda: load_checkpoint_file(str(evil)),
                 lambda: load_checkpoint(nn.Linear(1, 1), str(evil))):
        with pytest.raises(UntrustedCheckpointError) as err:
            load()
        message = str(err.value)
        assert str(evil) in message
        if fmt == 'torchscript':
            assert 'TorchScript archive' in message
        else:
            assert 'system' in message and '--trust-checkpoint' in message
    assert not marker.exists() and not jit_load_forbidden


def test_payload_through_the_converter_is_refused_without_running(tmp_path):
    tool = f'{ROOT}/tools/model_converters/isonet2mmdet.py'
    for fmt in ('legacy', 'raw-pickle'):
        marker = tmp_path / f'ran-{fmt}'
        src = tmp_path / f'ref-{fmt}.pth'
        write_payload(src, fmt, marker)
        run = subprocess.run(
            [sys.executable, tool, str(src),
             str(tmp_path / f'{fmt}.pth')],
            capture_output=True,
            text=True)
        assert run.returncode != 0 and 'refusing to load' in run.stderr, run.stderr[-2000:]
        assert not marker.exists() and not (tmp_path / f'{fmt}.pth').exists()


def raw_pickle(tmp_path, data: bytes):
    path = tmp_path / 'crafted.pth'
    path.write_bytes(data)
    return str(path)


def test_loading_modifies_no_class_and_no_shared_table(tmp_path):
    HistoryBuffer()  # fills the class-level statistics table, as any run does
    table = dict(HistoryBuffer._statistics_methods)
    # BUILD on the class itself: pickle would setattr(HistoryBuffer, 'mean', 0)
    set_class_attr = (b'\x80\x02cmmengine.logging.history_buffer\nHistoryBuffer\n'
                      b'}X\x04\x00\x00\x00meanK\x00sb.')
    with pytest.raises(UntrustedCheckpointError):
        load_checkpoint_file(raw_pickle(tmp_path, set_class_attr))
    # reach the shared table through getattr and write into it
    write_table = (b'\x80\x02cbuiltins\ngetattr\ncmmengine.logging.history_buffer\nHistoryBuffer\n'
                   b'X\x13\x00\x00\x00_statistics_methods\x86RX\x04\x00\x00\x00meanK\x00s.')
    with pytest.raises(UntrustedCheckpointError, match='_statistics_methods'):
        load_checkpoint_file(raw_pickle(tmp_path, write_table))
    assert HistoryBuffer._statistics_methods == table
    assert HistoryBuffer.__dict__['mean'] is not 0  # noqa: F632


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):

    class GetattrPayload:
        # an allowed global's __globals__ would reach every module it imported

        def __reduce__(self):
            return (getattr, (torch._utils._rebuild_tensor_v2, '__globals__'))

    path = tmp_path / 'getattr.pth'
    torch.save({'x': GetattrPayload()}, path)
    with pytest.raises(UntrustedCheckpointError, match='__globals__'):
        load_checkpoint_file(str(path))


def test_explicit_trust_loads_anything(tmp_path, monkeypatch):
    path = tmp_path / 'custom.pth'
    torch.save({'fn': os.path.join}, path)
    with pytest.raises(UntrustedCheckpointError, match='join'):
        load_checkpoint_file(str(path))
    monkeypatch.setenv('ISONET_TRUSTED_CHECKPOINTS', str(path))
    assert load_checkpoint_file(str(path))['fn'] is os.path.join
    monkeypatch.delenv('ISONET_TRUSTED_CHECKPOINTS')
    trust_checkpoint(str(path))
    assert load_checkpoint_file(str(path))['fn'] is os.path.join


def test_trust_covers_resume_without_path_and_pretrained(tmp_path):
    (tmp_path / 'epoch_3.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_3.pth'))
    cfg = Config(
        dict(
            resume=True,
            load_from=None,
            work_dir=str(tmp_path),
            model=dict(
                backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='bb.pth')),
                neck=[dict(init_cfg=[dict(type='Pretrained', checkpoint='torchvision://x')])])))
    assert checkpoints_of_config(cfg) == [
        str(tmp_path / 'epoch_3.pth'), 'bb.pth', 'torchvision://x'
    ]  # URLs as written: ISONET_TRUSTED_CHECKPOINTS and the loaders name them so
    cfg.load_from = 'given.pth'
    assert checkpoints_of_config(cfg) == ['given.pth', 'bb.pth', 'torchvision://x']


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))


def test_map_location_as_torch_load_takes_it(tmp_path):
    path = tmp_path / 'c.pth'
    torch.save({'w': torch.arange(4.)}, path)
    seen = []

    def where(storage, location):
        seen.append(location)
        return storage

    for map_location in (None, 'cpu', torch.device('cpu'), {'cpu': 'cpu'}, where):
        out = load_checkpoint_file(str(path), map_location)
        assert out['w'].tolist() == [0., 1., 2., 3.] and out['w'].device.type == 'cpu'
    assert seen == ['cpu']
