from .isometry import (conv_kernel_gram, isometry_penalty, isometry_penalty_direct,
                       orthonormality_penalty)
from .spectrum import conv_singular_value_range, conv_singular_values

__all__ = ['isometry_penalty', 'isometry_penalty_direct', 'orthonormality_penalty',
           'conv_kernel_gram', 'conv_singular_values', 'conv_singular_value_range']
