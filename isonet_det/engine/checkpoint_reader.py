"""Reading torch checkpoint files with an unpickler of our own that runs nothing a file carries.

The same code reads every file on every torch the project supports (2.1 and newer). It uses
neither ``torch.load`` nor torch's weights-only unpickler (``safe_globals`` needs torch >= 2.5
and changes a process-wide allow-list), so a file reaches only what is listed here, loading sets
nothing outside the objects it returns, and threads can load at once.

Formats: zip (``torch.save`` since PyTorch 1.6) and legacy (PyTorch < 1.6, the reference ImageNet
checkpoints, ``_use_new_zipfile_serialization=False``). TorchScript archives and the old tar
format are refused by name, any other file as "not a torch checkpoint".

What a file may name (:data:`ALLOWED_GLOBALS`), each needed by a real checkpoint:

=========================================  ===================================================
global                                     who writes it; what is accepted
=========================================  ===================================================
``collections.OrderedDict``                state dicts: made empty, its only state the
                                           ``_metadata`` dict of ``nn.Module.state_dict()``
``collections.Counter``                    mmengine's ``MultiStepLR`` milestones: a dict of ints
``torch._utils._rebuild_tensor_v2``        every tensor: a storage of this file, offset, sizes
                                           and strides inside it, no hooks
``torch._utils._rebuild_parameter``        an ``nn.Parameter`` saved as such, no hooks
``torch.<T>Storage``                       storage types, inside persistent ids only
``mmengine...HistoryBuffer``               the message hub's logs: built from a checked state,
                                           not through its ``__setstate__`` (which writes the
                                           class-level statistics table)
``builtins.getattr``                       ``getattr(HistoryBuffer, m)`` for its four
                                           statistics methods only (how it pickles them)
``numpy.dtype``                            plain numeric dtypes (bool, int, float, complex) with
                                           exactly the state numpy writes for them
``numpy.(_)core.multiarray._reconstruct``  numeric arrays whose bytes are all in the file
and ``numpy.ndarray``
``numpy.(_)core.multiarray.scalar``        numeric scalars
``_codecs.encode``                         ``encode(str, 'latin1')``: bytes in pickle protocol 2
=========================================  ===================================================

No object is made by calling what the file names: each global resolves to a handler of ours
that checks its arguments and builds the object itself; BUILD applies only to an object the load
made for it, once; only the opcodes in :data:`_OPCODES` are read.

Memory: every tensor storage must be in the file at its declared size (zip records stored
uncompressed; legacy records read in full), and everything else a load builds (strings,
containers, numpy arrays, the objects each opcode makes) is charged to a budget,
``max_pickle_bytes`` (default 64 MiB, ``ISONET_CHECKPOINT_PICKLE_BUDGET_MB``): past it the load is
refused.
"""
import codecs
import collections
import io
import math
import os
import pickle
import struct
import tarfile
import zipfile
from typing import Callable, Dict, Optional, Tuple

import _compat_pickle
import numpy as np
import torch

__all__ = ['CheckpointRefused', 'read_checkpoint', 'ALLOWED_GLOBALS', 'pickle_budget']

_MIB = 2**20
_LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
_LEGACY_PROTOCOL = 1001
_STATISTICS_METHODS = ('min', 'max', 'current', 'mean')
_NUMERIC_KINDS = 'biufc'  # bool, signed, unsigned, float, complex
_MAX_DIMS = 64
# What one object an opcode makes is charged (a generous bound for 64-bit CPython's small
# containers, ints and floats, and the reference that holds it).
_OBJECT_COST = 128
_REFERENCE_COST = 8

_STORAGE_DTYPES = {
    'DoubleStorage': torch.float64,
    'FloatStorage': torch.float32,
    'HalfStorage': torch.float16,
    'BFloat16Storage': torch.bfloat16,
    'LongStorage': torch.int64,
    'IntStorage': torch.int32,
    'ShortStorage': torch.int16,
    'CharStorage': torch.int8,
    'ByteStorage': torch.uint8,
    'BoolStorage': torch.bool,
    'ComplexDoubleStorage': torch.complex128,
    'ComplexFloatStorage': torch.complex64,
}


class CheckpointRefused(pickle.UnpicklingError):
    """The file asks for something this reader does not build; the message says what."""


