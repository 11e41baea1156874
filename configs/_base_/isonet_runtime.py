# What every isonet-det config adds to a stock MMDetection config: the plugin and the isometry
# regulariser of the backbone convs (gamma = 1e-4 as the reference; the 7x7 stem is skipped).
custom_imports = dict(imports=['isonet_det'], allow_failed_imports=False)
custom_hooks = [dict(type='IsometryRegularizerHook', coeff=1e-4, module='backbone')]
