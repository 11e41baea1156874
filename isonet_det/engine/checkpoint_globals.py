"""The globals a checkpoint file may name, each a handler that checks its arguments and builds
the object itself, and the checks and limits the reader shares with them.

What a file may name (:data:`ALLOWED_GLOBALS`):

=========================================  ===================================================
global                                     who writes it; what is accepted
=========================================  ===================================================
``collections.OrderedDict``                state dicts: made empty, its only state the
                                           ``_metadata`` dict of ``nn.Module.state_dict()``
``collections.Counter``                    mmengine's ``MultiStepLR`` milestones: a dict of ints
``torch._utils._rebuild_tensor_v2`` /      every tensor: a storage of this file, offset, sizes
``_rebuild_tensor_v3``                     and strides inside it, no hooks (v3: float8, uint16..)
``torch._utils._rebuild_parameter``        an ``nn.Parameter`` saved as such, no hooks
``torch.<T>Storage``, ``UntypedStorage``   storage types, inside persistent ids only
``torch.<dtype>``, ``torch.Size``,         as torch's weights-only loader; a device from its
``torch.device``                           type name and index
``builtins.set`` / ``complex`` /           from a list, two numbers, bytes, nothing (``bytes()``
``bytearray`` / ``bytes``                  is how protocol 2 writes ``b''``)
``argparse.Namespace``                     timm's ``args``: an instance made without calling the
                                           class, its state a dict of identifiers
``mmengine...HistoryBuffer``               the message hub's logs: built from a checked state,
                                           not through its ``__setstate__`` (which writes the
                                           class-level statistics table)
``builtins.getattr``                       ``getattr(HistoryBuffer, m)`` for its four statistics
                                           methods, ``getattr(OneCycleParamScheduler, f)`` for
                                           its two annealing functions (how pickle writes them)
``numpy.dtype``                            plain numeric dtypes (bool, int, float, complex) with
                                           exactly the state numpy writes for them
``numpy.(_)core.multiarray._reconstruct``  numeric arrays whose bytes are all in the file
and ``numpy.ndarray``
``numpy.(_)core.multiarray.scalar``        numeric scalars
``_codecs.encode``                         ``encode(str, 'latin1')``: bytes in pickle protocol 2
=========================================  ===================================================
"""
import argparse
import codecs
import collections
import math
import os
import pickle
import warnings
from typing import Dict, Tuple

import numpy as np
import torch

__all__ = ['CheckpointRefused', 'MalformedCheckpoint', 'ALLOWED_GLOBALS', 'pickle_budget']

_MIB = 2**20
_STATISTICS_METHODS = ('min', 'max', 'current', 'mean')
_ANNEALING_FUNCTIONS = ('_annealing_cos', '_annealing_linear')
_NUMERIC_KINDS = 'biufc'  # bool, signed, unsigned, float, complex
_MAX_DIMS = 64
_MAX_INDEX = 2**63 - 1  # offsets, sizes, strides, element counts
# Dict keys and set members: kinds whose hash a file cannot make collide (str and bytes hashes
# are salted per process; ints below 2**61 - 1 and floats hash to distinct values or to a few).
_MAX_KEY_LEN = 1024
_MAX_KEY_INT = 2**61 - 2
_MAX_KEY_TUPLE = 8
# What one object an opcode makes is charged (a generous bound for 64-bit CPython's small
# containers, ints and floats, and the reference that holds it); every opcode costs at least
# _REFERENCE_COST, so a load runs at most budget / _REFERENCE_COST opcodes.
_OBJECT_COST = 128
_REFERENCE_COST = 8
# A tensor (or parameter) the load makes, beyond its opcode's _OBJECT_COST: the Python object and
# its TensorImpl (315 bytes measured, CPython 3.11, torch 2.14, sizes and strides of up to 5
# dimensions inline), and its sizes and strides on the heap beyond that (16 bytes a dimension).
_TENSOR_COST = 384
_DIMENSION_COST = 16

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
_TENSOR_DTYPE_NAMES = (
    'bool uint8 uint16 uint32 uint64 int8 int16 int32 int64 float16 bfloat16 float32 float64 '
    'complex32 complex64 complex128 float8_e4m3fn float8_e4m3fnuz float8_e5m2 float8_e5m2fnuz '
    'float8_e8m0fnu').split()


