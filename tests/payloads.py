"""The checkpoint tests' payload: an object whose unpickling by a plain unpickler runs
``touch <marker>`` (so a test sees whether a loader ran code a file carries), and the bytes and
files the tests build checkpoints from."""
import io
import os
import zipfile

import torch


class TouchPayload:

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def saved(obj, **kwargs) -> bytes:
    """The bytes ``torch.save(obj, **kwargs)`` writes."""
    buf = io.BytesIO()
    torch.save(obj, buf, **kwargs)
    return buf.getvalue()


def write(tmp_path, name: str, data: bytes) -> str:
    """``data`` written to ``tmp_path / name``; its path."""
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def zip_checkpoint(pkl: bytes, storage: bytes) -> bytes:
    """A zip checkpoint as ``torch.save`` lays it out, of a hand-written pickle ``pkl`` and one
    storage record ``data/0``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w') as zf:
        for name, content in (('data.pkl', pkl), ('byteorder', b'little'), ('data/0', storage),
                              ('version', b'3\n')):
            zf.writestr(f'archive/{name}', content)
    return out.getvalue()
