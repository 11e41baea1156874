"""Reading torch checkpoint files with an unpickler of our own that runs nothing a file carries.

The same code reads every file on every torch the project supports (2.1 and newer). It uses
neither ``torch.load`` nor torch's weights-only unpickler (``safe_globals`` needs torch >= 2.5
and changes a process-wide allow-list), so a file reaches only what is listed here, loading sets
nothing outside the objects it returns, and threads can load at once.

What it guarantees, for any file:

- Nothing the file names is called: each allowed global resolves to a handler
  (:mod:`.checkpoint_globals`) that checks its arguments and builds the object itself. BUILD
  applies only to an object the load made for it, once. Only the opcodes in :data:`_OPCODES`
  are read.
- The result holds only plain data: None, bool, int, float, complex, str, bytes, bytearray,
  list, tuple, dict, set, ``OrderedDict``, ``Counter``, tensors and ``nn.Parameter`` on
  storages of the file, ``torch.Size`` / ``torch.dtype`` / ``torch.device``, numeric numpy arrays,
  scalars and dtypes, mmengine's ``HistoryBuffer``, ``argparse.Namespace`` (made without calling
  the class) and mmengine's ``OneCycleParamScheduler`` annealing functions. Nesting is at most
  :data:`MAX_DEPTH` containers on any path of references, walked from any object of the result
  (a cycle counts all its members), so code that recurses over the result or any part of it
  (``copy.deepcopy``, ``repr``, ``pickle.dumps``) does not overflow Python's stack.
- Bounded work: tensor storages must lie in the file at their declared size (zip records
  stored, apart from one another and from the central directory; legacy records in full), so
  they cost at most the file's size in memory and one read each. Everything else (each opcode,
  memo entry, string, container item, numpy array, and each tensor at its own size: about 315
  bytes for the object and 16 a dimension, charged 384 + 16 a dimension) is charged to a budget,
  ``max_pickle_bytes`` (default 64 MiB, ``ISONET_CHECKPOINT_PICKLE_BUDGET_MB``), at what it costs
  on 64-bit CPython or more: a load raises the process's RSS beyond its storages by at most about
  1.5 times the budget (measured at most 1.05 times: 8 M shared references, 200k tensors of 64
  dimensions). A load runs at most ``max_pickle_bytes / 8`` opcodes, each of bounded cost
  (integers are at most 128 bits, dict keys and set members of a kind whose hash a file cannot
  make collide, no error text is built before a check fails), and is refused once the budget is
  spent.
- Every refusal is a :class:`CheckpointRefused` that says what was refused; a file that is not
  what ``torch.save`` writes (a damaged or crafted archive) is a :class:`MalformedCheckpoint`.

What it does not guarantee: that the values are sensible for the program that reads them (a
learning rate, a class name, a path kept in ``meta``); a bound on the zip central directory, which
Python's ``zipfile`` parses before any check here (about 0.5 KB of memory per record, outside the
budget: linear in the file's size, at most about seven times it, for records of one-letter
names); or anything about files loaded with ``torch.load`` after the user trusted them (see
:mod:`isonet_det.engine.checkpoint`, which also drops the config text mmengine would execute).

Formats: zip (``torch.save`` since PyTorch 1.6) and legacy (PyTorch < 1.6, the reference ImageNet
checkpoints, ``_use_new_zipfile_serialization=False``). TorchScript archives and the old tar
format are refused by name, any other file as "not a torch checkpoint".

What a file may name, and what each allowed global is checked for: :mod:`.checkpoint_globals`.
"""
import argparse
import collections
import io
import itertools
import os
import pickle
import struct
import tarfile
import zipfile
from typing import Callable, Dict, Optional

import _compat_pickle
import torch

from .checkpoint_globals import (_ELEMENT_SIZES, _MAX_INDEX, _OBJECT_COST, _REFERENCE_COST,
                                 ALLOWED_GLOBALS, CheckpointRefused, MalformedCheckpoint, _Budget,
                                 _check, _describe, _Handler, _hash_safe, _is_int, _malformed,
                                 _StatisticsMethod, _Storage, _StorageType, pickle_budget)