def pickle_budget() -> int:
    """Bytes a load may spend beyond the tensor storages the file carries."""
    return int(float(os.environ.get('ISONET_CHECKPOINT_PICKLE_BUDGET_MB', 64)) * _MIB)


def _check(condition: bool, what: str):
    if not condition:
        raise CheckpointRefused(what)


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + '...'


def _is_int(x) -> bool:
    return type(x) is int


def _int_tuple(x, what: str) -> tuple:
    _check(
        type(x) in (tuple, torch.Size) and len(x) <= _MAX_DIMS
        and all(_is_int(v) and v >= 0 for v in x), f'{what} must be a tuple of non-negative ints')
    return tuple(x)


def _element_size(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def _no_hooks(hooks) -> bool:
    return type(hooks) in (collections.OrderedDict, dict) and not hooks


class _Budget:

    def __init__(self, nbytes: int):
        self.limit = self.left = nbytes

    def charge(self, nbytes: int):
        self.left -= nbytes
        if self.left < 0:
            raise CheckpointRefused(
                f'the file asks for more memory than the budget of {self.limit // _MIB} MiB '
                'beyond its tensor storages (ISONET_CHECKPOINT_PICKLE_BUDGET_MB raises it)')


# ------------------------------------------------------------------------------------------
# What a global name in the file resolves to.


class _Handler:
    """A global the file may name: ``call`` serves REDUCE, ``new`` NEWOBJ, ``build`` the BUILD
    of an object this handler made."""
    name = ''

    def call(self, load: '_RestrictedUnpickler', args: tuple):
        raise CheckpointRefused(f'{self.name} cannot be called')

    def new(self, load: '_RestrictedUnpickler', args: tuple):
        raise CheckpointRefused(f'{self.name} cannot be instantiated')

    def build(self, load: '_RestrictedUnpickler', obj, state):
        raise CheckpointRefused(f'{self.name} objects take no state')

    def __repr__(self):
        return self.name


class _OrderedDict(_Handler):
    name = 'collections.OrderedDict'

    def call(self, load, args):
        _check(args == (), 'OrderedDict is only made empty (its items follow)')
        return load.made(collections.OrderedDict(), self)

    def build(self, load, obj, state):
        _check(
            type(state) is dict and set(state) <= {'_metadata'}
            and all(isinstance(v, dict) for v in state.values()),
            f'OrderedDict state {_describe(state)}: only a _metadata dict')
        obj.__dict__.update(state)


class _Counter(_Handler):
    name = 'collections.Counter'

    def call(self, load, args):
        _check(
            len(args) == 1 and type(args[0]) is dict
            and all(_is_int(k) and _is_int(v) for k, v in args[0].items()),
            f'Counter{_describe(args)}: only from one dict of ints')
        return collections.Counter(args[0])


class _StorageType(_Handler):

    def __init__(self, name: str, dtype: torch.dtype):
        self.name, self.dtype = f'torch.{name}', dtype


class _Storage:
    """A storage of the file, on its device, with the dtype its tensors read it as; ``untyped``
    is None while only its size is known (the first pass over a legacy file)."""
    __slots__ = ('untyped', 'dtype', 'numel')

    def __init__(self, untyped: Optional[torch.UntypedStorage], dtype: torch.dtype, numel=None):
        self.untyped, self.dtype = untyped, dtype
        self.numel = untyped.nbytes() // _element_size(dtype) if numel is None else numel


class _RebuildTensor(_Handler):
    name = 'torch._utils._rebuild_tensor_v2'

    def call(self, load, args):
        _check(6 <= len(args) <= 7, f'{self.name} takes 6 or 7 arguments, not {len(args)}')
        storage, offset, size, stride, requires_grad, hooks = args[:6]
        _check(isinstance(storage, _Storage), 'a tensor must use a storage of this file')
        _check(_is_int(offset) and offset >= 0, 'a storage offset must be a non-negative int')
        size, stride = _int_tuple(size, 'size'), _int_tuple(stride, 'stride')
        _check(len(size) == len(stride), 'size and stride differ in length')
        _check(type(requires_grad) is bool, 'requires_grad must be a bool')
        _check(_no_hooks(hooks), 'tensors with backward hooks are not loaded')
        _check(len(args) == 6 or args[6] in (None, {}), 'tensor metadata is not loaded')
        if all(size):
            last = offset + sum((n - 1) * s for n, s in zip(size, stride))
            _check(
                last < storage.numel, f'a tensor of size {size} at offset {offset} reaches '
                f'past its storage of {storage.numel} elements')
        if storage.untyped is None:
            return torch.empty((0, ), dtype=storage.dtype)
        tensor = torch.empty((0, ), dtype=storage.dtype, device=storage.untyped.device)
        tensor.set_(storage.untyped, offset, size, stride)
        if requires_grad:
            _check(tensor.is_floating_point() or tensor.is_complex(),
                   'requires_grad on an integer tensor')
            tensor.requires_grad_(True)
        return tensor


class _RebuildParameter(_Handler):
    name = 'torch._utils._rebuild_parameter'

    def call(self, load, args):
        _check(len(args) == 3, f'{self.name} takes 3 arguments, not {len(args)}')
        data, requires_grad, hooks = args
        _check(
            type(data) is torch.Tensor and type(requires_grad) is bool and _no_hooks(hooks),
            f'{self.name}: a tensor, a bool and no hooks')
        return torch.nn.Parameter(data, requires_grad)


class _StatisticsMethod:
    """``getattr(HistoryBuffer, name)`` as the file says it: the name, never the function."""
    __slots__ = ('name', )

    def __init__(self, name: str):
        self.name = name


class _HistoryBuffer(_Handler):
    name = 'mmengine.logging.history_buffer.HistoryBuffer'
    _KEYS = ('max_length', '_log_history', '_count_history')

    def new(self, load, args):
        from mmengine.logging.history_buffer import HistoryBuffer
        _check(args == (), 'HistoryBuffer is made without arguments')
        return load.made(HistoryBuffer.__new__(HistoryBuffer), self)

    def build(self, load, obj, state):
        _check(
            type(state) is dict
            and set(self._KEYS) <= set(state) <= set(self._KEYS) | {'statistics_methods'},
            f'HistoryBuffer state {_describe(state)}')
        _check(_is_int(state['max_length']) and state['max_length'] > 0, 'max_length')
        for key in ('_log_history', '_count_history'):
            value = state[key]
            _check(
                type(value) is np.ndarray and value.ndim == 1 and value.dtype.kind in 'biuf',
                f'HistoryBuffer {key} must be a 1-d numeric array')
        methods = state.get('statistics_methods', {})
        _check(
            type(methods) is dict
            and all(type(v) is _StatisticsMethod and k == v.name for k, v in methods.items()),
            'HistoryBuffer statistics_methods may only name its own four methods')
        # The instance's attributes only. The class-level table gets its four genuine defaults
        # if absent, as HistoryBuffer() does, and nothing from the file.
        obj.__dict__.update({key: state[key] for key in self._KEYS})
        type(obj)._set_default_statistics(obj)


class _Getattr(_Handler):
    name = 'builtins.getattr'

    def call(self, load, args):
        _check(
            len(args) == 2 and type(args[0]) is _HistoryBuffer and args[1] in _STATISTICS_METHODS,
            f'getattr{_describe(args)}: only getattr('
            f'HistoryBuffer, m) for its statistics methods {_STATISTICS_METHODS}')
        return _StatisticsMethod(args[1])


def _numeric_dtype(value, what: str) -> np.dtype:
    _check(
        isinstance(value, np.dtype) and value.kind in _NUMERIC_KINDS,
        f'{what} must be a numeric numpy dtype, not {_describe(value)}')
    return value


class _Dtype(_Handler):
    name = 'numpy.dtype'

    def call(self, load, args):
        _check(
            len(args) == 3 and type(args[0]) is str and len(args[0]) <= 4
            and args[1:] == (False, True), f'numpy.dtype{_describe(args)}: only plain numeric '
            'dtypes as numpy pickles them')
        try:
            dtype = np.dtype(args[0], False, True)  # a copy: BUILD never touches numpy's own
        except TypeError as e:
            raise CheckpointRefused(f'numpy.dtype({args[0]!r}): {e}') from None
        _check(
            dtype.kind in _NUMERIC_KINDS and dtype.fields is None and dtype.subdtype is None,
            f'numpy.dtype({args[0]!r}) is not a plain numeric dtype (object, string, '
            'structured and datetime dtypes are refused)')
        return load.made(dtype, self)

    def build(self, load, obj, state):
        _check(
            type(state) is tuple and len(state) == 8 and state[1] in ('<', '>', '|', '='),
            f'dtype state {_describe(state)} is not what numpy writes')
        _check(state == obj.newbyteorder(state[1]).__reduce__()[2],
               f'dtype state {_describe(state)} is not what numpy writes for {obj}')
        obj.__setstate__(state)


class _Ndarray(_Handler):
    name = 'numpy.ndarray'


class _Reconstruct(_Handler):
    name = 'numpy.core.multiarray._reconstruct'

    def call(self, load, args):
        _check(
            len(args) == 3 and type(args[0]) is _Ndarray and args[1] == (0, ) and args[2] == b'b',
            f'_reconstruct{_describe(args)}: only numpy arrays')
        return load.made(np.ndarray((0, ), 'b'), self)

    def build(self, load, obj, state):
        _check(
            type(state) is tuple and len(state) == 5 and state[0] == 1,
            f'array state {_describe(state)} is not what numpy writes')
        _, shape, dtype, fortran, raw = state
        shape = _int_tuple(shape, 'an array shape')
        dtype = _numeric_dtype(dtype, 'an array dtype')
        _check(type(fortran) is bool and type(raw) is bytes, 'array order and bytes')
        nbytes = math.prod(shape) * dtype.itemsize
        _check(
            len(raw) == nbytes,
            f'an array of shape {shape} and dtype {dtype} needs {nbytes} bytes, not {len(raw)}')
        load.budget.charge(nbytes)
        obj.__setstate__((1, shape, dtype, fortran, raw))


class _Scalar(_Handler):
    name = 'numpy.core.multiarray.scalar'

    def call(self, load, args):
        _check(len(args) == 2, f'scalar{_describe(args)}')
        dtype = _numeric_dtype(args[0], 'a scalar dtype')
        _check(
            type(args[1]) is bytes and len(args[1]) == dtype.itemsize,
            f'a {dtype} scalar needs {dtype.itemsize} bytes')
        return np.frombuffer(args[1], dtype=dtype)[0]


class _Encode(_Handler):
    name = '_codecs.encode'

    def call(self, load, args):
        _check(
            len(args) == 2 and type(args[0]) is str and args[1] == 'latin1',
            f"_codecs.encode{_describe(args)}: only encode(str, 'latin1')")
        load.budget.charge(len(args[0]))
        return codecs.encode(args[0], 'latin1')


def _make_allowed() -> Dict[Tuple[str, str], _Handler]:
    reconstruct, scalar = _Reconstruct(), _Scalar()
    allowed = {
        ('collections', 'OrderedDict'): _OrderedDict(),
        ('collections', 'Counter'): _Counter(),
        ('torch._utils', '_rebuild_tensor_v2'): _RebuildTensor(),
        ('torch._utils', '_rebuild_parameter'): _RebuildParameter(),
        ('mmengine.logging.history_buffer', 'HistoryBuffer'): _HistoryBuffer(),
        ('builtins', 'getattr'): _Getattr(),
        ('numpy', 'dtype'): _Dtype(),
        ('numpy', 'ndarray'): _Ndarray(),
        ('_codecs', 'encode'): _Encode(),
    }
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):  # numpy 1 and 2 names
        allowed[(module, '_reconstruct')] = reconstruct
        allowed[(module, 'scalar')] = scalar
    for name, dtype in _STORAGE_DTYPES.items():
        allowed[('torch', name)] = _StorageType(name, dtype)
    return allowed


