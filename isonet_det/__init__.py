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

# mmengine resolves `<scope>::<config>` only for the scopes MODULE2PACKAGE lists. It asks
# pkg_resources for the distribution the value names and reads `<its location>/<module>/.mim`:
# site-packages/isonet_det/.mim for a wheel, but nothing for an editable install (`pip install
# -e .`), whose metadata is in site-packages and whose package is in the checkout. A module name
# that names no distribution takes mmengine's other branch, the folder of
# `importlib.util.find_spec(name).origin`: this package's own folder, however it was installed.
_MODULE2PACKAGE.setdefault('isonet_det', 'isonet_det.version')
