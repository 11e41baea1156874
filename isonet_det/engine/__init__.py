from .checkpoint import (UntrustedCheckpointError, install_safe_checkpoint_loader,
                         load_checkpoint_file, trust_checkpoint)
from .distributed import setup_cpu_distributed
from .hooks import IsometryRegularizerHook

# mmengine 0.10.7 cannot load its own checkpoints on torch >= 2.6 (weights_only=True): replace
# its local-file loader by the allow-list one (see checkpoint.py) as soon as the plugin loads.
install_safe_checkpoint_loader()

__all__ = ['IsometryRegularizerHook', 'UntrustedCheckpointError', 'load_checkpoint_file',
           'trust_checkpoint', 'install_safe_checkpoint_loader', 'setup_cpu_distributed']
