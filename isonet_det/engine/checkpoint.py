"""Loading checkpoints without running what they carry.

Every local load (``load_from``, ``--resume``, ``init_cfg=dict(type='Pretrained')``,
``tools/test.py``, the reference-checkpoint converter) goes through
:func:`load_checkpoint_file`, which uses torch's own weights-only unpickler
(``torch.load(weights_only=True)``) for all three file formats torch reads: zip (torch >= 1.6),
legacy (PyTorch 1.4/1.5, the reference ImageNet checkpoints) and raw pickle. That unpickler builds
only tensors, storages, containers and the globals listed here, inside
``torch.serialization.safe_globals``, exactly what mmengine 0.10.7 checkpoints contain:

- ``mmengine.logging.history_buffer.HistoryBuffer`` (the message hub's logs);
- numpy arrays, dtypes and scalars (``_reconstruct``, ``ndarray``, ``dtype``, ``scalar`` under
  numpy 1 and 2 module names, the dtype classes, ``_codecs.encode``);
- ``builtins.getattr``, resolved to a function that only returns ``HistoryBuffer``'s four
  statistics methods, which is how a HistoryBuffer pickles them.

Nothing else can be named by a file, no class attribute can be set (torch's unpickler only
restores the state of instances of allowed classes), and TorchScript archives, which
``torch.load`` would hand to ``torch.jit.load``, are refused with an error that says what the
file is. A file you trust can opt out (plain ``torch.load(weights_only=False)``), one file at a
time: ``--trust-checkpoint`` in ``tools/train.py`` / ``tools/test.py``,
``ISONET_TRUSTED_CHECKPOINTS=/path/a.pth:/path/b.pth`` (``os.pathsep``-separated) or
:func:`trust_checkpoint`.
"""
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Callable, List, Set

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

__all__ = [
    'UntrustedCheckpointError', 'load_checkpoint_file', 'trust_checkpoint',
    'install_safe_checkpoint_loader', 'checkpoint_safe_globals', 'checkpoints_of_config'
]

_TRUSTED: Set[str] = set()
_STATISTICS_METHODS = ('min', 'max', 'current', 'mean')


class UntrustedCheckpointError(pickle.UnpicklingError):
    """A checkpoint cannot be loaded without trusting it (it names a global outside the
    allow-list, or it is a TorchScript archive)."""


def trust_checkpoint(path: str) -> None:
    """Load ``path`` with plain ``torch.load(weights_only=False)``: only for files you trust."""
    _TRUSTED.add(osp.realpath(osp.expanduser(path)))


def is_trusted(path: str) -> bool:
    env = os.environ.get('ISONET_TRUSTED_CHECKPOINTS', '')
    trusted = _TRUSTED | {osp.realpath(osp.expanduser(p)) for p in env.split(os.pathsep) if p}
    return osp.realpath(path) in trusted


def _history_buffer_getattr(obj, name):
    """``builtins.getattr`` as checkpoints may call it: HistoryBuffer's statistics only."""
    if obj is HistoryBuffer and name in _STATISTICS_METHODS:
        return getattr(HistoryBuffer, name)
    raise UntrustedCheckpointError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only HistoryBuffer statistics '
        'methods are allowed')


def _numpy_globals() -> List[Callable]:
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    dtype_classes = [type(np.dtype(t)) for t in np.sctypeDict.values()]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype] + dtype_classes


def checkpoint_safe_globals() -> list:
    """What ``torch.serialization.safe_globals`` gets for an mmengine checkpoint."""
    import codecs
    safe = [HistoryBuffer, codecs.encode, (_history_buffer_getattr, 'builtins.getattr')]
    safe += _numpy_globals()
    if not hasattr(np, '_core'):
        return safe
    # numpy 2 reads files written under numpy 1 (``numpy.core.multiarray``) as well
    return safe + [(np._core.multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
                   (np._core.multiarray.scalar, 'numpy.core.multiarray.scalar')]


def _refuse_torchscript(filename: str) -> None:
    if not zipfile.is_zipfile(filename):
        return
    with zipfile.ZipFile(filename) as zf:
        names = zf.namelist()
    if any(n.endswith('constants.pkl') or '/code/' in n for n in names):
        raise UntrustedCheckpointError(
            f'{filename} is a TorchScript archive (torch.jit.save), not a checkpoint: loading it '
            'would compile and run the code it carries. Export a state dict with torch.save, or '
            'load it yourself with torch.jit.load if you trust it.')


def _unpickler_reason(message: str) -> str:
    """The one line of torch's weights-only error that says what the file asked for."""
    found = re.search(r'WeightsUnpickler error:\s*(.+?)(?:\n\s*\n|$)', message, re.S)
    if found:
        return ' '.join(found.group(1).split())
    parts = [
        p for p in re.split(r'\n\s*\n', message)
        if p.strip() and not p.startswith(('Weights only load failed', 'Check the doc'))
    ]
    return ' '.join(' '.join(parts or [message]).split())


def load_checkpoint_file(filename: str, map_location=None):
    """``torch.load`` that runs nothing a file carries (module docstring); trusted files load
    with ``weights_only=False``.

    Raises:
        FileNotFoundError: no such file.
        UntrustedCheckpointError: the file names a global outside the allow-list, or is a
            TorchScript archive; the message says how to trust it.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found')
    if is_trusted(filename):
        return torch.load(filename, map_location=map_location, weights_only=False)
    _refuse_torchscript(filename)
    try:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        reason = _unpickler_reason(str(e))
        raise UntrustedCheckpointError(
            f'{filename}: refusing to load ({reason}); it could run code. If you '
            'trust this file, pass --trust-checkpoint to tools/train.py / tools/test.py, or set '
            f'ISONET_TRUSTED_CHECKPOINTS={osp.realpath(filename)}') from e


def install_safe_checkpoint_loader() -> None:
    """Make mmengine (``load_from``, ``--resume``, ``init_cfg=Pretrained``) load local files
    through :func:`load_checkpoint_file`."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_checkpoint_file, force=True)


def checkpoints_of_config(cfg) -> List[str]:
    """The local checkpoints a run of ``cfg`` loads: ``load_from``, the latest checkpoint of
    ``work_dir`` when ``resume=True`` without ``load_from``, and every
    ``init_cfg=dict(type='Pretrained', checkpoint=...)`` in ``cfg.model``. What
    ``--trust-checkpoint`` trusts."""
    from mmengine.runner import find_latest_checkpoint
    paths = []
    if cfg.get('load_from'):
        paths.append(cfg.load_from)
    elif cfg.get('resume') and cfg.get('work_dir'):
        latest = find_latest_checkpoint(cfg.work_dir)
        if latest:
            paths.append(latest)

    def visit(node):
        if isinstance(node, dict):
            if node.get('type') == 'Pretrained' and isinstance(node.get('checkpoint'), str):
                paths.append(node['checkpoint'])
            for value in node.values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(cfg.get('model', {}))
    return [p for p in paths if '://' not in p]
