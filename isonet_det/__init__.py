"""isonet-det: deep isometric learning (Qi et al., ICML 2020) for MMDetection.

``custom_imports = dict(imports=['isonet_det'], allow_failed_imports=False)`` registers the
``ISONet``/``RISONet`` backbones, the ``SReLU`` activation, the ``Delta``/``DeltaOrthogonal``
initialisers and the ``IsometryRegularizerHook``.
"""
from .engine import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .ops import conv_kernel_gram, isometry_penalty  # noqa: F401
from .version import __version__  # noqa: F401
