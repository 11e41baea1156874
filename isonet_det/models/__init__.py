from .backbones import *  # noqa: F401,F403
from .converters import *  # noqa: F401,F403
from .initializers import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