def _element_sizes() -> Dict[torch.dtype, int]:
    """dtype -> bytes per element, for the dtypes a tensor of a file may have."""
    with warnings.catch_warnings():  # complex32: "experimental"
        warnings.simplefilter('ignore')
        return {
            getattr(torch, name): torch.empty((0, ), dtype=getattr(torch, name)).element_size()
            for name in _TENSOR_DTYPE_NAMES if isinstance(getattr(torch, name, None), torch.dtype)
        }


_ELEMENT_SIZES = _element_sizes()


class CheckpointRefused(pickle.UnpicklingError):
    """The file asks for something this reader does not build; the message says what."""


class MalformedCheckpoint(CheckpointRefused):
    """The file is not what ``torch.save`` writes (a damaged or crafted archive): other readers
    may see other content in it, so trusting it is no remedy."""


def pickle_budget() -> int:
    """Bytes a load may spend beyond the tensor storages the file carries."""
    return int(float(os.environ.get('ISONET_CHECKPOINT_PICKLE_BUDGET_MB', 64)) * _MIB)


def _describe(value, depth: int = 0) -> str:
    """A short description of a loaded value, in time bounded whatever the value."""
    kind = type(value)
    if value is None or kind in (bool, float, complex):
        return repr(value)
    if kind is int:
        return repr(value) if value.bit_length() <= 128 else f'a {value.bit_length()}-bit int'
    if kind in (str, bytes):
        return repr(value[:60]) + ('...' if len(value) > 60 else '')
    if kind in (tuple, list) and depth < 2:
        items = [_describe(v, depth + 1) for v in value[:4]] + (['...'] if len(value) > 4 else [])
        return ('({})' if kind is tuple else '[{}]').format(', '.join(items))
    if isinstance(value, _Handler):
        return value.name
    if isinstance(value, (dict, list, tuple, set)):
        return f'a {kind.__name__} of {len(value)} items'
    return f'a {kind.__name__}'


def _check(condition, message: str, *values):
    """Refuse with ``message.format(*descriptions of values)`` unless ``condition``: the text is
    built only for a refusal."""
    if not condition:
        raise CheckpointRefused(message.format(*map(_describe, values)))


def _malformed(condition, message: str, *values):
    if not condition:
        raise MalformedCheckpoint(message.format(*map(_describe, values)))


def _is_int(x) -> bool:
    return type(x) is int


def _index_tuple(x, what: str) -> tuple:
    _check(
        type(x) in (tuple, torch.Size) and len(x) <= _MAX_DIMS
        and all(_is_int(v) and 0 <= v <= _MAX_INDEX for v in x),
        '{} must be a tuple of at most {} ints in [0, 2**63)', what, _MAX_DIMS)
    return tuple(x)


def _no_hooks(hooks) -> bool:
    return type(hooks) in (collections.OrderedDict, dict) and not hooks