__all__ = [
    'CheckpointRefused', 'MalformedCheckpoint', 'read_checkpoint', 'ALLOWED_GLOBALS',
    'pickle_budget', 'MAX_DEPTH'
]

_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_LEGACY_PROTOCOL = 1001
_MAX_INT_BYTES = 16  # LONG1 / LONG4: at most 128-bit integers
MAX_DEPTH = 100  # containers inside containers
# Device types a storage is restored to without a map_location (torch.load's default restores
# to every registered backend; 'meta', 'lazy', 'xla', 'hpu', 'privateuseone'... are refused).
_RESTORED_DEVICES = ('cpu', 'cuda', 'mps', 'xpu')

# ------------------------------------------------------------------------------------------
# The unpickler: pickle's pure-Python one with a dispatch table of our own.

# structure, memo and framing; scalars and strings (binary opcodes only); containers
# (SETITEM(S) only into dicts, APPEND(S) only into lists, ADDITEMS only into sets); objects,
# each through a handler
_OPCODES = set("""
    PROTO STOP FRAME MARK POP POP_MARK DUP MEMOIZE BINGET LONG_BINGET BINPUT LONG_BINPUT
    NONE NEWTRUE NEWFALSE BININT BININT1 BININT2 LONG1 LONG4 BINFLOAT
    BINUNICODE SHORT_BINUNICODE BINUNICODE8 BINBYTES SHORT_BINBYTES BINBYTES8 BINSTRING
    SHORT_BINSTRING BYTEARRAY8
    EMPTY_LIST APPEND APPENDS EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_DICT SETITEM SETITEMS
    EMPTY_SET ADDITEMS
    GLOBAL STACK_GLOBAL REDUCE NEWOBJ BUILD BINPERSID
    """.split())
_SIZED = set("""
    BINUNICODE SHORT_BINUNICODE BINUNICODE8 BINBYTES SHORT_BINBYTES BINBYTES8 BINSTRING
    SHORT_BINSTRING BYTEARRAY8
    """.split())
_REFERENCES = {'PROTO', 'STOP', 'FRAME', 'POP', 'POP_MARK', 'DUP', 'BINGET', 'LONG_BINGET'}
_OPCODE_NAMES = {
    value[0]: name
    for name, value in vars(pickle).items()
    if name.isupper() and isinstance(value, bytes) and len(value) == 1 and name != 'HIGHEST'
}


def _shown(text: str) -> str:
    """Text from the file as a refusal prints it: quoted, escaped and cut to 80 characters."""
    return repr(text[:80]) + ('...' if len(text) > 80 else '')


