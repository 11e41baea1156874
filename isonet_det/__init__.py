"""isonet-det: deep isometric learning (Qi et al., ICML 2020) for MMDetection.

``custom_imports = dict(imports=['isonet_det'], allow_failed_imports=False)`` registers the
``ISONet``/``RISONet`` backbones, the ``SReLU`` activation, the ``Delta``/``DeltaOrthogonal``
initialisers and the ``IsometryRegularizerHook``. Once imported, configs can inherit the
package's own (``_base_ = 'isonet_det::risonet/...'``, from ``isonet_det/.mim/configs``).
"""
from mmengine.config.utils import MODULE2PACKAGE as _MODULE2PACKAGE

from .engine import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .ops import conv_kernel_gram, isometry_penalty  # noqa: F401
from .version import __version__  # noqa: F401

# mmengine resolves `<module>::<config>` only for the packages it lists
_MODULE2PACKAGE.setdefault('isonet_det', 'isonet-det')
