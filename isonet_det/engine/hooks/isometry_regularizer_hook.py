"""Adds the isometry regulariser (Qi et al. 2020, eq. 5/6) inside the optimizer step."""
import logging
import math
from typing import List, Optional

import torch
import torch.nn as nn
from mmengine.dist import all_reduce, get_rank, get_world_size
from mmengine.hooks import Hook, LoggerHook
from mmengine.logging import MessageHub, print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmengine.registry import HOOKS  # the root registry: found from every OpenMMLab scope
from torch import Tensor

from ...ops import REGULARIZERS, CapturedPenalty, regularized_convs, shard_by_cost
from ..mmengine_internals import (check_mmengine_internals, found_inf_of, restore_clip_grad,
                                  window_starts, wrap_clip_grad)


def _add_scaled(params: List[nn.Parameter], grads: List[Tensor], factor) -> None:
    """``param.grad += factor * grad`` for each pair (``factor`` a float or a 0-dim tensor),
    in a few multi-tensor launches. ``grads`` are only read: they may be a CUDA graph's buffers
    (:class:`~isonet_det.ops.CapturedPenalty`), so no parameter is left holding one."""
    grads = [g.to(p.dtype) for p, g in zip(params, grads)]
    if isinstance(factor, Tensor):
        terms = [g * factor.to(g.dtype) for g in grads]
    else:
        terms = torch._foreach_mul(grads, factor)
    existing = [(p.grad, t) for p, t in zip(params, terms) if p.grad is not None]
    for param, term in zip(params, terms):
        if param.grad is None:
            param.grad = term
    if existing:
        torch._foreach_add_([g for g, _ in existing], [t for _, t in existing])


class _Attachment:
    """The convs one optimizer updates, and whether their gradient was added this iteration."""

    def __init__(self, optim_wrapper, convs: List[nn.Conv2d]):
        self.optim_wrapper = optim_wrapper
        self.convs = convs
        self.added = False
        self.steps = 0  # optimizer steps that reached the hook
        self.handle = None
        self.original_clip_grad = None


