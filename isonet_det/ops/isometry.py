"""The isometry regulariser of convolution kernels (Qi et al., ICML 2020, eq. 5/6).

For a kernel ``A`` of shape ``(M, C, kh, kw)`` write ``A_u`` for its ``M x C`` matrix at tap ``u``
and ``Conv(A, A)`` for its cross-correlation with itself, ``F.conv2d(A, A, padding=k-1)``: the
``(2kh-1) x (2kw-1)`` field of ``M x M`` matrices

    G_t = sum_u A_{u+t} A_u^T                                     (shift t, all taps u)

``A*`` is an isometry iff ``G_t = delta_t I`` (identity at t = 0, zero elsewhere). The penalty
(eq. 5/6, gamma left to the caller) is

    L(A) = 1/2 * sum_t || G_t - delta_t I ||_F^2.

As in the reference code it is taken on the smaller side (the ``C x C`` Gram of the transposed
kernel when ``C < M``), and a conv with stride ``s`` only penalises shifts that are multiples of
``s`` (``F.conv2d(A, A, padding=k-1, stride=s)``). Dilation ``d`` spaces the taps, so the shift of
a tap difference ``t`` is ``d * t``; grouped convs are block-diagonal and each group is penalised
as its own kernel.

Computation: stacking the taps as ``P = [A_1; ...; A_T]`` (``T*S x L``, ``S`` the smaller side)
gives every ``A_u A_v^T`` as a block of ``B = P P^T`` (one ``bmm`` for all kernels of one shape),
and ``G_t`` is the sum of the blocks on the block diagonal ``u - v = t``, summed in a fixed order
(no atomics: bit-identical on every rank). The gradient is ``dL/dP = 2 D P`` with ``D`` the block
matrix of ``E_{u-v} = G_{u-v} - delta I`` (zero for shifts the stride does not penalise): one
product instead of the two autograd would take. Products run in full float32 even with TF32
enabled, and kernels are processed in chunks of at most ``max_chunk_elements`` entries of ``B``, so
the transient memory is bounded (:func:`isometry_workspace_bytes`). Index tensors are built once
per shape and device: a training step moves nothing between host and device.
"""
from functools import lru_cache
from typing import Dict, Iterable, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.utils import to_2tuple
from torch import Tensor

from .precision import full_fp32_matmul

__all__ = [
    'isometry_penalty', 'isometry_penalty_and_grads', 'isometry_penalty_direct',
    'isometry_workspace_bytes', 'orthonormality_penalty', 'conv_kernel_gram',
    'DEFAULT_MAX_CHUNK_ELEMENTS'
]

# Entries of ``B = P P^T`` per chunk: 2**25 float32 = 128 MiB.
DEFAULT_MAX_CHUNK_ELEMENTS = 2**25


class _ShiftPlan:
    """Which tap pairs of a ``kh x kw`` kernel sum to which penalised shift.

    ``shifts``: the penalised shifts ``(ti, tj)`` in a fixed order, the centre ``(0, 0)`` first.
    ``pair_slot``: for each tap pair ``(u, v)`` (index ``u * T + v``) the position of ``u - v``
    in ``shifts``, or ``len(shifts)`` (a zero slot) when the stride does not penalise it.
    """

    def __init__(self, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int):
        self.kh, self.kw = kh, kw
        self.num_taps = kh * kw
        shifts = [(ti, tj) for ti in range(-(kh - 1), kh) for tj in range(-(kw - 1), kw)
                  if (ti * dh) % sh == 0 and (tj * dw) % sw == 0]
        shifts.remove((0, 0))
        self.shifts = [(0, 0)] + shifts
        position = {t: i for i, t in enumerate(self.shifts)}
        slots = [
            position.get((iu - iv, ju - jv), len(self.shifts)) for iu in range(kh)
            for ju in range(kw) for iv in range(kh) for jv in range(kw)
        ]
        self._pair_slot_cpu = torch.tensor(slots, dtype=torch.long)

    @lru_cache(maxsize=None)
    def pair_slot(self, device: torch.device) -> Tensor:
        """The slot index on ``device``, copied there once per process."""
        return self._pair_slot_cpu.to(device)


@lru_cache(maxsize=None)
def _shift_plan(kh, kw, sh, sw, dh, dw) -> _ShiftPlan:
    return _ShiftPlan(kh, kw, sh, sw, dh, dw)


