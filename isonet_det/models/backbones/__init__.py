from .deploy import fold_residual_scales
from .iso_unet import ISOUNet
from .isonet import IsometricBasicBlock, IsometricBottleneck, ISONet, RISONet

__all__ = [
    'ISONet', 'RISONet', 'IsometricBasicBlock', 'IsometricBottleneck', 'fold_residual_scales',
    'ISOUNet'
]