ALLOWED_GLOBALS: Dict[Tuple[str, str], _Handler] = _make_allowed()

# ------------------------------------------------------------------------------------------
# The unpickler: pickle's pure-Python one with a dispatch table of our own.

# structure, memo and framing; scalars and strings; containers (SETITEM(S) only into dicts,
# APPEND(S) only into lists); objects, each through a handler
_OPCODES = set("""
    PROTO STOP FRAME MARK POP POP_MARK DUP MEMOIZE GET BINGET LONG_BINGET PUT BINPUT LONG_BINPUT
    NONE NEWTRUE NEWFALSE INT BININT BININT1 BININT2 LONG LONG1 LONG4 FLOAT BINFLOAT UNICODE
    BINUNICODE SHORT_BINUNICODE BINUNICODE8 BINBYTES SHORT_BINBYTES BINBYTES8 STRING BINSTRING
    SHORT_BINSTRING
    EMPTY_LIST LIST APPEND APPENDS EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_DICT DICT SETITEM
    SETITEMS
    GLOBAL STACK_GLOBAL REDUCE NEWOBJ BUILD BINPERSID
    """.split())
_FREE = {'PROTO', 'STOP', 'FRAME', 'MARK', 'POP', 'POP_MARK'}
_REFERENCES = {'DUP', 'GET', 'BINGET', 'LONG_BINGET', 'PUT', 'BINPUT', 'LONG_BINPUT', 'MEMOIZE'}
_SIZED = set("""
    LONG LONG1 LONG4 UNICODE BINUNICODE SHORT_BINUNICODE BINUNICODE8 BINBYTES SHORT_BINBYTES
    BINBYTES8 STRING BINSTRING SHORT_BINSTRING
    """.split())
