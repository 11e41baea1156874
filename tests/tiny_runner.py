"""The smallest mmengine training run the checkpoint tests need: a 1x1 conv on 4-vectors whose
loss can be poisoned with NaN, SGD with momentum, a checkpoint every epoch."""
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner


class TinyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1, bias=False)
        self.poison = False  # the loss becomes NaN

    def forward(self, inputs, mode='tensor'):
        x = torch.stack(inputs)[:, :, None, None]
        loss = self.conv(x).pow(2).mean()
        if self.poison:
            loss = loss * float('nan')
        return dict(loss=loss) if mode == 'loss' else loss


def make_runner(work_dir, max_epochs=1, max_keep_ckpts=-1, custom_hooks=(), **kwargs) -> Runner:
    return Runner(
        model=TinyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=[dict(inputs=torch.randn(4)) for _ in range(8)],
            batch_size=2,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=max_keep_ckpts)),
        custom_hooks=list(custom_hooks),
        log_level='WARNING',
        **kwargs)
