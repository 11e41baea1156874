"""Every place this package reads or writes mmengine's private state, in one module.

mmengine offers no public way to do these few things; each function here names what it touches,
and :func:`check_mmengine_internals` fails with a message that says which ones an installed
mmengine lacks (tested on the lowest and highest mmengine the package supports).

========================================  =================================================
touch point                               used for
========================================  =================================================
``OptimWrapper._inner_count``,            when a gradient-accumulation window starts (the
``OptimWrapper._accumulative_counts``     sharded regulariser writes its term once a window)
``OptimWrapper._clip_grad``               the regulariser's gradient is added before clipping,
                                          as a loss term would be clipped with the rest
``GradScaler._per_optimizer_states``      AMP: whether the scaler found inf/NaN this step
                                          (the term is then dropped, as the step is)
``CheckpointLoader._schemes``             every scheme a config can name goes through the
                                          safe checkpoint reader
``Runner._resume``, ``Runner._load_from``  which checkpoint a run resumed from (its
                                          bookkeeping is checked against the work dir)
``HistoryBuffer._set_default_statistics``  a loaded HistoryBuffer gets the class defaults, as
                                          its constructor gives them
``OneCycleParamScheduler._annealing_*``   the two functions a OneCycleLR state names
========================================  =================================================

And one thing mmengine does with checkpoint data that the package undoes: it executes config
text a checkpoint carries (``Config.fromstring``); :func:`config_text_readers` finds the modules
that do, for the test that holds them to the keys ``checkpoint.CONFIG_TEXT`` drops.
"""
import os
import os.path as osp
from typing import Callable, List, Optional

__all__ = [
    'check_mmengine_internals', 'window_starts', 'wrap_clip_grad', 'restore_clip_grad',
    'found_inf_of', 'checkpoint_schemes', 'resumed_checkpoint', 'config_text_readers'
]


def _missing() -> List[str]:
    import torch
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.optim import OptimWrapper
    from mmengine.runner import Runner
    from mmengine.runner.checkpoint import CheckpointLoader
    missing = []
    wrapper = OptimWrapper(
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1), clip_grad=dict(max_norm=1.0))
    for name in ('_inner_count', '_accumulative_counts', '_clip_grad'):
        if not hasattr(wrapper, name):
            missing.append(f'OptimWrapper.{name}')
    if not isinstance(getattr(CheckpointLoader, '_schemes', None), dict):
        missing.append('CheckpointLoader._schemes')
    if not hasattr(HistoryBuffer, '_set_default_statistics'):
        missing.append('HistoryBuffer._set_default_statistics')
    from mmengine.optim.scheduler.param_scheduler import OneCycleParamScheduler
    for name in ('_annealing_cos', '_annealing_linear'):
        if not hasattr(OneCycleParamScheduler, name):
            missing.append(f'OneCycleParamScheduler.{name}')
    init = Runner.__init__.__code__.co_names
    for name in ('_resume', '_load_from'):
        if name not in init:
            missing.append(f'Runner.{name}')
    amp = getattr(torch, 'amp', None)
    scaler = getattr(amp, 'GradScaler', None) or torch.cuda.amp.GradScaler
    if '_per_optimizer_states' not in scaler.__init__.__code__.co_names:
        missing.append('GradScaler._per_optimizer_states')
    return missing


def check_mmengine_internals() -> None:
    """Raise RuntimeError naming each touch point (module docstring) the installed mmengine /
    torch lacks."""
    missing = _missing()
    if missing:
        import mmengine
        raise RuntimeError(
            f'isonet-det needs private state that mmengine {mmengine.__version__} does not have: '
            f'{", ".join(missing)}. Use an mmengine version the package supports (see setup.py).')


def window_starts(optim_wrapper) -> bool:
    """Whether the next backward starts a gradient-accumulation window."""
    return optim_wrapper._inner_count % optim_wrapper._accumulative_counts == 0


def wrap_clip_grad(optim_wrapper, before: Callable[[], None]) -> Optional[Callable]:
    """Run ``before()`` ahead of the wrapper's gradient clipping; returns the original clip
    function for :func:`restore_clip_grad`, or None when the wrapper does not clip."""
    if not getattr(optim_wrapper, 'clip_grad_kwargs', None):
        return None
    original = optim_wrapper._clip_grad

    def clip_grad():
        before()
        original()

    optim_wrapper._clip_grad = clip_grad
    return original


def restore_clip_grad(optim_wrapper, original: Callable) -> None:
    optim_wrapper._clip_grad = original


def found_inf_of(scaler, optimizer):
    """The scaler's inf/NaN flag for ``optimizer`` after ``unscale_`` (a device tensor), or
    None before it."""
    state = scaler._per_optimizer_states.get(id(optimizer), {})
    per_device = list(state.get('found_inf_per_device', {}).values())
    if not per_device:
        return None
    return per_device[0] if len(per_device) == 1 else sum(per_device)


def checkpoint_schemes() -> dict:
    """mmengine's ``CheckpointLoader`` table: prefix -> loader."""
    from mmengine.runner.checkpoint import CheckpointLoader
    return CheckpointLoader._schemes


def resumed_checkpoint(runner) -> Optional[str]:
    """The checkpoint ``runner`` resumed from (as ``Runner.load_or_resume`` chooses it), or
    None when it does not resume."""
    from mmengine.runner import find_latest_checkpoint
    if not runner._resume:
        return None
    return runner._load_from or find_latest_checkpoint(runner.work_dir)


def config_text_readers(package) -> List[str]:
    """The modules of ``package`` (mmengine, mmdet) that call ``Config.fromstring``, which
    executes the text it is given, outside ``<package>.config`` itself."""
    root = osp.dirname(package.__file__)
    found = []
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            path = osp.join(folder, name)
            module = osp.relpath(path, osp.dirname(root))[:-3].replace(os.sep, '.')
            if not name.endswith('.py') or module.startswith(f'{package.__name__}.config.'):
                continue
            with open(path, encoding='utf-8', errors='replace') as f:
                if 'fromstring(' in f.read():
                    found.append(module)
    return sorted(found)