_OPCODE_NAMES = {
    value[0]: name
    for name, value in vars(pickle).items()
    if name.isupper() and isinstance(value, bytes) and len(value) == 1 and name != 'HIGHEST'
}


class _RestrictedUnpickler(pickle._Unpickler):
    """Reads one pickle from ``stream``; every object-making opcode goes through a handler."""

    def __init__(self, stream, persistent_load: Optional[Callable], budget: _Budget):
        super().__init__(stream)
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
            raise CheckpointRefused(f'the file names the global {module}.{name}')
        return handler

    def persistent_load(self, pid):
        _check(self._persistent_load is not None, 'a persistent id outside the main pickle')
        return self._persistent_load(pid)

    def _reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        _check(isinstance(func, _Handler), f'REDUCE calls a {type(func).__name__}')
        _check(type(args) is tuple, 'REDUCE arguments must be a tuple')
        self.stack[-1] = func.call(self, args)

    def _newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        _check(isinstance(cls, _Handler), f'NEWOBJ makes a {type(cls).__name__}')
        _check(type(args) is tuple, 'NEWOBJ arguments must be a tuple')
        self.append(cls.new(self, args))

    def _build(self):
        state = self.stack.pop()
        obj = self.stack[-1]
        entry = self._unbuilt.pop(id(obj), None)
        _check(entry is not None and entry[0] is obj,
               f'BUILD on a {type(obj).__name__}: only objects this load made take a state, once')
        entry[1].build(self, obj, state)

    def _binpersid(self):
        self.append(self.persistent_load(self.stack.pop()))

    def _container(self, name: str):
        """The object SETITEM(S) / APPEND(S) will write into."""
        if name in ('SETITEMS', 'APPENDS'):
            return self.metastack[-1][-1] if self.metastack and self.metastack[-1] else None
        depth = 3 if name == 'SETITEM' else 2
        return self.stack[-depth] if len(self.stack) >= depth else None


