from .jacobian import jacobian_singular_values
from .layer_report import activation_stats, conv_layer_stats, orthogonality_error
from .plain_cnn import SCHEMES, PlainCNN

__all__ = [
    'conv_layer_stats', 'activation_stats', 'orthogonality_error', 'jacobian_singular_values',
    'PlainCNN', 'SCHEMES'
]
