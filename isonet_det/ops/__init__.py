from .captured import CapturedPenalty
from .conv_selection import REGULARIZERS, regularized_convs, shard_by_cost
from .isometry import (DEFAULT_MAX_CHUNK_ELEMENTS, conv_kernel_gram, isometry_macs,
                       isometry_penalty, isometry_penalty_and_grads, isometry_penalty_direct,
                       isometry_workspace_bytes, orthonormality_penalty)
from .precision import Products, full_fp32_matmul
from .spectrum import conv_singular_value_range, conv_singular_values

__all__ = [
    'isometry_penalty', 'isometry_penalty_and_grads', 'isometry_macs', 'isometry_penalty_direct',
    'isometry_workspace_bytes', 'orthonormality_penalty', 'conv_kernel_gram',
    'conv_singular_values', 'conv_singular_value_range', 'full_fp32_matmul',
    'DEFAULT_MAX_CHUNK_ELEMENTS', 'REGULARIZERS', 'CapturedPenalty', 'Products',
    'regularized_convs', 'shard_by_cost'
]
