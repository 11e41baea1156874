from .iso_unet import ISOUNet
from .isonet import IsometricBasicBlock, IsometricBlock, IsometricBottleneck, ISONet, RISONet

__all__ = [
    'ISONet', 'RISONet', 'IsometricBlock', 'IsometricBasicBlock', 'IsometricBottleneck', 'ISOUNet'
]
