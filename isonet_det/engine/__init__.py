from .checkpoint import (UntrustedCheckpointError, checkpoints_of_config,
                         install_safe_checkpoint_loader, load_checkpoint_file, trust_checkpoint)
from .distributed import setup_cpu_distributed
from .hooks import IsometryRegularizerHook, PlainParamGroupsHook

# mmengine 0.10.7 cannot load its own checkpoints on torch >= 2.6 (weights_only=True), and a
# blanket weights_only=False would run any code a file carries: replace its local-file loader by
# the weights-only one with mmengine's globals allowed (see checkpoint.py) when the plugin loads.
install_safe_checkpoint_loader()

__all__ = [
    'IsometryRegularizerHook', 'PlainParamGroupsHook', 'UntrustedCheckpointError',
    'load_checkpoint_file', 'trust_checkpoint', 'checkpoints_of_config',
    'install_safe_checkpoint_loader', 'setup_cpu_distributed'
]
