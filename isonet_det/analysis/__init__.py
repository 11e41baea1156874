"""The science that needs torch or the plugin's modules: Jacobian spectra, per-layer reports,
``PlainCNN``; the numpy-only mean-field maths is :mod:`isonet_theory`, re-exported here."""
from isonet_theory import chi_1, critical_sigma_w, depth_scales, fixed_point_q, variance_map
from .jacobian import jacobian_singular_values
from .layer_report import activation_stats, conv_layer_stats, orthogonality_error
from .plain_cnn import SCHEMES, PlainCNN

__all__ = [
    'conv_layer_stats', 'activation_stats', 'orthogonality_error', 'jacobian_singular_values',
    'PlainCNN', 'SCHEMES', 'variance_map', 'fixed_point_q', 'chi_1', 'depth_scales',
    'critical_sigma_w'
]
