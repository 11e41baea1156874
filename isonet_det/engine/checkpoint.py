"""Loading checkpoints without running what they carry, from every place a config can name.

Every load mmengine makes (``load_from``, ``--resume``, ``init_cfg=dict(type='Pretrained')``,
``tools/test.py``, the reference-checkpoint converter) goes through :func:`load_checkpoint_file`,
which reads the file with :func:`~isonet_det.engine.checkpoint_reader.read_checkpoint`: an
unpickler of this package that builds tensors, containers and the few objects an mmengine
checkpoint holds, and nothing else, the same on every torch version.

:func:`install_safe_checkpoint_loader` puts it behind every scheme of mmengine's
``CheckpointLoader``: local paths, ``http(s)://`` (downloaded once into torch.hub's cache, as
mmengine does, then read from there), ``torchvision://`` / ``modelzoo://``,
``open-mmlab://`` / ``openmmlab://`` and ``mmcls://`` (names resolved to their URLs, as mmengine
does). Schemes with a remote backend (``pavi://``, ``s3://``, ``petrel://``, any other) are
refused with a message that says to copy the file and load it by path.

Trust is per file and explicit: a file you trust loads with plain
``torch.load(weights_only=False)``, which runs whatever it carries. Name it with
``--trust-checkpoint`` in ``tools/train.py`` / ``tools/test.py`` (it covers the checkpoints the
run names: ``--resume PATH``, ``load_from``, ``init_cfg`` Pretrained, URLs such as
``torchvision://resnet50`` included, and the latest checkpoint of the run's own work dir),
``ISONET_TRUSTED_CHECKPOINTS=/path/a.pth:torchvision://resnet50`` (``os.pathsep`` separated; URLs
as written, their ``://`` and ports kept) or :func:`trust_checkpoint`. A path is trusted as the
file it resolves to (symlinks resolved when the trust is checked). A URL is trusted only for a
cached file whose content matches the hash in its file name (``name-<sha256 prefix>.pth``): any
URL with the same file name is cached at the same path, so the name alone proves nothing; a URL
whose file name carries no hash cannot be trusted by name (trust the downloaded file's path).

Nothing an untrusted file carries runs after it loads either: mmengine executes two strings a
checkpoint carries as Python when it turns them back into a config (``Config.fromstring(text,
'.py')``), and :data:`CONFIG_TEXT` drops them from every untrusted load.
"""
import hashlib
import io
import os
import os.path as osp
import re
from typing import Callable, List, Set
from urllib.parse import urlparse

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from ..utils import iter_dicts
from .checkpoint_reader import CheckpointRefused, MalformedCheckpoint, read_checkpoint
from .mmengine_internals import checkpoint_schemes

__all__ = [
    'UntrustedCheckpointError', 'load_checkpoint_file', 'load_checkpoint_url', 'trust_checkpoint',
    'install_safe_checkpoint_loader', 'checkpoints_of_config'
]

_TRUSTED: Set[str] = set()
# Where mmengine 0.10.4 - 0.10.7 and mmdet 3.3 execute text a checkpoint carries, as
# Config.fromstring(text, '.py') (a search of both for fromstring / fromfile / eval / exec):
CONFIG_TEXT = (
    ('meta', 'config'),  # Runner.resume and FlexibleRunner.resume (the GPU count check)
    ('message_hub', 'runtime_info', 'cfg'),  # BaseInferencer._init_model (DetInferencer and
    ('meta', 'cfg'),  # every inferencer given weights and no config), in this order
)


class UntrustedCheckpointError(CheckpointRefused):
    """A checkpoint cannot be loaded without trusting it: it names a global outside the
    allow-list, fails a check, or is a TorchScript archive. The message says why and how to
    trust the file."""


def _key(path: str) -> str:
    return path if '://' in path else osp.realpath(osp.expanduser(path))


def trust_checkpoint(path: str) -> None:
    """Load ``path`` (a file or a URL) with plain ``torch.load(weights_only=False)``: only for
    files you trust."""
    _TRUSTED.add(_key(path))


def trusted_names(value: str) -> List[str]:
    """The names in ``ISONET_TRUSTED_CHECKPOINTS``: split on ``os.pathsep``, except the
    ``:`` of a URL's ``scheme://`` and of its port."""
    if os.pathsep != ':':
        return [p for p in value.split(os.pathsep) if p]
    url = r'[A-Za-z][A-Za-z0-9+.-]*://[^:/]*(?::[0-9]+)?[^:]*'
    return [m.group(0) for m in re.finditer(rf'{url}|[^:]+', value)]


def is_trusted(path: str) -> bool:
    env = trusted_names(os.environ.get('ISONET_TRUSTED_CHECKPOINTS', ''))
    return _key(path) in _TRUSTED | {_key(p) for p in env}


