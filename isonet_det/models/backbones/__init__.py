from .isonet import ISONet, IsometricBasicBlock, IsometricBottleneck, RISONet

__all__ = ['ISONet', 'RISONet', 'IsometricBasicBlock', 'IsometricBottleneck']