def _hash_safe(key) -> bool:
    """Whether ``key`` may be a dict key or a set member (module constants)."""
    kind = type(key)
    if kind is str or kind is bytes:
        return len(key) <= _MAX_KEY_LEN
    if kind is int:
        return -_MAX_KEY_INT <= key <= _MAX_KEY_INT
    if kind is float:
        return key == key  # NaN keys all hash to 0 before Python 3.10
    if key is None or kind is bool or kind is torch.dtype:
        return True
    return kind is tuple and len(key) <= _MAX_KEY_TUPLE and all(
        type(v) in (str, bytes) and len(v) <= _MAX_KEY_LEN or v is None or type(v) is bool
        for v in key)


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
    of an object this handler made, ``attribute`` the ``getattr(global, name)`` pickle writes
    for a class attribute."""
    name = ''

    def value(self):
        """What the GLOBAL opcode pushes."""
        return self

    def call(self, load, args: tuple):
        raise CheckpointRefused(f'{self.name} cannot be called')

    def new(self, load, args: tuple):
        raise CheckpointRefused(f'{self.name} cannot be instantiated')

    def build(self, load, obj, state):
        raise CheckpointRefused(f'{self.name} objects take no state')

    def attribute(self, name: str):
        raise CheckpointRefused(f'getattr({self.name}, {_describe(name)}) is not loaded')


class _Constant(_Handler):
    """A global that is a value (a torch dtype)."""

    def __init__(self, name: str, constant):
        self.name, self.constant = name, constant

    def value(self):
        return self.constant


class _OrderedDict(_Handler):
    name = 'collections.OrderedDict'

    def call(self, load, args):
        _check(args == (), 'OrderedDict is only made empty (its items follow)')
        return load.made(collections.OrderedDict(), self)

    def build(self, load, obj, state):
        _check(
            type(state) is dict and len(state) <= 1 and set(state) <= {'_metadata'}
            and all(type(v) in (dict, collections.OrderedDict) for v in state.values()),
            'OrderedDict state {}: only a _metadata dict', state)
        obj.__dict__.update(state)


class _Counter(_Handler):
    name = 'collections.Counter'

    def call(self, load, args):
        _check(len(args) == 1 and type(args[0]) is dict, 'Counter{}: only from one dict', args)
        load.budget.charge(_OBJECT_COST * len(args[0]))
        _check(all(_is_int(v) for v in args[0].values()), 'Counter values must be ints')
        return collections.Counter(args[0])


class _Set(_Handler):
    name = 'builtins.set'

    def call(self, load, args):
        _check(len(args) == 1 and type(args[0]) is list, 'set{}: only from one list', args)
        load.budget.charge(_OBJECT_COST * len(args[0]))
        for item in args[0]:
            _check(
                _hash_safe(item), 'a set member {} of a kind whose hash a file can make '
                'collide (see the reader docstring)', item)
        return set(args[0])


class _Complex(_Handler):
    name = 'builtins.complex'

    def call(self, load, args):
        _check(
            len(args) == 2 and all(type(v) in (float, int) for v in args),
            'complex{}: only from two numbers', args)
        return complex(*args)


class _Bytes(_Handler):
    """``bytearray(b)`` / ``bytearray()``; ``bytes()`` (protocol 2 writes ``b''`` so)."""

    def __init__(self, kind: type):
        self.kind, self.name = kind, f'builtins.{kind.__name__}'

    def call(self, load, args):
        if self.kind is bytes:
            _check(args == (), 'bytes{}: only bytes() (the empty bytes)', args)
            return b''
        _check(args == () or len(args) == 1 and type(args[0]) is bytes,
               'bytearray{}: only from bytes', args)
        load.budget.charge(_OBJECT_COST + (len(args[0]) if args else 0))
        return bytearray(*args)


class _TorchSize(_Handler):
    name = 'torch.Size'

    def call(self, load, args):
        _check(
            len(args) == 1 and type(args[0]) is tuple and len(args[0]) <= _MAX_DIMS
            and all(_is_int(v) and abs(v) <= _MAX_INDEX for v in args[0]),
            'torch.Size{}: only from a tuple of at most {} ints', args, _MAX_DIMS)
        load.budget.charge(_REFERENCE_COST * len(args[0]))
        return torch.Size(args[0])


class _TorchDevice(_Handler):
    name = 'torch.device'

    def call(self, load, args):
        _check(
            1 <= len(args) <= 2 and type(args[0]) is str and len(args[0]) <= 32
            and (len(args) == 1 or _is_int(args[1]) and 0 <= args[1] < 2**16),
            'torch.device{}: only from a type name and an index', args)
        try:
            return torch.device(*args)
        except (RuntimeError, ValueError):
            raise CheckpointRefused(f'torch.device{_describe(args)} is not a device') from None


class _StorageType(_Handler):

    def __init__(self, name: str, dtype: torch.dtype):
        self.name, self.dtype = name, dtype


class _Storage:
    """A storage of the file, on its device, with the dtype its persistent id names."""
    __slots__ = ('untyped', 'dtype', 'nbytes')

    def __init__(self, untyped: torch.UntypedStorage, dtype: torch.dtype):
        self.untyped, self.dtype, self.nbytes = untyped, dtype, untyped.nbytes()


def _tensor_view(storage: _Storage, dtype: torch.dtype, offset, size, stride,
                 requires_grad) -> torch.Tensor:
    """A tensor on ``storage`` as ``Tensor.set_`` makes it, every element inside the storage."""
    _check(isinstance(storage, _Storage), 'a tensor must use a storage of this file')
    _check(
        type(dtype) is torch.dtype and dtype in _ELEMENT_SIZES, 'tensors of dtype {} are not '
        'loaded', dtype)
    _check(_is_int(offset) and 0 <= offset <= _MAX_INDEX, 'a storage offset must be an int >= 0')
    size, stride = _index_tuple(size, 'size'), _index_tuple(stride, 'stride')
    _check(len(size) == len(stride), 'size and stride differ in length')
    _check(type(requires_grad) is bool, 'requires_grad must be a bool')
    _check(not requires_grad or dtype.is_floating_point or dtype.is_complex,
           'requires_grad on a {} tensor', str(dtype))
    numel = math.prod(size)
    _check(numel <= _MAX_INDEX, 'a tensor of size {} has more than 2**63 elements', size)
    elements = storage.nbytes // _ELEMENT_SIZES[dtype]
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if numel else offset - 1
    _check(last < elements, 'a tensor of size {} at offset {} reaches past its storage of {} '
           'elements', size, offset, elements)
    tensor = torch.empty((0, ), dtype=dtype, device=storage.untyped.device)
    try:
        tensor.set_(storage.untyped, offset, size, stride)
    except RuntimeError as e:
        raise CheckpointRefused(f'a tensor of size {_describe(size)} and stride '
                                f'{_describe(stride)}: {str(e)[:200]}') from None
    return tensor.requires_grad_(True) if requires_grad else tensor


def _charge_tensor(load, tensor: torch.Tensor):
    load.budget.charge(_TENSOR_COST + _DIMENSION_COST * tensor.dim())


class _RebuildTensor(_Handler):
    """``_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])``;
    v3 has the tensor's dtype before ``metadata`` (dtypes without a typed storage class)."""

    def __init__(self, version: int):
        self.name, self.version = f'torch._utils._rebuild_tensor_v{version}', version

    def call(self, load, args):
        fixed = 6 if self.version == 2 else 7
        _check(fixed <= len(args) <= fixed + 1, '{} takes {} or {} arguments, not {}', self, fixed,
               fixed + 1, len(args))
        storage, offset, size, stride, requires_grad, hooks = args[:6]
        _check(_no_hooks(hooks), 'tensors with backward hooks are not loaded')
        _check(
            len(args) == fixed or args[fixed] is None
            or type(args[fixed]) is dict and not args[fixed], 'tensor metadata is not loaded')
        _check(isinstance(storage, _Storage), 'a tensor must use a storage of this file')
        dtype = storage.dtype if self.version == 2 else args[6]
        tensor = _tensor_view(storage, dtype, offset, size, stride, requires_grad)
        _charge_tensor(load, tensor)
        return tensor


