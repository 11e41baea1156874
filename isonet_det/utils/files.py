"""Writing an output file that must not exist yet, without following anything planted."""
import os
import os.path as osp
import tempfile
from typing import IO, Callable


def check_new_folder(path: str) -> str:
    """``path`` if nothing is there or it is an empty folder: the one never-overwrite rule of the
    package's output folders (experiment runs, generated datasets, smoke runs).

    Raises:
        FileExistsError: ``path`` is a non-empty folder or not a folder.
    """
    if osp.exists(path) and not osp.isdir(path):
        raise FileExistsError(f'{path} exists and is not a folder')
    if osp.isdir(path) and os.listdir(path):
        raise FileExistsError(f'{path} is not empty; it is not overwritten')
    return path


def write_new_file(path: str, write: Callable[[IO], None], binary: bool = False) -> None:
    """Create ``path`` with ``write(f)``; never overwrite.

    The content goes to a fresh temporary file in the same folder (``mkstemp``: a new random
    name, ``O_EXCL``, so a planted file or symlink is never written through) and is then
    hard-linked to ``path``, which fails if anything (a file, a folder, a symlink) is there.

    Raises:
        FileExistsError: ``path`` exists.
        OSError: the folder cannot be made or written (PermissionError where it is not
            writable); the message names it.
    """
    if osp.lexists(path):
        raise FileExistsError(f'{path} exists; it is not overwritten (choose another path)')
    folder = osp.dirname(osp.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    except OSError as e:
        error = PermissionError if isinstance(e, PermissionError) else OSError
        raise error(f'cannot write {path}: {e.strerror} ({e.filename or folder})') from None
    try:
        with os.fdopen(fd, 'wb' if binary else 'w') as f:
            write(f)
        try:
            os.link(tmp, path)  # atomic, and fails if path appeared meanwhile
        except FileExistsError:
            raise FileExistsError(
                f'{path} exists; it is not overwritten (choose another path)') from None
    finally:
        os.remove(tmp)