def _hash_in_name(filename: str):
    """The sha256 prefix in a file name as torch.hub writes it (``name-<hex>.pth``), or None
    (fewer than 8 hex digits name no file)."""
    from torch.hub import HASH_REGEX
    found = HASH_REGEX.search(osp.basename(filename))
    return found.group(1) if found and len(found.group(1)) >= 8 else None


def _content_named_by_hash(filename: str):
    """The bytes of ``filename`` if they match the hash in its name, else None: what trust
    through a URL name covers (any URL with the same file name lands on the same cache path)."""
    prefix = _hash_in_name(filename)
    if prefix is None:
        return None
    with open(filename, 'rb') as f:
        data = f.read()
    return data if hashlib.sha256(data).hexdigest().startswith(prefix) else None


def _url_trust_advice(filename: str, alias: str) -> str:
    path = osp.realpath(filename)
    if _hash_in_name(filename) is None:
        why = f'its cached file name {osp.basename(filename)!r} carries no hash'
    elif _content_named_by_hash(filename) is None:
        why = f'the cached file {path} does not match the hash in its name (another download?)'
    else:
        return f'If you trust it, pass --trust-checkpoint or set ISONET_TRUSTED_CHECKPOINTS={alias}'
    return (f'Trusting {alias} would not cover this file: {why}. Verify the file, then trust '
            f'its path: ISONET_TRUSTED_CHECKPOINTS={path}')


def _refusal(filename: str, error: CheckpointRefused, alias: str = None):
    name = f'{alias} ({filename})' if alias else filename
    if isinstance(error, MalformedCheckpoint):
        advice = ('torch.save never writes such a file, and other readers may see other content '
                  'in it: do not trust it; get the file again from its source')
    elif alias:
        advice = _url_trust_advice(filename, alias)
    else:
        advice = ('If you trust this file, pass --trust-checkpoint to tools/train.py / '
                  f'tools/test.py, or set ISONET_TRUSTED_CHECKPOINTS={osp.realpath(filename)}')
    return UntrustedCheckpointError(f'{name}: refusing to load ({error}). {advice}')


def drop_config_text(checkpoint):
    """``checkpoint`` without the strings of :data:`CONFIG_TEXT` (mmengine would execute them).
    A run that resumes then skips only mmengine's GPU-count check; an inferencer needs its
    config given (``DetInferencer(model=CONFIG, weights=...)``)."""
    for path in CONFIG_TEXT:
        node = checkpoint
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return checkpoint


def load_checkpoint_file(filename: str, map_location=None, *, trusted_as: tuple = ()):
    """Read a local checkpoint without running anything it carries, now or later (the config
    text mmengine would execute is dropped, :func:`drop_config_text`); a trusted file loads with
    plain ``torch.load``, config text included: trusted by its resolved path, or by a name in
    ``trusted_as`` (the URLs it was downloaded as) only when its content matches the hash in its
    file name (``name-<sha256 prefix>.pth``, torch.hub's convention), since every URL with the
    same file name shares its cache path. Otherwise it is read as untrusted.

    Raises:
        FileNotFoundError: no such file.
        UntrustedCheckpointError: the reader refused it; the message names the file, says why,
            and how to trust it (or, for a file torch.save never writes, not to).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found')
    if is_trusted(filename):
        return torch.load(filename, map_location=map_location, weights_only=False)
    if any(is_trusted(name) for name in trusted_as):
        data = _content_named_by_hash(filename)
        if data is not None:  # the bytes hashed are the bytes loaded
            return torch.load(io.BytesIO(data), map_location=map_location, weights_only=False)
    try:
        checkpoint = read_checkpoint(filename, map_location)
    except CheckpointRefused as e:
        raise _refusal(filename, e, trusted_as[-1] if trusted_as else None) from e
    return drop_config_text(checkpoint)


def load_checkpoint_url(url: str,
                        map_location=None,
                        model_dir: str = None,
                        *,
                        trusted_as: tuple = ()):
    """A checkpoint from ``http(s)://``: downloaded once into ``<torch.hub dir>/checkpoints``
    (rank 0 first under DDP; a hash in the file name, ``name-<sha256 prefix>.pth``, is checked)
    and read from there by :func:`load_checkpoint_file`."""
    from mmengine.dist import barrier, get_dist_info
    from torch.hub import HASH_REGEX, download_url_to_file, get_dir
    model_dir = model_dir or osp.join(get_dir(), 'checkpoints')
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))

    def fetch():
        if not osp.exists(cached):
            os.makedirs(model_dir, exist_ok=True)
            found = HASH_REGEX.search(osp.basename(cached))
            download_url_to_file(url, cached, found.group(1) if found else None, progress=False)

    rank, world_size = get_dist_info()
    if rank == 0:
        fetch()
    if world_size > 1:  # the others after rank 0 (their own cache when it is node-local)
        barrier()
        if rank > 0:
            fetch()
    return load_checkpoint_file(cached, map_location, trusted_as=(url, ) + tuple(trusted_as))


def _named_url(table: Callable[[], dict], prefixes, scheme: str, then=None):
    """A loader for ``prefix<name>``: the name looked up in mmengine's ``table()``."""

    def load(filename, map_location=None):
        prefix = next(p for p in prefixes if filename.startswith(p))
        name = filename[len(prefix):]
        urls = table()
        if name not in urls:
            raise KeyError(f'{filename}: no {scheme} checkpoint named {name!r}')
        url = urls[name]
        if url.startswith(('http://', 'https://')):
            checkpoint = load_checkpoint_url(url, map_location, trusted_as=(filename, ))
        else:  # open-mmlab names may point into the mmengine home folder
            from mmengine.runner.checkpoint import _get_mmengine_home
            checkpoint = load_checkpoint_file(
                osp.join(_get_mmengine_home(), url), map_location, trusted_as=(filename, ))
        return then(checkpoint) if then else checkpoint

    return load