class _RebuildParameter(_Handler):
    name = 'torch._utils._rebuild_parameter'

    def call(self, load, args):
        _check(
            len(args) == 3 and type(args[0]) is torch.Tensor and type(args[1]) is bool
            and _no_hooks(args[2]), '{}: a tensor, a bool and no hooks', self)
        data, requires_grad = args[:2]
        _check(not requires_grad or data.is_floating_point() or data.is_complex(),
               'requires_grad on a {} parameter', str(data.dtype))
        _charge_tensor(load, data)  # a tensor of its own, on the same storage
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

    def attribute(self, name):
        _check(name in _STATISTICS_METHODS, 'getattr(HistoryBuffer, {}): only its statistics '
               'methods {}', name, _STATISTICS_METHODS)
        return _StatisticsMethod(name)

    def build(self, load, obj, state):
        _check(
            type(state) is dict and len(state) <= 4
            and set(self._KEYS) <= set(state) <= set(self._KEYS) | {'statistics_methods'},
            'HistoryBuffer state {}', state)
        _check(_is_int(state['max_length']) and state['max_length'] > 0, 'max_length')
        for key in ('_log_history', '_count_history'):
            value = state[key]
            _check(
                type(value) is np.ndarray and value.ndim == 1 and value.dtype.kind in 'biuf',
                'HistoryBuffer {} must be a 1-d numeric array', key)
        methods = state.get('statistics_methods', {})
        _check(
            type(methods) is dict and len(methods) <= len(_STATISTICS_METHODS)
            and all(type(v) is _StatisticsMethod and k == v.name for k, v in methods.items()),
            'HistoryBuffer statistics_methods may only name its own four methods')
        # The instance's attributes only. The class-level table gets its four genuine defaults
        # if absent, as HistoryBuffer() does, and nothing from the file.
        obj.__dict__.update({key: state[key] for key in self._KEYS})
        type(obj)._set_default_statistics(obj)