def _opcode(name: str, func: Callable) -> Callable:
    if name in _SIZED:

        def op(self):
            func(self)
            value = self.stack[-1]
            size = len(value) if isinstance(value, (str, bytes)) else value.bit_length() // 8
            self.budget.charge(_OBJECT_COST + size)
    elif name in ('SETITEM', 'SETITEMS', 'APPEND', 'APPENDS'):
        into = (dict, collections.OrderedDict) if name.startswith('SETITEM') else (list, )

        def op(self):
            target = self._container(name)
            _check(type(target) in into, f'{name} into a {type(target).__name__}')
            before = len(target)
            func(self)
            self.budget.charge(_OBJECT_COST * max(1, len(target) - before))
    else:
        cost = 0 if name in _FREE else _REFERENCE_COST if name in _REFERENCES else _OBJECT_COST

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
    own = {
        'REDUCE': _RestrictedUnpickler._reduce,
        'NEWOBJ': _RestrictedUnpickler._newobj,
        'BUILD': _RestrictedUnpickler._build,
        'BINPERSID': _RestrictedUnpickler._binpersid,
    }
    dispatch = {}
    for code in range(256):
        name = _OPCODE_NAMES.get(code)
        if name in _OPCODES:
            dispatch[code] = _opcode(name, own.get(name, pickle._Unpickler.dispatch[code]))
        else:
            dispatch[code] = _refused_opcode(name or f'0x{code:02x}')
    return dispatch