def _open_mmlab_models() -> dict:
    from mmengine.runner.checkpoint import get_deprecated_model_names, get_external_models
    urls = get_external_models()
    for old, new in get_deprecated_model_names().items():
        urls.setdefault(old, urls.get(new, new))
    return urls


def _refuse_remote(prefix: str) -> Callable:

    def load(filename, map_location=None):
        raise UntrustedCheckpointError(
            f'{filename}: isonet-det loads checkpoints from local files and http(s), '
            f'torchvision, open-mmlab and mmcls URLs only, each through its safe reader; a '
            f'{prefix} checkpoint would be read with plain torch.load. Copy the file to local '
            'disk and load it by its path (with --trust-checkpoint if you trust it).')

    return load


def _safe_loaders() -> dict:
    from mmengine.runner.checkpoint import (_process_mmcls_checkpoint, get_mmcls_models,
                                            get_torchvision_models)
    torchvision = ('torchvision://', 'modelzoo://')
    open_mmlab = ('open-mmlab://', 'openmmlab://')
    loaders = {
        '': load_checkpoint_file,
        'http://': load_checkpoint_url,
        'https://': load_checkpoint_url,
        'mmcls://': _named_url(get_mmcls_models, ('mmcls://', ), 'mmcls',
                               _process_mmcls_checkpoint),
    }
    loaders.update(
        dict.fromkeys(torchvision, _named_url(get_torchvision_models, torchvision, 'torchvision')))
    loaders.update(
        dict.fromkeys(open_mmlab, _named_url(_open_mmlab_models, open_mmlab, 'open-mmlab')))
    return loaders


def install_safe_checkpoint_loader() -> None:
    """Put :func:`load_checkpoint_file` behind every scheme mmengine's ``CheckpointLoader``
    knows (module docstring); a scheme it does not read safely is refused."""
    loaders = _safe_loaders()
    for prefix in list(checkpoint_schemes()) + list(loaders):
        loader = loaders.get(prefix) or _refuse_remote(prefix)
        CheckpointLoader.register_scheme(prefixes=prefix, loader=loader, force=True)


def checkpoints_of_config(cfg) -> List[str]:
    """The checkpoints a run of ``cfg`` names: ``load_from``, every ``init_cfg=dict(type=
    'Pretrained', checkpoint=...)`` in ``cfg.model`` (paths and URLs as written), and with
    ``resume=True`` and no ``load_from`` the latest checkpoint of ``work_dir``. What
    ``--trust-checkpoint`` trusts.

    Raises:
        ValueError: the work dir's ``last_checkpoint`` names a file outside the work dir (trust
            never extends to a file the user did not name).
    """
    from mmengine.runner import find_latest_checkpoint
    paths = []
    if cfg.get('load_from'):
        paths.append(cfg.load_from)
    elif cfg.get('resume') and cfg.get('work_dir'):
        latest = find_latest_checkpoint(cfg.work_dir)
        if latest:
            work_dir = osp.realpath(cfg.work_dir)
            if osp.commonpath([work_dir, osp.realpath(latest)]) != work_dir:
                raise ValueError(
                    f'{osp.join(cfg.work_dir, "last_checkpoint")} names {latest}, outside the '
                    'work dir: --trust-checkpoint does not extend to it. Name it yourself '
                    f'(--resume {latest}) if you mean to resume from it.')
            paths.append(latest)

    paths += [
        node['checkpoint'] for node in iter_dicts(cfg.get('model', {}))
        if node.get('type') == 'Pretrained' and isinstance(node.get('checkpoint'), str)
    ]
    return paths
