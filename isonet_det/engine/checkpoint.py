"""Loading mmengine checkpoints on torch >= 2.6 without unpickling arbitrary code.

torch >= 2.6 loads with ``weights_only=True`` by default, which refuses what mmengine 0.10.7 puts
in its checkpoints (``HistoryBuffer`` in the message hub, numpy scalars and arrays), so
``tools/test.py CONFIG CKPT`` and ``--resume`` fail. Turning ``weights_only`` off would run any
code a downloaded file carries. This module installs, as mmengine's loader for local files, an
unpickler that resolves exactly the globals mmengine checkpoints contain:

- what torch's own ``weights_only`` unpickler allows (tensors, storages, dtypes, OrderedDict, ...);
- ``mmengine.logging.history_buffer.HistoryBuffer``;
- numpy arrays, dtypes and scalars (``_reconstruct``, ``ndarray``, ``dtype``, ``scalar``,
  ``_codecs.encode``; numpy 1 and 2 module names);
- ``builtins.getattr``, resolved to a function that only returns ``HistoryBuffer``'s four
  statistics methods (``min``, ``max``, ``current``, ``mean``), which is how a HistoryBuffer
  pickles them.

Anything else raises :class:`UntrustedCheckpointError`, which names the global and says how to
trust the file: ``--trust-checkpoint`` in ``tools/train.py`` / ``tools/test.py``, or
``ISONET_TRUSTED_CHECKPOINTS=/path/a.pth:/path/b.pth`` (``os.pathsep``-separated).
"""
import _compat_pickle
import os
import os.path as osp
import pickle
import types
from typing import Set

import torch
from mmengine.runner.checkpoint import CheckpointLoader

__all__ = ['UntrustedCheckpointError', 'load_checkpoint_file', 'trust_checkpoint',
           'install_safe_checkpoint_loader']

_TRUSTED: Set[str] = set()
_HISTORY_BUFFER = 'mmengine.logging.history_buffer.HistoryBuffer'
_STATISTICS_METHODS = ('min', 'max', 'current', 'mean')
_NUMPY_GLOBALS = {
    f'{prefix}.{name}'
    for prefix in ('numpy._core.multiarray', 'numpy.core.multiarray')
    for name in ('_reconstruct', 'scalar')
} | {'numpy.ndarray', 'numpy.dtype', '_codecs.encode'}


class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint asks for a global outside the allow-list."""


def trust_checkpoint(path: str) -> None:
    """Load ``path`` with plain ``torch.load(weights_only=False)``: only for files you trust."""
    _TRUSTED.add(osp.realpath(osp.expanduser(path)))


def _is_trusted(path: str) -> bool:
    env = os.environ.get('ISONET_TRUSTED_CHECKPOINTS', '')
    trusted = _TRUSTED | {osp.realpath(p) for p in env.split(os.pathsep) if p}
    return osp.realpath(path) in trusted


def _torch_allowed_globals() -> dict:
    from torch import _weights_only_unpickler
    allowed = dict(_weights_only_unpickler._get_allowed_globals())
    allowed.update(_weights_only_unpickler._get_user_allowed_globals())
    return allowed


def _history_buffer_getattr(obj, name):
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and name in _STATISTICS_METHODS:
        return getattr(obj, name)
    raise UntrustedCheckpointError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only HistoryBuffer statistics '
        'methods are allowed')


def _make_pickle_module(path: str) -> types.ModuleType:
    allowed = _torch_allowed_globals()

    class AllowListUnpickler(pickle.Unpickler):

        def find_class(self, module, name):
            # protocol < 3 pickles carry Python 2 names (``__builtin__``): map them first
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[module, name]
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
            qualified = f'{module}.{name}'
            if qualified == 'builtins.getattr':
                return _history_buffer_getattr
            if qualified in allowed:
                return allowed[qualified]
            if qualified == _HISTORY_BUFFER or qualified in _NUMPY_GLOBALS:
                return super().find_class(module, name)
            raise UntrustedCheckpointError(
                f'{path}: refusing to load, the checkpoint asks for the global {qualified!r}, '
                'which mmengine checkpoints do not contain (it could run code). If you trust '
                'this file, pass --trust-checkpoint to tools/train.py / tools/test.py, or set '
                f'ISONET_TRUSTED_CHECKPOINTS={path}')

    module = types.ModuleType('isonet_det_allow_list_pickle')
    module.__dict__.update({k: getattr(pickle, k) for k in dir(pickle) if not k.startswith('_')})
    module.Unpickler = AllowListUnpickler
    return module


def load_checkpoint_file(filename: str, map_location=None):
    """``torch.load`` for mmengine checkpoints: the allow-list above, or a trusted file."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found')
    if _is_trusted(filename):
        return torch.load(filename, map_location=map_location, weights_only=False)
    return torch.load(filename, map_location=map_location, weights_only=False,
                      pickle_module=_make_pickle_module(filename))


def install_safe_checkpoint_loader() -> None:
    """Make mmengine (``load_from``, ``--resume``, ``init_cfg=Pretrained``) load local files
    through :func:`load_checkpoint_file`."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_checkpoint_file, force=True)