_RestrictedUnpickler.dispatch = _make_dispatch()
_BARE = (_Handler, _StatisticsMethod, _Storage)


def _unpickle(stream, persistent_load: Optional[Callable], budget: _Budget):
    """One pickle from ``stream``, refused with the reason on anything outside the rules."""
    try:
        result = _RestrictedUnpickler(stream, persistent_load, budget).load()
    except CheckpointRefused:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError, struct.error, RecursionError, MemoryError, OverflowError) as e:
        raise CheckpointRefused(f'malformed pickle data ({type(e).__name__}: {e})') from None
    _check(not isinstance(result, _BARE), f'the file holds a bare {_describe(result)}')
    return result


# ------------------------------------------------------------------------------------------
# Storages and devices.


def _restore_location(map_location) -> Callable:
    """``torch.load``'s ``map_location``: None (where it was saved), a device string or
    ``torch.device``, a dict from saved to new location, or ``f(storage, location)``."""

    def default(storage, location: str):
        if location == 'cpu':
            return storage
        if location.startswith('cuda') and not torch.cuda.is_available():
            raise RuntimeError(f'the checkpoint holds tensors saved on {location} and CUDA is not '
                               "available here: load it with map_location='cpu'")
        return storage.to(device=torch.device(location))

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


def _storage_from_bytes(raw: bytes, dtype, location: str, restore: Callable) -> _Storage:
    if raw:
        untyped = torch.frombuffer(bytearray(raw), dtype=torch.uint8).untyped_storage()
    else:
        untyped = torch.UntypedStorage(0)
    untyped = restore(untyped, location)
    if isinstance(untyped, torch.TypedStorage):  # a map_location that returns typed storages
        untyped = untyped.untyped()
    _check(isinstance(untyped, torch.UntypedStorage), 'map_location did not return a storage')
    return _Storage(untyped, dtype)


def _storage_id(pid, fields: int) -> tuple:
    _check(
        type(pid) is tuple and len(pid) == fields and pid[0] == 'storage'
        and type(pid[1]) is _StorageType and type(pid[2]) is str and type(pid[3]) is str
        and _is_int(pid[4]) and pid[4] >= 0, f'persistent id {_describe(pid)} is not a storage')
    return pid


# ------------------------------------------------------------------------------------------
# Formats.


def _read_zip(zf: zipfile.ZipFile, restore: Callable, budget: _Budget):
    infos = {info.filename: info for info in zf.infolist()}
    names = list(infos)
    if any(n.endswith('constants.pkl') or '/code/' in n for n in names):
        raise CheckpointRefused(
            'it is a TorchScript archive (torch.jit.save), not a checkpoint: loading it would '
            'compile and run the code it carries. Export a state dict with torch.save, or load it '
            'yourself with torch.jit.load if you trust it')
    pickles = [n for n in names if n.endswith('/data.pkl') and n.count('/') == 1]
    _check(len(pickles) == 1, 'a zip file without one <name>/data.pkl record')
    prefix = pickles[0][:-len('data.pkl')]
    for info in infos.values():
        _check(info.filename.startswith(prefix), f'record {info.filename} outside {prefix}')
        _check(info.compress_type == zipfile.ZIP_STORED,
               f'record {info.filename} is compressed; torch.save never compresses')
    if prefix + 'byteorder' in infos:
        order = zf.read(prefix + 'byteorder')
        _check(order == b'little', f'the file was written on a {order!r}-endian machine')
    budget.charge(infos[pickles[0]].file_size)
    storages: Dict[str, _Storage] = {}

    def persistent_load(pid):
        _, kind, key, location, numel = _storage_id(pid, 5)
        if key in storages:
            _check(storages[key].dtype == kind.dtype, f'storage {key} is read with two dtypes')
            return storages[key]
        info = infos.get(f'{prefix}data/{key}')
        _check(info is not None, f'the storage record data/{key} is missing')
        nbytes = numel * _element_size(kind.dtype)
        _check(info.file_size == nbytes,
               f'storage {key} declares {nbytes} bytes, the file holds {info.file_size}')
        storages[key] = _storage_from_bytes(zf.read(info), kind.dtype, location, restore)
        return storages[key]

    return _unpickle(io.BytesIO(zf.read(pickles[0])), persistent_load, budget)