def _gram_error(P: Tensor, plan: _ShiftPlan) -> Tensor:
    """``E_t = G_t - delta_t I`` for stacked taps ``P`` ``(N, T*S, L)``: ``(N, #shifts, S, S)``
    in ``plan.shifts`` order (centre first)."""
    N, TS, _ = P.shape
    kh, kw = plan.kh, plan.kw
    S = TS // plan.num_taps
    B = torch.bmm(P, P.transpose(1, 2)).view(N, kh, kw, S, kh, kw, S)
    E = P.new_empty(N, len(plan.shifts), S, S)
    for k, (ti, tj) in enumerate(plan.shifts):
        # G_t = sum over taps v = (i, j) with u = v + t inside the kernel of B[u, v]
        i0, i1 = max(0, -ti), min(kh, kh - ti)
        j0, j1 = max(0, -tj), min(kw, kw - tj)
        G = None
        for i in range(i0, i1):
            for j in range(j0, j1):
                block = B[:, i + ti, j + tj, :, i, j, :]
                G = block.clone() if G is None else G.add_(block)
        E[:, k] = G
    E[:, 0].diagonal(dim1=-2, dim2=-1).sub_(1.0)
    return E


def _grad_taps(P: Tensor, E: Tensor, plan: _ShiftPlan) -> Tensor:
    """``dL/dP = 2 D P`` with ``D[u, v] = E_{u-v}`` (zero for unpenalised shifts)."""
    N, TS, _ = P.shape
    T = plan.num_taps
    S = TS // T
    if T == 1:
        D = E[:, 0]
    else:
        E = torch.cat([E, E.new_zeros(N, 1, S, S)], dim=1)
        D = E[:, plan.pair_slot(P.device)].view(N, T, T, S, S).transpose(2, 3).reshape(N, TS, TS)
    return torch.bmm(D, P).mul_(2.0)


class _IsometryPenalty(torch.autograd.Function):
    """Per-kernel ``1/2 sum_t ||G_t - delta_t I||^2`` for stacked taps ``P`` ``(N, T*S, L)``."""

    @staticmethod
    def forward(ctx, P, plan):
        with full_fp32_matmul(P.device.type):
            E = _gram_error(P, plan)
        ctx.save_for_backward(P, E)
        ctx.plan = plan
        return 0.5 * E.pow(2).sum(dim=(1, 2, 3))

    @staticmethod
    def backward(ctx, grad_out):
        P, E = ctx.saved_tensors
        with full_fp32_matmul(P.device.type):
            grad_P = _grad_taps(P, E, ctx.plan)
        return grad_P.mul_(grad_out.view(-1, 1, 1)), None


def _stacked_taps(weight: Tensor) -> Tensor:
    """Kernel ``(C_out, C_in, kh, kw)`` -> taps ``(kh*kw*S, L)``, ``S = min(C_out, C_in)``."""
    out_channels, in_channels = weight.shape[:2]
    if out_channels <= in_channels:  # rows: G is C_out x C_out
        return weight.permute(2, 3, 0, 1).reshape(-1, in_channels)
    return weight.permute(2, 3, 1, 0).reshape(-1, out_channels)  # columns: G is C_in x C_in


def _unstack_taps(grad_taps: Tensor, shape: torch.Size) -> Tensor:
    """Inverse of :func:`_stacked_taps`: ``(kh*kw*S, L)`` -> ``(O, I, kh, kw)``."""
    out_channels, in_channels, kh, kw = shape
    if out_channels <= in_channels:
        return grad_taps.view(kh, kw, out_channels, in_channels).permute(2, 3, 0, 1)
    return grad_taps.view(kh, kw, in_channels, out_channels).permute(3, 2, 0, 1)


def _check_penalty_args(convs, reduction: str, name: str):
    """Validate the arguments of a penalty; return ``(list of convs, device, compute dtype)``."""
    if reduction not in ('sum', 'none'):
        raise ValueError(f"reduction must be 'sum' or 'none', got {reduction!r}")
    convs = list(convs)
    for conv in convs:
        if not isinstance(conv, nn.Conv2d):
            raise TypeError(f'{name} takes nn.Conv2d modules, got {type(conv).__name__}')
    if not convs:
        return convs, None, None
    return (convs, convs[0].weight.device, torch.promote_types(convs[0].weight.dtype,
                                                               torch.float32))


