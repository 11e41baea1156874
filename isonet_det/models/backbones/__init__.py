from .isonet import IsometricBasicBlock, IsometricBottleneck, ISONet, RISONet

__all__ = ['ISONet', 'RISONet', 'IsometricBasicBlock', 'IsometricBottleneck']
