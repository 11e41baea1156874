from .shared_scale import SharedScale
from .srelu import SReLU

__all__ = ['SReLU', 'SharedScale']
