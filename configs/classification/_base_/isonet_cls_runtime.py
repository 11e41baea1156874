# What every ISONet / R-ISONet classification config (MMPretrain 1.x) adds: the plugin and its
# dropout head, the isometry regulariser of the backbone convs (gamma 1e-4; the stem is skipped,
# as the reference), and the reference optimiser policy (SReLU thresholds without weight decay,
# residual scales at lr x0.1). The backbone is the detection configs' own (`RISONet`, registered in
# mmengine's root registry), so a classification checkpoint's `backbone.*` weights load into the
# detection configs' backbone unchanged (init_cfg=dict(type='Pretrained', prefix='backbone.')).
custom_imports = dict(
    imports=['isonet_det', 'isonet_det.models.heads'], allow_failed_imports=False)
custom_hooks = [dict(type='IsometryRegularizerHook', coeff=1e-4, module='backbone')]
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={
        'srelu': dict(decay_mult=0.0),
        'residual_scale': dict(lr_mult=0.1)
    }))
