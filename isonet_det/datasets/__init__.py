from .gratings import make_gratings
from .synthetic_shapes import CATEGORIES, generate_shapes_dataset

__all__ = ['generate_shapes_dataset', 'CATEGORIES', 'make_gratings']