def _read_legacy(stream: io.BytesIO, size: int, restore: Callable, budget: _Budget):
    """PyTorch < 1.6: magic number, protocol, sys info, the object, the storage keys (five
    pickles), then each storage as an int64 element count and its bytes. The object is read
    twice: first to learn the storages it uses, then with them."""
    magic = _unpickle(stream, None, budget)
    _check(magic == _LEGACY_MAGIC, 'not a torch checkpoint (neither a zip archive nor a legacy '
           'file: no magic number)')
    _check(_unpickle(stream, None, budget) == _LEGACY_PROTOCOL, 'unknown legacy protocol')
    info = _unpickle(stream, None, budget)
    _check(
        type(info) is dict and info.get('little_endian') is True,
        'the legacy file was not written on a little-endian machine')
    start = stream.tell()
    declared: Dict[str, Tuple[torch.dtype, str, int]] = {}
    declared_bytes = 0

    def declare(pid):
        nonlocal declared_bytes
        _, kind, key, location, numel, view = _storage_id(pid, 6)
        _check(view is None, 'legacy storage views are not supported')
        entry = (kind.dtype, location, numel)
        if key in declared:  # a storage shared by several tensors
            _check(declared[key] == entry, f'storage {key} declared twice')
        else:
            declared[key] = entry
            declared_bytes += numel * _element_size(kind.dtype)
            _check(declared_bytes <= size, 'the storages declared are larger than the file')
        return _Storage(None, kind.dtype, numel)

    _unpickle(stream, declare, _Budget(budget.left))
    keys = _unpickle(stream, None, budget)
    _check(
        type(keys) is list and set(keys) == set(declared) and len(keys) == len(declared),
        'the legacy storage list does not match the storages its tensors use')
    storages = {}
    for key in keys:
        dtype, location, numel = declared[key]
        head = stream.read(8)
        _check(
            len(head) == 8 and struct.unpack('<q', head)[0] == numel,
            f'storage {key}: the element count in the file differs from its declaration')
        nbytes = numel * _element_size(dtype)
        raw = stream.read(nbytes)
        _check(len(raw) == nbytes, f'storage {key} is truncated ({len(raw)} of {nbytes} bytes)')
        storages[key] = _storage_from_bytes(raw, dtype, location, restore)

    def storage(pid):
        return storages[_storage_id(pid, 6)[2]]

    stream.seek(start)
    return _unpickle(stream, storage, budget)


def read_checkpoint(source, map_location=None, max_pickle_bytes: Optional[int] = None):
    """Read a torch checkpoint (zip or legacy format) without running anything it carries.

    Args:
        source: a file path, or the file's bytes.
        map_location: as in :func:`torch.load`.
        max_pickle_bytes: the budget for all but tensor storages (module docstring).

    Raises:
        FileNotFoundError: no such file.
        CheckpointRefused: the file names a global outside :data:`ALLOWED_GLOBALS`, fails one of
            the checks, or is a TorchScript or tar-format archive; the message says what.
    """
    budget = _Budget(pickle_budget() if max_pickle_bytes is None else max_pickle_bytes)
    restore = _restore_location(map_location)
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        with open(source, 'rb') as f:
            data = f.read()
    stream = io.BytesIO(data)
    if zipfile.is_zipfile(stream):
        try:
            with zipfile.ZipFile(stream) as zf:
                return _read_zip(zf, restore, budget)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as e:
            raise CheckpointRefused(f'a damaged zip archive ({e})') from None
    stream.seek(0)
    if _is_tar(stream):
        raise CheckpointRefused(
            'it is a tar archive (the format of PyTorch before 0.4), which this reader does not '
            'load: re-save it with a current torch.save if you trust it')
    stream.seek(0)
    return _read_legacy(stream, len(data), restore, budget)


def _is_tar(stream) -> bool:
    try:
        with tarfile.open(fileobj=stream, mode='r:'):
            return True
    except tarfile.TarError:
        return False