class _OneCycleScheduler(_Handler):
    """The class only as the owner of its two annealing functions (static methods, which
    protocol 2 pickles as ``getattr(OneCycleParamScheduler, name)``)."""
    name = 'mmengine.optim.scheduler.param_scheduler.OneCycleParamScheduler'

    def attribute(self, name):
        from mmengine.optim.scheduler.param_scheduler import OneCycleParamScheduler
        _check(name in _ANNEALING_FUNCTIONS, 'getattr(OneCycleParamScheduler, {}): only {}', name,
               _ANNEALING_FUNCTIONS)
        return getattr(OneCycleParamScheduler, name)


class _AnnealingFunction(_Handler):
    """Protocol 4 names the function itself: ``OneCycleParamScheduler._annealing_cos``."""

    def __init__(self, function: str):
        self.name, self.function = f'{_OneCycleScheduler.name}.{function}', function

    def value(self):
        return _OneCycleScheduler().attribute(self.function)


class _Getattr(_Handler):
    name = 'builtins.getattr'

    def call(self, load, args):
        _check(
            len(args) == 2 and isinstance(args[0], _Handler) and type(args[1]) is str,
            'getattr{}: only getattr(HistoryBuffer, m) for its statistics methods and '
            'getattr(OneCycleParamScheduler, f) for its annealing functions', args)
        return args[0].attribute(args[1])


class _Namespace(_Handler):
    """``argparse.Namespace`` (timm's ``args``): made with ``object.__new__``, never by calling
    the class; its state a dict whose keys are identifiers."""
    name = 'argparse.Namespace'

    def new(self, load, args):
        _check(args == (), 'Namespace is made without arguments')
        return load.made(argparse.Namespace.__new__(argparse.Namespace), self)

    def build(self, load, obj, state):
        _check(type(state) is dict, 'Namespace state must be a dict')
        load.budget.charge(_OBJECT_COST * len(state))
        _check(
            all(
                type(k) is str and len(k) <= _MAX_KEY_LEN and k.isidentifier()
                and not k.startswith('__') for k in state),
            'Namespace attribute names must be identifiers without a leading __')
        obj.__dict__.update(state)


def _numeric_dtype(value, what: str) -> np.dtype:
    _check(
        isinstance(value, np.dtype) and value.kind in _NUMERIC_KINDS,
        '{} must be a numeric numpy dtype, not {}', what, value)
    return value


class _Dtype(_Handler):
    name = 'numpy.dtype'

    def call(self, load, args):
        _check(
            len(args) == 3 and type(args[0]) is str and len(args[0]) <= 4 and args[1] is False
            and args[2] is True, 'numpy.dtype{}: only plain numeric dtypes as numpy pickles them',
            args)
        try:
            dtype = np.dtype(args[0], False, True)  # a copy: BUILD never touches numpy's own
        except TypeError as e:
            raise CheckpointRefused(f'numpy.dtype({args[0]!r}): {e}') from None
        _check(
            dtype.kind in _NUMERIC_KINDS and dtype.fields is None and dtype.subdtype is None,
            'numpy.dtype({}) is not a plain numeric dtype (object, string, structured and '
            'datetime dtypes are refused)', args[0])
        return load.made(dtype, self)

    def build(self, load, obj, state):
        _check(
            type(state) is tuple and len(state) == 8 and type(state[1]) is str
            and state[1] in ('<', '>', '|', '='), 'dtype state {} is not what numpy writes', state)
        _check(state == obj.newbyteorder(state[1]).__reduce__()[2],
               'dtype state {} is not what numpy writes for {}', state, str(obj))
        obj.__setstate__(state)


class _Ndarray(_Handler):
    name = 'numpy.ndarray'


