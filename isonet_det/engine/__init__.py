from .checkpoint import (UntrustedCheckpointError, checkpoints_of_config,
                         install_safe_checkpoint_loader, load_checkpoint_file, trust_checkpoint)
from .distributed import setup_cpu_distributed
from .hooks import IsometryRegularizerHook, PlainParamGroupsHook, SafeCheckpointHook

# mmengine 0.10.7 cannot load its own checkpoints on torch >= 2.6 (weights_only=True), and a
# blanket weights_only=False would run any code a file carries: every scheme of its checkpoint
# loader goes through this package's reader (see checkpoint.py) when the plugin loads.
install_safe_checkpoint_loader()

__all__ = [
    'IsometryRegularizerHook', 'PlainParamGroupsHook', 'SafeCheckpointHook',
    'UntrustedCheckpointError', 'load_checkpoint_file', 'trust_checkpoint', 'checkpoints_of_config',
    'install_safe_checkpoint_loader', 'setup_cpu_distributed'
]