class _Unpickler(pickle._Unpickler):
    """Reads one pickle from ``stream``; every object-making opcode goes through a handler."""

    def __init__(self, stream, persistent_load: Optional[Callable], budget: _Budget):
        super().__init__(stream, encoding='utf-8')
        self._persistent_load = persistent_load
        self.budget = budget
        self._unbuilt = {}  # id -> (object, handler): objects that may take one BUILD

    def made(self, obj, handler: _Handler):
        self._unbuilt[id(obj)] = (obj, handler)
        return obj

    def find_class(self, module, name):
        if self.proto < 3:  # protocol 2 writes Python 2 names (__builtin__.getattr)
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        handler = ALLOWED_GLOBALS.get((module, name))
        if handler is None:
            raise CheckpointRefused(f'the file names the global {_shown(module + "." + name)}')
        return handler.value()

    def _reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        _check(isinstance(func, _Handler), 'REDUCE calls {}', func)
        _check(type(args) is tuple, 'REDUCE arguments must be a tuple')
        self.stack[-1] = func.call(self, args)

    def _newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        _check(isinstance(cls, _Handler), 'NEWOBJ makes {}', cls)
        _check(type(args) is tuple, 'NEWOBJ arguments must be a tuple')
        self.append(cls.new(self, args))

    def _build(self):
        state = self.stack.pop()
        obj = self.stack[-1]
        entry = self._unbuilt.pop(id(obj), None)
        _check(entry is not None and entry[0] is obj,
               'BUILD on {}: only objects this load made take a state, once', obj)
        entry[1].build(self, obj, state)

    def _binpersid(self):
        _check(self._persistent_load is not None, 'a persistent id outside the main pickle')
        self.append(self._persistent_load(self.stack.pop()))

    def _long(self, nbytes: int):
        _check(0 <= nbytes <= _MAX_INT_BYTES, 'an integer of {} bytes (at most {})', nbytes,
               _MAX_INT_BYTES)
        data = self.read(nbytes)
        _check(len(data) == nbytes, 'the file ends inside an integer')
        self.append(int.from_bytes(data, 'little', signed=True))

    def _bytearray8(self):
        """Protocol 5's bytearray, read before it is made (pickle's own makes one of the size the
        file states first)."""
        nbytes = struct.unpack('<Q', self.read(8))[0]
        data = self.read(nbytes)
        _check(len(data) == nbytes, 'the file ends inside a bytearray')
        self.append(bytearray(data))

    def _long1(self):
        self._long(self.read(1)[0])

    def _long4(self):
        self._long(struct.unpack('<i', self.read(4))[0])

    def _into(self, kind: type, what: str):
        target = self.stack[-1] if self.stack else None
        _check(type(target) in kind, '{} into {}', what, target)
        return target

    def _setitems(self, items: list, what: str):
        target = self._into((dict, collections.OrderedDict), what)
        _check(len(items) % 2 == 0, '{} with a key and no value', what)
        self.budget.charge(_OBJECT_COST * (len(items) // 2))
        for i in range(0, len(items), 2):
            _check(
                _hash_safe(items[i]), 'a dict key {} of a kind whose hash a file can make '
                'collide (see the reader docstring)', items[i])
            target[items[i]] = items[i + 1]

    def _setitem(self):
        value, key = self.stack.pop(), self.stack.pop()
        self._setitems([key, value], 'SETITEM')

    def _setitems_mark(self):
        self._setitems(self.pop_mark(), 'SETITEMS')

    def _append(self):
        item = self.stack.pop()
        self._into((list, ), 'APPEND').append(item)

    def _appends(self):
        items = self.pop_mark()
        self.budget.charge(_REFERENCE_COST * len(items))
        self._into((list, ), 'APPENDS').extend(items)

    def _additems(self):
        items = self.pop_mark()
        target = self._into((set, ), 'ADDITEMS')
        self.budget.charge(_OBJECT_COST * len(items))
        for item in items:
            _check(
                _hash_safe(item), 'a set member {} of a kind whose hash a file can make '
                'collide (see the reader docstring)', item)
            target.add(item)


_OWN_OPCODES = {
    'REDUCE': _Unpickler._reduce,
    'NEWOBJ': _Unpickler._newobj,
    'BUILD': _Unpickler._build,
    'BINPERSID': _Unpickler._binpersid,
    'BYTEARRAY8': _Unpickler._bytearray8,
    'LONG1': _Unpickler._long1,
    'LONG4': _Unpickler._long4,
    'SETITEM': _Unpickler._setitem,
    'SETITEMS': _Unpickler._setitems_mark,
    'APPEND': _Unpickler._append,
    'APPENDS': _Unpickler._appends,
    'ADDITEMS': _Unpickler._additems,
}


def _charged(name: str, func: Callable) -> Callable:
    """``func`` with what the opcode costs charged to the load's budget."""
    if name in _SIZED:

        def op(self):
            func(self)
            self.budget.charge(_OBJECT_COST + len(self.stack[-1]))
    else:
        cost = _REFERENCE_COST if name in _REFERENCES else _OBJECT_COST

        def op(self):
            self.budget.charge(cost)
            func(self)

    return op


def _refused_opcode(name: str) -> Callable:

    def op(self):
        raise CheckpointRefused(f'the file uses the pickle opcode {name}, which no checkpoint '
                                'this reader loads contains')

    return op


def _make_dispatch() -> dict:
    dispatch = {}
    for code in range(256):
        name = _OPCODE_NAMES.get(code)
        if name in _OPCODES:
            func = _OWN_OPCODES.get(name, pickle._Unpickler.dispatch[code])
            dispatch[code] = _charged(name, func)
        else:
            dispatch[code] = _refused_opcode(name or f'0x{code:02x}')
    return dispatch


_Unpickler.dispatch = _make_dispatch()
# Exceptions pickle's own opcode code raises on malformed data.
_PICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
                  AttributeError, struct.error, MemoryError, OverflowError)


def _unpickle(stream, persistent_load: Optional[Callable], budget: _Budget):
    """One pickle from ``stream``, refused with the reason on anything outside the rules."""
    try:
        result = _Unpickler(stream, persistent_load, budget).load()
    except CheckpointRefused:
        raise
    except _PICKLE_ERRORS as e:
        raise CheckpointRefused(
            f'malformed pickle data ({type(e).__name__}: {str(e)[:200]})') from None
    _check_result(result)
    return result


# ------------------------------------------------------------------------------------------
# What a load returns.

_BARE = (_Handler, _StatisticsMethod, _Storage)
_CONTAINERS = (list, tuple, set, dict, collections.OrderedDict, collections.Counter,
               argparse.Namespace)


def _children(obj):
    kind = type(obj)
    if kind is argparse.Namespace:
        return iter(vars(obj).values())
    if kind in (list, tuple, set):
        return iter(obj)
    extra = vars(obj).values() if kind is collections.OrderedDict else ()
    return itertools.chain(obj.keys(), obj.values(), extra)


def _check_result(root):
    """Refuse a result that holds an object of this module (a handler the file named but did
    not call) or whose containers nest more than :data:`MAX_DEPTH` deep (:func:`_height`)."""
    _check(not isinstance(root, _BARE), 'the file holds a bare {}', root)
    if type(root) in _CONTAINERS:
        _check(_height(root) <= MAX_DEPTH, 'containers nested more than {} deep', MAX_DEPTH)


def _contained(obj):
    """The containers among ``obj``'s children; any other child is checked not to be bare."""
    for child in _children(obj):
        if type(child) in _CONTAINERS:
            yield child
        else:
            _check(not isinstance(child, _BARE), 'the file holds a bare {}', child)


def _height(root) -> int:
    """The most containers on any path of references from ``root``, walked from whichever
    object: each strongly connected group of containers (a cycle and what shares it) counts all
    its members, so the bound holds for a walk that starts inside a cycle or at an object shared
    from a shallow place. Tarjan's algorithm without recursion, each container and reference
    once; stops as soon as a group exceeds :data:`MAX_DEPTH`."""
    index: Dict[int, int] = {}  # id -> visit order
    low: Dict[int, int] = {}  # id -> lowest visit order reachable while on the stack
    below: Dict[int, int] = {}  # id -> height of the deepest finished group it references
    heights: Dict[int, int] = {}  # id -> height of its group, once the group is finished
    stack, on_stack = [], set()
    path = [(root, _contained(root))]
    index[id(root)] = low[id(root)] = below[id(root)] = 0
    stack.append(root)
    on_stack.add(id(root))
    while path:
        obj, children = path[-1]
        for child in children:
            key = id(child)
            if key not in index:
                index[key] = low[key] = len(index)
                below[key] = 0
                stack.append(child)
                on_stack.add(key)
                path.append((child, _contained(child)))
                break
            if key in on_stack:
                low[id(obj)] = min(low[id(obj)], index[key])
            else:
                below[id(obj)] = max(below[id(obj)], heights[key])
        else:
            path.pop()
            if low[id(obj)] == index[id(obj)]:
                _finish_group(obj, stack, on_stack, below, heights)
            if path:
                parent = id(path[-1][0])
                low[parent] = min(low[parent], low[id(obj)])
                below[parent] = max(below[parent], heights.get(id(obj), below[id(obj)]))
    return heights[id(root)]


def _finish_group(head, stack: list, on_stack: set, below: dict, heights: dict):
    """Pop the strongly connected group that ``head`` roots; record its height."""
    members = []
    while True:
        member = stack.pop()
        on_stack.discard(id(member))
        members.append(id(member))
        if member is head:
            break
    height = len(members) + max(below[m] for m in members)
    _check(height <= MAX_DEPTH, 'containers nested more than {} deep', MAX_DEPTH)
    for m in members:
        heights[m] = height


# ------------------------------------------------------------------------------------------
# Storages and devices.


def _restore_location(map_location) -> Callable:
    """``torch.load``'s ``map_location``: None (where it was saved), a device string or
    ``torch.device``, a dict from saved to new location, or ``f(storage, location)``."""

    def default(storage, location: str):
        if location == 'cpu':
            return storage
        try:
            device = torch.device(location)
        except RuntimeError:
            raise CheckpointRefused(f'a storage saved on {_describe(location)}, which is not a '
                                    'device') from None
        _check(
            device.type in _RESTORED_DEVICES, "a storage saved on {}, which this reader does "
            "not restore (only on {}): load it with map_location='cpu'", location,
            _RESTORED_DEVICES)
        if device.type == 'cuda' and not torch.cuda.is_available():
            raise RuntimeError(f'the checkpoint holds tensors saved on {location} and CUDA is not '
                               "available here: load it with map_location='cpu'")
        try:
            return storage.to(device=device)
        except (RuntimeError, AssertionError) as e:  # AssertionError: a backend not loaded
            raise CheckpointRefused(f'a storage saved on {_describe(location)} ({str(e)[:200]}): '
                                    "load it with map_location='cpu'") from None

    if map_location is None:
        return default
    if isinstance(map_location, dict):
        return lambda storage, location: default(storage, map_location.get(location, location))
    if isinstance(map_location, (str, torch.device)):
        return lambda storage, location: default(storage, str(map_location))
    if callable(map_location):

        def call(storage, location):
            result = map_location(storage, location)
            return default(storage, location) if result is None else result

        return call
    raise TypeError('map_location must be None, a str, a torch.device, a dict or a callable, '
                    f'not {type(map_location).__name__}')


def _restored(untyped: torch.UntypedStorage, location: str, restore: Callable):
    untyped = restore(untyped, location)
    if isinstance(untyped, torch.TypedStorage):  # a map_location that returns typed storages
        untyped = untyped.untyped()
    _check(isinstance(untyped, torch.UntypedStorage), 'map_location did not return a storage')
    return untyped


def _storage_id(pid, fields: int) -> tuple:
    _check(
        type(pid) is tuple and len(pid) == fields and pid[0] == 'storage'
        and type(pid[1]) is _StorageType and type(pid[2]) is str and len(pid[2]) <= 64
        and type(pid[3]) is str and len(pid[3]) <= 64 and _is_int(pid[4])
        and 0 <= pid[4] <= _MAX_INDEX, 'persistent id {} is not a storage', pid)
    return pid


def _read_into(stream, buffer: torch.Tensor, what: str):
    """Fill the uint8 tensor ``buffer`` from ``stream``."""
    got = stream.readinto(buffer.numpy()) if buffer.numel() else 0
    _malformed(got == buffer.numel(), '{} is truncated ({} of {} bytes)', what, got, buffer.numel())


class _Bounded:
    """``stream`` as the unpickler reads it, never asked for more than ``end - tell()`` bytes
    (a length in the file cannot make a read allocate more than the file holds)."""

    def __init__(self, stream, end: int):
        self.stream, self.end = stream, end

    def tell(self) -> int:
        return self.stream.tell()

    def read(self, n: int = -1) -> bytes:
        left = max(0, self.end - self.stream.tell())
        return self.stream.read(left if n is None or n < 0 else min(n, left))

    def readline(self) -> bytes:
        return self.stream.readline(max(0, self.end - self.stream.tell()))

    def readinto(self, buffer) -> int:
        return self.stream.readinto(buffer)


# ------------------------------------------------------------------------------------------
# Formats.


class _ZipRecords:
    """The records of a zip archive, each where its local header says, stored (never
    compressed), inside the file before the central directory, apart from every other record
    and named once."""

    def __init__(self, zf: zipfile.ZipFile, stream, size: int):
        names = [info.filename for info in zf.infolist()]
        _malformed(len(set(names)) == len(names), 'a zip archive with a record named twice')
        self.stream, self.spans = stream, {}
        ends = []
        for info in zf.infolist():
            _malformed(
                info.compress_type == zipfile.ZIP_STORED and info.compress_size == info.file_size,
                'record {} is compressed; torch.save never compresses', info.filename)
            start = self._data_start(info, size)
            self.spans[info.filename] = (start, info.file_size)
            ends.append((info.header_offset, start + info.file_size, info.filename))
        ends.sort()
        for (_, end, name), (begin, _, after) in zip(ends, ends[1:]):
            _malformed(end <= begin, 'zip records {} and {} overlap', name, after)
        _malformed(not ends or ends[-1][1] <= min(zf.start_dir, size),
                   'a zip record reaches into the central directory')

    def _data_start(self, info: zipfile.ZipInfo, size: int) -> int:
        _malformed(0 <= info.header_offset < size, 'record {} starts outside the file',
                   info.filename)
        self.stream.seek(info.header_offset)
        head = self.stream.read(30)
        _malformed(
            len(head) == 30 and head[:4] == b'PK\x03\x04', 'record {} has no local header',
            info.filename)
        name_len, extra_len = struct.unpack('<HH', head[26:30])
        encoding = 'utf-8' if info.flag_bits & 0x800 else 'cp437'
        name = self.stream.read(name_len).decode(encoding, 'replace')
        _malformed(name == info.orig_filename, 'record {} is named {} in its local header',
                   info.filename, name)
        return info.header_offset + 30 + name_len + extra_len

    def names(self) -> list:
        return list(self.spans)

    def size(self, name: str) -> int:
        return self.spans[name][1]

    def read(self, name: str, budget: _Budget) -> bytes:
        budget.charge(self.size(name))
        self.stream.seek(self.spans[name][0])
        data = self.stream.read(self.size(name))  # inside the file: checked above
        _malformed(len(data) == self.size(name), 'record {} is truncated', name)
        return data

    def read_into(self, name: str, buffer: torch.Tensor):
        self.stream.seek(self.spans[name][0])
        _read_into(self.stream, buffer, f'record {name}')


def _check_zip_layout(zf: zipfile.ZipFile, stream):
    """Refuse a zip that other readers may see otherwise: torch decides by the first bytes
    (a local header) and reads the central directory at the offset its end record states, where
    Python's ``zipfile`` would move every offset by the bytes found before the archive."""
    stream.seek(0)
    _malformed(
        stream.read(4) == b'PK\x03\x04', 'a zip archive that does not start with a local '
        'header (other readers would read what comes before it)')
    end = zipfile._EndRecData(stream)  # as ZipFile read it: the zip64 record's values if any
    _malformed(end is not None and end[zipfile._ECD_OFFSET] == zf.start_dir,
               'a zip archive whose central directory is not where its end record says')


def _zip_records(stream, size: int) -> _ZipRecords:
    zf = zipfile.ZipFile(stream)  # reads the central directory only
    _check_zip_layout(zf, stream)
    if any(n.endswith('constants.pkl') or '/code/' in n for n in zf.namelist()):
        raise CheckpointRefused(
            'it is a TorchScript archive (torch.jit.save), not a checkpoint: loading it would '
            'compile and run the code it carries. Export a state dict with torch.save, or load it '
            'yourself with torch.jit.load if you trust it')
    return _ZipRecords(zf, stream, size)


def _zip_prefix(records: _ZipRecords, budget: _Budget) -> str:
    """``<name>/`` of the archive's one ``<name>/data.pkl``, every record under it."""
    names = records.names()
    pickles = [n for n in names if n.endswith('/data.pkl') and n.count('/') == 1]
    _malformed(len(pickles) == 1, 'a zip file without one <name>/data.pkl record')
    prefix = pickles[0][:-len('data.pkl')]
    for name in names:
        _malformed(name.startswith(prefix), 'record {} outside {}', name, prefix)
    if prefix + 'byteorder' in names:
        order = records.read(prefix + 'byteorder', budget)
        _check(order == b'little', 'the file was written on a {}-endian machine', order)
    return prefix


def _zip_storages(records: _ZipRecords, prefix: str, restore: Callable) -> Callable:
    """The persistent-id loader of a zip archive: each storage read once, from a record of
    exactly its declared size, into its own memory."""
    storages: Dict[str, _Storage] = {}

    def persistent_load(pid):
        _, kind, key, location, numel = _storage_id(pid, 5)
        if key in storages:
            _check(storages[key].dtype == kind.dtype, 'storage {} is read with two dtypes', key)
            return storages[key]
        name = f'{prefix}data/{key}'
        _malformed(name in records.spans, 'the storage record data/{} is missing', key)
        nbytes = numel * _ELEMENT_SIZES[kind.dtype]
        _malformed(
            records.size(name) == nbytes, 'storage {} declares {} bytes, the file holds {}', key,
            nbytes, records.size(name))
        buffer = torch.empty(nbytes, dtype=torch.uint8)
        records.read_into(name, buffer)
        storages[key] = _Storage(_restored(buffer.untyped_storage(), location, restore), kind.dtype)
        return storages[key]

    return persistent_load


def _read_zip(records: _ZipRecords, restore: Callable, budget: _Budget):
    prefix = _zip_prefix(records, budget)
    data = records.read(prefix + 'data.pkl', budget)
    return _unpickle(io.BytesIO(data), _zip_storages(records, prefix, restore), budget)


class _LegacyStorages:
    """The storages of a legacy file: each made (empty) when the object names it, only while all
    declared so far fit in the rest of the file, then filled in the order of the key list."""

    def __init__(self, stream: '_Bounded', size: int, restore: Callable):
        self.stream, self.size, self.restore = stream, size, restore
        self.storages: Dict[str, tuple] = {}  # key -> (_Storage, CPU buffer, element count)
        self.declared = 0

    def declare(self, pid) -> _Storage:
        _, kind, key, location, numel, view = _storage_id(pid, 6)
        _check(view is None, 'legacy storage views are not supported')
        if key in self.storages:
            storage, _, count = self.storages[key]
            _check(storage.dtype == kind.dtype and count == numel, 'storage {} declared twice', key)
            return storage
        nbytes = numel * _ELEMENT_SIZES[kind.dtype]
        self.declared += nbytes + 8
        _malformed(self.declared <= self.size - self.stream.tell(),
                   'the storages declared are larger than the file')
        buffer = torch.empty(nbytes, dtype=torch.uint8)
        storage = _Storage(_restored(buffer.untyped_storage(), location, self.restore), kind.dtype)
        self.storages[key] = (storage, buffer, numel)
        return storage

    def fill(self, keys):
        _check(
            type(keys) is list and all(type(k) is str for k in keys)
            and len(keys) == len(self.storages) and set(keys) == set(self.storages),
            'the legacy storage list does not match the storages its tensors use')
        for key in keys:
            storage, buffer, numel = self.storages[key]
            head = self.stream.read(8)
            _malformed(
                len(head) == 8 and struct.unpack('<q', head)[0] == numel,
                'storage {}: the element count in the file differs from its declaration', key)
            _read_into(self.stream, buffer, f'storage {key}')
            if storage.untyped.data_ptr() != buffer.data_ptr():  # map_location moved it
                storage.untyped.copy_(buffer.untyped_storage())


def _read_legacy(stream, size: int, restore: Callable, budget: _Budget):
    """PyTorch < 1.6: magic number, protocol, sys info, the object, the storage keys (five
    pickles), then each storage as an int64 element count and its bytes; one pass."""
    bounded = _Bounded(stream, size)
    magic = _unpickle(bounded, None, budget)
    _malformed(
        _is_int(magic) and magic == _LEGACY_MAGIC, 'not a torch checkpoint (neither a zip '
        'archive nor a legacy file: no magic number)')
    protocol = _unpickle(bounded, None, budget)
    _malformed(_is_int(protocol) and protocol == _LEGACY_PROTOCOL, 'unknown legacy protocol')
    info = _unpickle(bounded, None, budget)
    _check(
        type(info) is dict and info.get('little_endian') is True,
        'the legacy file was not written on a little-endian machine')
    storages = _LegacyStorages(bounded, size, restore)
    result = _unpickle(bounded, storages.declare, budget)
    storages.fill(_unpickle(bounded, None, budget))
    return result


def _is_tar(stream) -> bool:
    try:
        with tarfile.open(fileobj=stream, mode='r:'):
            return True
    except tarfile.TarError:
        return False
    except RecursionError:  # tarfile reads chained long-name headers recursively
        raise MalformedCheckpoint('a tar archive of chained long-name headers') from None


def _is_zip(stream) -> bool:
    """As torch decides: by a local header at the start; a file that holds a zip archive
    elsewhere is refused as malformed (Python's ``zipfile`` would read it, torch would not)."""
    stream.seek(0)
    if stream.read(4) == b'PK\x03\x04':
        return True
    try:
        zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, struct.error,
            ValueError, OverflowError, OSError):
        return False
    raise MalformedCheckpoint('a zip archive after other content (torch reads such a file from '
                              'its first bytes, as another format)')


