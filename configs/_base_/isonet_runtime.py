# What every isonet-det config adds to a stock MMDetection config: the plugin and the isometry
# regulariser of the backbone convs (gamma = 1e-4 as the reference; the 7x7 stem is skipped).
custom_imports = dict(imports=['isonet_det'], allow_failed_imports=False)
custom_hooks = [dict(type='IsometryRegularizerHook', coeff=1e-4, module='backbone')]

# The reference's optimizer policy: SReLU thresholds without weight decay, residual scales at
# lr x0.1. Configs use it as optim_wrapper.paramwise_cfg through mmengine's base-variable
# substitution (a second base cannot define optim_wrapper itself: the stock schedule does).
isonet_paramwise_cfg = dict(custom_keys={
    'srelu': dict(decay_mult=0.0),
    'residual_scale': dict(lr_mult=0.1)
})