class _Reconstruct(_Handler):
    name = 'numpy.core.multiarray._reconstruct'

    def call(self, load, args):
        _check(
            len(args) == 3 and type(args[0]) is _Ndarray and type(args[1]) is tuple
            and args[1] == (0, ) and args[2] == b'b', '_reconstruct{}: only numpy arrays', args)
        return load.made(np.ndarray((0, ), 'b'), self)

    def build(self, load, obj, state):
        _check(
            type(state) is tuple and len(state) == 5 and _is_int(state[0]) and state[0] == 1,
            'array state {} is not what numpy writes', state)
        _, shape, dtype, fortran, raw = state
        shape = _index_tuple(shape, 'an array shape')
        dtype = _numeric_dtype(dtype, 'an array dtype')
        _check(type(fortran) is bool and type(raw) is bytes, 'array order and bytes')
        nbytes = math.prod(shape) * dtype.itemsize
        _check(
            len(raw) == nbytes, 'an array of shape {} and dtype {} needs {} bytes, not {}', shape,
            str(dtype), nbytes, len(raw))
        load.budget.charge(nbytes + _DIMENSION_COST * len(shape))
        obj.__setstate__((1, shape, dtype, fortran, raw))


class _Scalar(_Handler):
    name = 'numpy.core.multiarray.scalar'

    def call(self, load, args):
        _check(len(args) == 2, 'scalar{}', args)
        dtype = _numeric_dtype(args[0], 'a scalar dtype')
        _check(
            type(args[1]) is bytes and len(args[1]) == dtype.itemsize, 'a {} scalar needs {} bytes',
            str(dtype), dtype.itemsize)
        return np.frombuffer(args[1], dtype=dtype)[0]


class _Encode(_Handler):
    name = '_codecs.encode'

    def call(self, load, args):
        _check(
            len(args) == 2 and type(args[0]) is str and type(args[1]) is str
            and args[1] == 'latin1', "_codecs.encode{}: only encode(str, 'latin1')", args)
        load.budget.charge(len(args[0]))
        return codecs.encode(args[0], 'latin1')


def _make_allowed() -> Dict[Tuple[str, str], _Handler]:
    reconstruct, scalar = _Reconstruct(), _Scalar()
    scheduler = 'mmengine.optim.scheduler.param_scheduler'
    allowed = {
        ('collections', 'OrderedDict'): _OrderedDict(),
        ('collections', 'Counter'): _Counter(),
        ('builtins', 'set'): _Set(),
        ('builtins', 'complex'): _Complex(),
        ('builtins', 'bytearray'): _Bytes(bytearray),
        ('builtins', 'bytes'): _Bytes(bytes),
        ('builtins', 'getattr'): _Getattr(),
        ('argparse', 'Namespace'): _Namespace(),
        ('torch', 'Size'): _TorchSize(),
        ('torch', 'device'): _TorchDevice(),
        ('torch._utils', '_rebuild_tensor_v2'): _RebuildTensor(2),
        ('torch._utils', '_rebuild_tensor_v3'): _RebuildTensor(3),
        ('torch._utils', '_rebuild_parameter'): _RebuildParameter(),
        ('torch', 'UntypedStorage'): _StorageType('torch.UntypedStorage', torch.uint8),
        ('torch.storage', 'UntypedStorage'): _StorageType('torch.UntypedStorage', torch.uint8),
        ('mmengine.logging.history_buffer', 'HistoryBuffer'): _HistoryBuffer(),
        (scheduler, 'OneCycleParamScheduler'): _OneCycleScheduler(),
        ('numpy', 'dtype'): _Dtype(),
        ('numpy', 'ndarray'): _Ndarray(),
        ('_codecs', 'encode'): _Encode(),
    }
    for function in _ANNEALING_FUNCTIONS:
        allowed[(scheduler, f'OneCycleParamScheduler.{function}')] = _AnnealingFunction(function)
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):  # numpy 1 and 2 names
        allowed[(module, '_reconstruct')] = reconstruct
        allowed[(module, 'scalar')] = scalar
    for name, dtype in _STORAGE_DTYPES.items():
        allowed[('torch', name)] = _StorageType(f'torch.{name}', dtype)
    for name in dir(torch):
        if isinstance(getattr(torch, name), torch.dtype):
            allowed[('torch', name)] = _Constant(f'torch.{name}', getattr(torch, name))
    return allowed


ALLOWED_GLOBALS: Dict[Tuple[str, str], _Handler] = _make_allowed()
