"""The checkpoint tests' payload: an object whose unpickling by a plain unpickler runs
``touch <marker>`` (so a test sees whether a loader ran code a file carries), and the bytes and
files the tests build checkpoints from."""
import io
import os

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