def _chunks(convs: List[nn.Conv2d], dtype, max_chunk_elements: int):
    """Group the kernels (one per conv group) by shape; yield ``(plan, owners, P)`` chunks.

    ``owners`` lists ``(conv index, group index)`` of each row of ``P`` ``(N, T*S, L)``, and
    ``N * (T*S)**2 <= max_chunk_elements`` unless a single kernel is larger.
    """
    buckets: Dict[tuple, List[Tuple[int, int, Tensor]]] = {}
    for i, conv in enumerate(convs):
        w = conv.weight.to(dtype)
        kh, kw = w.shape[-2:]
        geometry = (kh, kw) + to_2tuple(conv.stride) + to_2tuple(conv.dilation)
        for g, wg in enumerate(w.chunk(conv.groups, dim=0)):
            taps = _stacked_taps(wg)
            buckets.setdefault(geometry + tuple(taps.shape), []).append((i, g, taps))
    for key, items in buckets.items():
        plan = _shift_plan(*key[:6])
        per_kernel = key[6]**2
        size = max(1, max_chunk_elements // per_kernel)
        for start in range(0, len(items), size):
            part = items[start:start + size]
            yield plan, [(i, g) for i, g, _ in part], torch.stack([t for _, _, t in part])


def isometry_penalty(convs: Iterable[nn.Conv2d],
                     reduction: str = 'sum',
                     max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS) -> Tensor:
    """Isometry regulariser ``sum_l 1/2 ||Conv(A_l, A_l) - delta||_F^2`` (paper eq. 5/6).

    Args:
        convs: ``nn.Conv2d`` modules (subclasses included). Their weights keep their graph, so the
            result is differentiable with respect to them.
        reduction: ``'sum'`` (a 0-dim tensor) or ``'none'`` (one value per conv, in input order).
        max_chunk_elements: bound on the entries of one chunk's tap-product matrix.

    Returns:
        float32 tensor (float64 if the weights are float64), computed with autocast disabled
        and in full float32 precision (no TF32).
    """
    convs, device, dtype = _check_penalty_args(convs, reduction, 'isometry_penalty')
    if not convs:
        return torch.zeros(0 if reduction == 'none' else (), dtype=torch.float32)
    per_conv: List[List[Tensor]] = [[] for _ in convs]
    with torch.autocast(device_type=device.type, enabled=False):
        for plan, owners, P in _chunks(convs, dtype, max_chunk_elements):
            values = _IsometryPenalty.apply(P, plan)
            for (i, _), value in zip(owners, values.unbind(0)):
                per_conv[i].append(value)
    values = torch.stack([torch.stack(v).sum() for v in per_conv])
    return values.sum() if reduction == 'sum' else values


@torch.no_grad()
def isometry_penalty_and_grads(
        convs: Iterable[nn.Conv2d],
        max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS) -> Tuple[Tensor, List[Tensor]]:
    """The penalty of :func:`isometry_penalty` and its gradient for each conv's weight.

    No autograd graph: each chunk's Grams are formed, turned into its value and gradient and
    freed before the next chunk, so the transient memory is one chunk's
    (:func:`isometry_workspace_bytes`). Returns ``(value, grads)``, ``value`` a 0-dim float32
    tensor on the weights' device (not read back to the host), ``grads[i]`` shaped and typed like
    ``convs[i].weight``.
    """
    convs, device, dtype = _check_penalty_args(convs, 'sum', 'isometry_penalty_and_grads')
    if not convs:
        return torch.zeros(()), []
    group_grads: List[List[Optional[Tensor]]] = [[None] * c.groups for c in convs]
    total = torch.zeros((), dtype=dtype, device=device)
    with torch.autocast(device_type=device.type, enabled=False), \
            full_fp32_matmul(device.type):
        for plan, owners, P in _chunks(convs, dtype, max_chunk_elements):
            E = _gram_error(P, plan)
            total += 0.5 * E.pow(2).sum()
            grad_P = _grad_taps(P, E, plan)
            del E
            for (i, g), grad in zip(owners, grad_P.unbind(0)):
                shape = convs[i].weight.shape
                group_shape = (shape[0] // convs[i].groups, ) + tuple(shape[1:])
                group_grads[i][g] = _unstack_taps(grad, group_shape)
    grads = [
        torch.cat(gs, dim=0).to(c.weight.dtype)
        if len(gs) > 1 else gs[0].to(c.weight.dtype).contiguous()
        for gs, c in zip(group_grads, convs)
    ]
    return total, grads


def isometry_workspace_bytes(convs: Iterable[nn.Conv2d],
                             max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS) -> int:
    """Peak transient bytes of :func:`isometry_penalty_and_grads` beyond weights and gradients.

    The largest chunk holds ``P`` (its taps), ``B = P P^T`` and the shift errors ``E`` during the
    forward, then ``E``, the block matrix ``D`` (as large as ``B``) and ``D P`` during the
    backward; the largest of the two phases over all chunks, in float32.
    """
    convs = list(convs)
    peak = 0
    for plan, _, P in _chunks(convs, torch.float32, max_chunk_elements):
        N, TS, L = P.shape
        S = TS // plan.num_taps
        e = N * len(plan.shifts) * S * S
        forward = P.numel() + N * TS * TS + e
        backward = P.numel() + e + N * (len(plan.shifts) + 1) * S * S + N * TS * TS + P.numel()
        peak = max(peak, forward, backward)
    return 4 * peak


def conv_kernel_gram(weight: Tensor, stride=1, dilation=1) -> Tensor:
    """``Conv(A, A)`` on the smaller side: ``(S, S, 2kh-1, 2kw-1)`` with ``G[:, :, t] = G_t``.

    Shifts that the stride does not penalise are zero. For diagnostics; the penalty does not
    need it. ``weight``: ``(O, I, kh, kw)`` (one group).
    """
    kh, kw = weight.shape[-2:]
    plan = _shift_plan(kh, kw, *to_2tuple(stride), *to_2tuple(dilation))
    P = _stacked_taps(weight.to(torch.promote_types(weight.dtype, torch.float32)))[None]
    with full_fp32_matmul(weight.device.type):
        E = _gram_error(P, plan)[0]
    E[0].diagonal().add_(1.0)
    S = E.shape[-1]
    G = E.new_zeros(2 * kh - 1, 2 * kw - 1, S, S)
    for k, (ti, tj) in enumerate(plan.shifts):
        G[ti + kh - 1, tj + kw - 1] = E[k]
    return G.permute(2, 3, 0, 1)


def isometry_penalty_direct(convs: Iterable[nn.Conv2d]) -> Tensor:
    """The reference code's form: one ``F.conv2d(A, A, padding=k-1, stride=s)`` per layer.

    ``1/2 ||Conv(A, A) - delta||_F^2`` on the smaller side (operand and operator transposed when
    ``C_in < C_out``). Slow: the oracle of the tests and the baseline that
    ``tools/benchmarks/bench_isometry_penalty.py`` measures against. Grouped and dilated convs
    are not supported here.
    """
    total = None
    for conv in convs:
        w = conv.weight.to(torch.promote_types(conv.weight.dtype, torch.float32))
        if w.shape[0] > w.shape[1]:
            w = w.transpose(0, 1)
        k = w.shape[-1]
        gram = torch.nn.functional.conv2d(w, w, padding=k - 1, stride=conv.stride)
        target = torch.zeros_like(gram)
        c = gram.shape[-1] // 2
        target[:, :, c, c] = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
        value = ((gram - target)**2).sum() / 2
        total = value if total is None else total + value
    return total if total is not None else torch.zeros(())


def orthonormality_penalty(convs: Iterable[nn.Conv2d], reduction: str = 'sum') -> Tensor:
    """Xie, Xiong, Pu (CVPR 2017): ``sum_l 1/2 ||W_l W_l^T - I||_F^2`` with ``W_l`` the flattened
    filter bank ``(C_out, C_in * kh * kw)``, on its smaller side (``W^T W`` when
    ``C_out > C_in kh kw``). No spatial shifts, so cheaper than :func:`isometry_penalty`; for a
    1x1 conv the two are equal. Same conventions (1/2 factor, float32, autocast off, per group).
    """
    convs, device, dtype = _check_penalty_args(convs, reduction, 'orthonormality_penalty')
    if not convs:
        return torch.zeros(0 if reduction == 'none' else (), dtype=torch.float32)
    values = []
    with torch.autocast(device_type=device.type, enabled=False), \
            full_fp32_matmul(device.type):
        for conv in convs:
            value = conv.weight.new_zeros((), dtype=dtype)
            for wg in conv.weight.to(dtype).chunk(conv.groups, dim=0):
                W = wg.flatten(1)
                if W.shape[0] > W.shape[1]:
                    W = W.T
                gram = W @ W.T
                gram.diagonal().sub_(1.0)
                value = value + 0.5 * gram.pow(2).sum()
            values.append(value)
    values = torch.stack(values)
    return values.sum() if reduction == 'sum' else values
