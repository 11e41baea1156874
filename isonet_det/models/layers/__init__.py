from .shared_scale import FoldedScale, ScaledAddFunction, SharedScale
from .srelu import SReLU, SReLUFunction

__all__ = ['SReLU', 'SReLUFunction', 'SharedScale', 'ScaledAddFunction', 'FoldedScale']
