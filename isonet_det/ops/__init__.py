from .isometry import conv_kernel_gram, isometry_penalty, isometry_penalty_direct

__all__ = ['isometry_penalty', 'isometry_penalty_direct', 'conv_kernel_gram']
