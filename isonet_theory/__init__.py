"""The numpy-only theory behind isonet-det, importable without torch, mmengine or mmdet.

A second top-level package of the ``isonet-det`` distribution, beside the plugin: MMDetection's
``custom_imports=dict(imports=['isonet_det'])`` needs ``isonet_det/__init__.py`` to register every
module and install the safe checkpoint loader, and Python runs a package's ``__init__`` before any
of its submodules, so no module under ``isonet_det`` can be imported without loading the plugin.
What needs neither torch nor mmengine lives here (``isonet_det.analysis`` re-exports it for code
that has the plugin loaded anyway).
"""
from .mean_field import (NONLINEARITIES, chi_1, correlation_map, critical_sigma_w, depth_scales,
                         fixed_point_c, fixed_point_q, variance_map)

__all__ = [
    'variance_map', 'fixed_point_q', 'chi_1', 'correlation_map', 'fixed_point_c', 'depth_scales',
    'critical_sigma_w', 'NONLINEARITIES'
]