@HOOKS.register_module()
class IsometryRegularizerHook(Hook):
    """Train with ``loss + coeff * sum_l 1/2 ||Conv(A_l, A_l) - delta||_F^2`` (eq. 5/6).

    The regulariser depends on the weights alone, so instead of adding it to the loss the hook
    adds ``coeff * d(reg)/dA`` to the conv weights' gradients inside ``optimizer.step()`` (a
    step pre-hook), which is the same update and keeps every wrapper's semantics:

    - ``AmpOptimWrapper``: with a plain or foreach optimizer the hook runs after the GradScaler
      unscaled the gradients, and not at all on the steps it skips for inf/NaN. A fused optimizer
      unscales inside its kernel (the GradScaler hands it ``grad_scale`` and ``found_inf``): the
      term is then added as ``grad_scale * coeff * grad`` and multiplied by ``1 - found_inf``, so
      the update is the same and a skipped step gets nothing, without reading either value on
      the host. The regulariser is computed in float32 (no autocast, no TF32).
    - gradient accumulation: once per real optimizer step (the loss terms are averaged over the
      window, the regulariser enters once, as when it is added to every micro-batch's loss).
    - DDP: after the all-reduce; every rank adds the same term, so nothing is counted twice.
    - ``clip_grad``: the term is added before clipping, as it would be through the loss.
    - a non-finite training loss or regulariser value stops the run (``FloatingPointError``)
      after that iteration, before any checkpoint hook writes or deletes a file.

    Parameters with ``requires_grad=False`` (frozen stages) are never touched. Inside the step
    nothing is read back; after it, one scalar (is this iteration's value finite?) is, next to
    the loss mmengine already reads back every iteration, and the values reach the logger once
    per log interval.

    Args:
        coeff: gamma of eq. 6 (the reference uses 1e-4; 3e-4 for ISONet-101).
        module: dotted path of the submodule whose convs are regularised (default
            ``'backbone'``); ``None`` or ``''`` for every conv of the model.
        skip_stem: skip the convs that read the image, as the reference does: those a backbone
            lists in ``stem_convs()`` and, for any other model, convs with ``image_channels``
            input channels.
        image_channels: input channels of the image, for ``skip_stem``. Default: 3.
        regularizer: ``'isometry'`` (default, eq. 5/6) or ``'orthonormality'`` (Xie et al.
            2017: ``1/2 ||W W^T - I||_F^2`` of the flattened ``C_out x C_in k^2`` filter banks;
            cheaper, no spatial shifts). Logged as ``isometry_reg`` / ``orthonormality_reg``.
        interval: lazy regularisation (Karras et al., CVPR 2020, Sec. 4 / App. B, for R1):
            ``interval * coeff * grad`` is added on every ``interval``-th optimizer step (the
            1st, the ``interval + 1``-th, ...) and nothing in between, so the regulariser costs
            ``1 / interval`` of its time with the same expected update. Default 1: every step,
            exactly the reference.
        cuda_graph: on CUDA, replay the regulariser from a CUDA graph captured on the first step
            (:class:`~isonet_det.ops.CapturedPenalty`; recaptured when a weight's storage
            changes). Same values; the graph keeps its workspace allocated. Default True.
        shard: with ``W > 1`` data-parallel ranks, each rank computes the regulariser for about
            ``1/W`` of the convs (balanced by :func:`isometry_macs`, the same split on every
            rank) and the term rides on DDP's own gradient all-reduce: at the start of each
            accumulation window the rank writes ``W * coeff * d(reg)/dA`` (times the AMP loss
            scale) into its convs' gradients, which the all-reduce averages into the
            ``coeff * d(reg)/dA`` every rank adds without sharding, so no collective is added
            per step (the logged value is summed over ranks once per log interval). The update is
            the unsharded one up to float rounding of the average. Default False; a single
            process ignores it.
    """

    priority = 'NORMAL'

    def __init__(self,
                 coeff: float = 1e-4,
                 module: Optional[str] = 'backbone',
                 skip_stem: bool = True,
                 image_channels: int = 3,
                 regularizer: str = 'isometry',
                 interval: int = 1,
                 shard: bool = False,
                 cuda_graph: bool = True):
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be an integer >= 1, got {interval!r}')
        if not isinstance(coeff, (int, float)) or not math.isfinite(coeff) or coeff < 0:
            raise ValueError(f'coeff must be a finite number >= 0, got {coeff!r}')
        if regularizer not in REGULARIZERS:
            raise ValueError(f'regularizer must be one of {sorted(REGULARIZERS)}, got '
                             f'{regularizer!r}')
        self.regularizer = regularizer
        self.penalty = CapturedPenalty(REGULARIZERS[regularizer], enabled=cuda_graph)
        self.coeff = float(coeff)
        self.interval = interval
        self.module = module or ''
        self.skip_stem = skip_stem
        self.image_channels = image_channels
        self.shard = bool(shard)
        self._world_size = 1
        self._device = torch.device('cpu')
        self._attachments: List[_Attachment] = []
        self._pending: List[Tensor] = []  # values not yet handed to the message hub
        self._last_value: Optional[Tensor] = None  # this iteration's, for the finite check
        self._flush_interval = 50

    # -- selection -------------------------------------------------------------------------
    def select_convs(self, model: nn.Module) -> List[nn.Conv2d]:
        """The convs this hook regularises in ``model`` (unwrapped), in module order
        (:func:`isonet_det.ops.regularized_convs`)."""
        if is_model_wrapper(model):
            model = model.module
        try:
            return regularized_convs(model, self.module, self.skip_stem, self.image_channels)
        except AttributeError as e:
            raise AttributeError(f'IsometryRegularizerHook: {e}') from None

    # -- wiring ----------------------------------------------------------------------------
    def before_train(self, runner) -> None:
        check_mmengine_internals()
        convs = self.select_convs(runner.model)
        if not convs:
            print_log(
                f'IsometryRegularizerHook: no Conv2d found under {self.module!r}; the '
                'regulariser is off',
                logger='current',
                level=logging.WARNING)
        self._world_size = get_world_size() if self.shard else 1
        self._device = convs[0].weight.device if convs else torch.device('cpu')
        wrappers = (
            list(runner.optim_wrapper.values())
            if isinstance(runner.optim_wrapper, OptimWrapperDict) else [runner.optim_wrapper])
        for wrapper in wrappers:
            params = {id(p) for g in wrapper.optimizer.param_groups for p in g['params']}
            owned = [c for c in convs if id(c.weight) in params]
            if owned:
                self._attach(wrapper, owned)
        loggers = [h for h in getattr(runner, 'hooks', []) if isinstance(h, LoggerHook)]
        self._flush_interval = loggers[0].interval if loggers else 50
        sharding = ''
        if self._world_size > 1:
            own = sum(len(att.convs) for att in self._attachments)
            sharding = f', sharded: {own} of them on rank {get_rank()} of {self._world_size}'
        print_log(
            f'IsometryRegularizerHook: {self.regularizer} regulariser, coeff={self.coeff}, '
            f'interval={self.interval}, on {len(convs)} convs of {self.module or "the model"!r}'
            f'{sharding}',
            logger='current')

    def _attach(self, wrapper, convs: List[nn.Conv2d]) -> None:
        if self._world_size > 1:
            self._attachments.append(
                _Attachment(wrapper,
                            shard_by_cost(convs, self._world_size)[get_rank()]))
            return  # the term is written before the backward (before_train_iter)
        att = _Attachment(wrapper, convs)
        att.handle = wrapper.optimizer.register_step_pre_hook(
            lambda optimizer, args, kwargs: self._add_gradient(att, before_clip=False))
        # With clip_grad the wrapper clips before optimizer.step(): add the term first, as a
        # loss term would be clipped together with the rest.
        att.original_clip_grad = wrap_clip_grad(wrapper,
                                                lambda: self._add_gradient(att, before_clip=True))
        self._attachments.append(att)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        for att in self._attachments:
            att.added = False
            if self._world_size > 1 and window_starts(att.optim_wrapper):
                self._add_sharded_gradient(att)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        # Before the checkpoint hook (priority VERY_LOW) can write or delete anything.
        self._check_finite(runner, outputs)
        # The logger hook (priority BELOW_NORMAL) runs after this one and reads the message hub.
        if (self.every_n_inner_iters(batch_idx, self._flush_interval)
                or self.every_n_train_iters(runner, self._flush_interval)
                or self.end_of_epoch(runner.train_dataloader, batch_idx)):
            self.flush_log()

    def _check_finite(self, runner, outputs) -> None:
        """Stop on a non-finite loss (mmengine's RuntimeInfoHook has already read it back) or
        regulariser value of this iteration (one scalar read)."""
        loss = outputs.get('loss') if isinstance(outputs, dict) else None
        loss = float(loss.detach() if isinstance(loss, Tensor) else loss) if loss is not None \
            else None
        bad = []
        if loss is not None and not math.isfinite(loss):
            bad.append(f'the training loss is {loss}')
        last, self._last_value = self._last_value, None
        if last is not None and not bool(torch.isfinite(last)):
            bad.append(f'the {self.regularizer} regulariser is {last.item()}')
        if bad:
            raise FloatingPointError(
                f'iteration {runner.iter + 1}: {" and ".join(bad)}; stopping before any '
                'checkpoint is written or deleted. Lower the learning rate or coeff, or enable '
                'gradient clipping.')

    def flush_log(self) -> None:
        """Hand the values of the past iterations to the message hub (one device read)."""
        if not self._pending:
            return
        values = torch.stack(self._pending)
        self._pending = []
        if self._world_size > 1:  # each rank holds its shard's part
            all_reduce(values)
        values = values.tolist()
        hub = MessageHub.get_current_instance()
        for value in values:
            hub.update_scalar(f'train/{self.regularizer}_reg', value)

    def after_train(self, runner) -> None:
        self.flush_log()
        for att in self._attachments:
            if att.handle is None:
                continue
            att.handle.remove()
            if att.original_clip_grad is not None:
                restore_clip_grad(att.optim_wrapper, att.original_clip_grad)
        self._attachments = []

    # -- the update ------------------------------------------------------------------------
    @staticmethod
    def _loss_scale_terms(att: _Attachment, before_clip: bool):
        """``(grad_scale, found_inf)`` device tensors a fused optimizer receives, or ``None``s.

        A fused optimizer's gradients are still scaled in its step pre-hook (``grad_scale`` set
        by the GradScaler); on the clip path they were unscaled, and ``found_inf`` comes from the
        scaler's per-optimizer state.
        """
        optimizer = att.optim_wrapper.optimizer
        grad_scale = getattr(optimizer, 'grad_scale', None)
        found_inf = getattr(optimizer, 'found_inf', None)
        scaler = getattr(att.optim_wrapper, 'loss_scaler', None)
        if before_clip and scaler is not None and scaler.is_enabled():
            from_scaler = found_inf_of(scaler, optimizer)
            if from_scaler is not None:
                found_inf = from_scaler
        return grad_scale, found_inf

    def _add_gradient(self, att: _Attachment, before_clip: bool) -> None:
        if att.added:
            return
        att.added = True
        convs = self._due_convs(att)
        if not convs:
            return
        value, grads = self.penalty(convs)
        grad_scale, found_inf = self._loss_scale_terms(att, before_clip)
        factor = self.coeff * self.interval
        if grad_scale is not None:
            factor = grad_scale.float() * factor
        if found_inf is not None:
            factor = (1 - found_inf.float()) * factor
        _add_scaled([c.weight for c in convs], grads, factor)
        self._record(value)

    def _add_sharded_gradient(self, att: _Attachment) -> None:
        """Write ``W * interval * coeff * grad`` (AMP-scaled like the loss) into this rank's
        convs' gradients before the backward; DDP's all-reduce averages it over the ranks."""
        convs = self._due_convs(att)
        if convs is None:
            return
        value, grads = self.penalty(convs) if convs else (None, [])
        scaler = getattr(att.optim_wrapper, 'loss_scaler', None)
        factor = self.coeff * self.interval * self._world_size
        if scaler is not None and convs:
            # the loss's scale, on the device, no host read
            factor = scaler.scale(torch.ones((), device=convs[0].weight.device)) * factor
        _add_scaled([c.weight for c in convs], grads, factor)
        # every rank records a value at the same steps (zero for an empty shard)
        self._record(value if value is not None else torch.zeros((), device=self._device))

    def _due_convs(self, att: _Attachment) -> Optional[List[nn.Conv2d]]:
        """Count one step (a window when sharded) of ``att``: ``None`` on the steps lazy
        regularisation skips, else its trainable convs (possibly none)."""
        att.steps += 1
        if (att.steps - 1) % self.interval:
            return None
        return [c for c in att.convs if c.weight.requires_grad]

    def _record(self, value: Tensor) -> None:
        self._last_value = value.detach().float()
        self._pending.append(self._last_value)
        if len(self._pending) >= max(self._flush_interval, 1) * 4:
            self.flush_log()  # no logger reading them: keep the list bounded
