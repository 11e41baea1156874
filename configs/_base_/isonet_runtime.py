# What every isonet-det config adds to a stock MMDetection config: the plugin and the isometry
# regulariser of the backbone convs (gamma = 1e-4 as the reference; the 7x7 stem is skipped).
custom_imports = dict(imports=['isonet_det'], allow_failed_imports=False)
custom_hooks = [
    dict(type='IsometryRegularizerHook', coeff=1e-4, module='backbone'),
    # with `compile=True` (or a dict of torch.compile options): plain-dict param groups, which
    # TorchDynamo needs to trace the optimizer step over a paramwise_cfg's groups
    dict(type='PlainParamGroupsHook'),
]

# The reference's optimizer policy: SReLU thresholds without weight decay, residual scales at
# lr x0.1. Configs use it as optim_wrapper.paramwise_cfg through mmengine's base-variable
# substitution (a second base cannot define optim_wrapper itself: the stock schedule does).
isonet_paramwise_cfg = dict(custom_keys={
    'srelu': dict(decay_mult=0.0),
    'residual_scale': dict(lr_mult=0.1)
})

# The two training recipes of a normalisation-free backbone, defined once; each config picks one
# with `optim_wrapper = {{_base_.isonet_<family>_optim_wrapper}}` (merged into the stock one).
# From converted ImageNet weights: the stock ResNet recipe (lr 0.02 for batch 16, 500-iteration
# warm-up) plus gradient clipping: without normalisation nothing else bounds a bad step.
isonet_pretrained_optim_wrapper = dict(
    clip_grad=dict(max_norm=35, norm_type=2), paramwise_cfg=isonet_paramwise_cfg)
# From scratch, on MMDetection's GN scratch recipe (6x): clipping, half its learning rate and a
# 2000-iteration warm-up, since the whole backbone trains from a near-linear start with nothing
# normalising its activations. Checked by smoke runs (tools/analysis/config_smoke_run.py), not on
# COCO.
isonet_scratch_optim_wrapper = dict(
    optimizer=dict(lr=0.01),
    clip_grad=dict(max_norm=35, norm_type=2),
    paramwise_cfg=isonet_paramwise_cfg)
isonet_scratch_param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=2000),
    dict(type='MultiStepLR', begin=0, end=73, by_epoch=True, milestones=[65, 71], gamma=0.1)
]

# ISONet (no shortcuts) trains its backbone at 0.2x the detector's learning rate: the ratio of the
# reference ImageNet recipe (lr 0.02 per 256 images for ISONet, 0.1 for R-ISONet). At the full
# rate the ISONet-50 Mask R-CNN smoke run diverged (loss 3.7 -> 6.3 in 20 iterations; 4.0 -> 23 with
# seed 1); at 0.2x it fell to 1.6 / 1.7. mmengine applies one key per parameter, the longest
# contained in its name: '.conv{1,2,3}.weight' name only backbone convs here (FPN and heads name
# theirs '.conv.weight'), 'srelu' only backbone activations (which keep no weight decay).
isonet_plain_paramwise_cfg = dict(
    custom_keys={
        'srelu': dict(decay_mult=0.0, lr_mult=0.2),
        '.conv1.weight': dict(lr_mult=0.2),
        '.conv2.weight': dict(lr_mult=0.2),
        '.conv3.weight': dict(lr_mult=0.2),
    })
