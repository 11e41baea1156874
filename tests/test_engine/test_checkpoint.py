"""mmengine checkpoints load on torch >= 2.6 through the allow-list, malicious ones do not."""
import os

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

from isonet_det.engine import UntrustedCheckpointError, load_checkpoint_file, trust_checkpoint


class LinearModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 1)

    def forward(self, inputs, mode='tensor'):
        loss = self.lin(torch.stack(inputs)).pow(2).mean()
        return dict(loss=loss) if mode == 'loss' else loss


def make_runner(work_dir, **kwargs):
    return Runner(
        model=LinearModel(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=[dict(inputs=torch.randn(4)) for _ in range(8)],
                              batch_size=2, sampler=dict(type='DefaultSampler', shuffle=True),
                              collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=kwargs.pop('max_epochs', 1)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        log_level='WARNING', **kwargs)


class Payload:
    """Pickles to ``os.system('touch <marker>')``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('train')
    make_runner(work_dir).train()
    return work_dir / 'epoch_1.pth'


def test_plain_torch_load_fails_and_safe_loader_reads_everything(checkpoint):
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(checkpoint)
    ckpt = load_checkpoint_file(str(checkpoint))
    assert {'meta', 'state_dict', 'optimizer', 'message_hub'} <= set(ckpt)
    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert type(buffer).__name__ == 'HistoryBuffer' and buffer.mean() > 0


def test_mmengine_resume_uses_the_safe_loader(checkpoint, tmp_path):
    assert CheckpointLoader._schemes[''] is load_checkpoint_file
    runner = make_runner(tmp_path, max_epochs=2, resume=True, load_from=str(checkpoint))
    runner.train()
    assert runner.epoch == 2 and (tmp_path / 'epoch_2.pth').exists()


def test_malicious_payload_is_refused_without_running(tmp_path):
    marker = tmp_path / 'payload-ran'
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': Payload(marker)}, evil)
    with pytest.raises(UntrustedCheckpointError, match="'posix.system'") as err:
        load_checkpoint_file(str(evil))
    assert '--trust-checkpoint' in str(err.value) and str(evil) in str(err.value)
    assert not marker.exists()


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
    torch.save({'obj': Payload.__name__, 'fn': os.path.join}, path)
    with pytest.raises(UntrustedCheckpointError, match='posixpath.join'):
        load_checkpoint_file(str(path))
    monkeypatch.setenv('ISONET_TRUSTED_CHECKPOINTS', str(path))
    assert load_checkpoint_file(str(path))['fn'] is os.path.join
    monkeypatch.delenv('ISONET_TRUSTED_CHECKPOINTS')
    trust_checkpoint(str(path))
    assert load_checkpoint_file(str(path))['fn'] is os.path.join


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))
