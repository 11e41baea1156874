"""Walking an mmengine config."""
from typing import Iterator


def iter_dicts(node) -> Iterator[dict]:
    """Every dict in a nested config (dicts, lists and tuples), parents before their children."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from iter_dicts(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from iter_dicts(value)