def _read_stream(stream, size: int, restore: Callable, budget: _Budget):
    try:
        records = _zip_records(stream, size) if _is_zip(stream) else None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, struct.error,
            ValueError, OverflowError, OSError) as e:  # OSError: Python 3.8's seek before 0
        raise MalformedCheckpoint(f'a damaged zip archive ({str(e)[:200]})') from None
    if records is not None:
        return _read_zip(records, restore, budget)
    stream.seek(0)
    if _is_tar(stream):
        raise CheckpointRefused(
            'it is a tar archive (the format of PyTorch before 0.4), which this reader does not '
            'load: re-save it with a current torch.save if you trust it')
    stream.seek(0)
    return _read_legacy(stream, size, restore, budget)


def read_checkpoint(source, map_location=None, max_pickle_bytes: Optional[int] = None):
    """Read a torch checkpoint (zip or legacy format) without running anything it carries.

    Args:
        source: a file path, or the file's bytes.
        map_location: as in :func:`torch.load`; without one, a storage is restored to the device
            it was saved on only for CPU, CUDA, MPS and XPU (any other is refused: load it with
            ``map_location='cpu'``).
        max_pickle_bytes: the budget for all but tensor storages (module docstring).

    Raises:
        FileNotFoundError: no such file.
        CheckpointRefused: the file names a global outside :data:`ALLOWED_GLOBALS`, fails one of
            the checks, or is a TorchScript or tar-format archive; the message says what.
            :class:`MalformedCheckpoint` (a subclass): it is not what torch.save writes.
    """
    budget = _Budget(pickle_budget() if max_pickle_bytes is None else max_pickle_bytes)
    restore = _restore_location(map_location)
    if isinstance(source, (bytes, bytearray)):
        return _read_stream(io.BytesIO(bytes(source)), len(source), restore, budget)
    with open(source, 'rb') as f:
        return _read_stream(f, os.fstat(f.fileno()).st_size, restore, budget)
