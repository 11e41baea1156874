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

Instead of one ``F.conv2d`` per layer, all tap products come from one matrix product: stacking
the taps as ``P = [A_1; ...; A_T]`` (``T*S x L``, ``S`` the smaller side) gives every
``A_u A_v^T`` as a block of ``P P^T``, and each ``G_t`` is the sum of the blocks with
``u - v = t``. Kernels of equal shape are batched into one ``bmm``. The backward pass uses the
symmetry of the problem: ``dL/dP = 2 D P`` with ``D`` the block matrix of ``G_{u-v} - delta``,
one product instead of the two autograd would take.
"""
from functools import lru_cache
from typing import Dict, Iterable, List, Tuple

import torch
import torch.nn as nn
from torch import Tensor

__all__ = ['isometry_penalty', 'isometry_penalty_direct', 'orthonormality_penalty',
           'conv_kernel_gram']


@lru_cache(maxsize=None)
def _pair_to_shift(kh: int, kw: int, sh: int, sw: int, dh: int,
                   dw: int) -> Tuple[Tensor, int, int]:
    """Map each tap pair ``(u, v)`` (index ``u * T + v``) to the shift ``u - v``.

    Returns ``(index, num_shifts, centre)``; pairs whose shift is not penalised under the stride
    map to the extra slot ``num_shifts``.
    """
    num_shifts = (2 * kh - 1) * (2 * kw - 1)
    taps = [(i, j) for i in range(kh) for j in range(kw)]
    index = []
    for iu, ju in taps:
        for iv, jv in taps:
            ti, tj = iu - iv, ju - jv
            penalised = (ti * dh) % sh == 0 and (tj * dw) % sw == 0
            index.append((ti + kh - 1) * (2 * kw - 1) + (tj + kw - 1) if penalised else num_shifts)
    centre = (kh - 1) * (2 * kw - 1) + (kw - 1)
    return torch.tensor(index, dtype=torch.long), num_shifts, centre


def _gram_error(P: Tensor, pair_index: Tensor, num_shifts: int, centre: int,
                num_taps: int) -> Tensor:
    """``E_t = G_t - delta_t I`` for a batch of stacked taps ``P`` of shape ``(N, T*S, L)``.

    Returns ``(N, num_shifts, S, S)`` (shifts not penalised are zero).
    """
    N, TS, _ = P.shape
    S = TS // num_taps
    B = torch.bmm(P, P.transpose(1, 2))                                # (N, T*S, T*S)
    if num_taps == 1:
        G = B.unsqueeze(1)
    else:
        blocks = B.view(N, num_taps, S, num_taps, S).transpose(2, 3)   # (N, T, T, S, S)
        blocks = blocks.reshape(N, num_taps * num_taps, S, S)
        G = P.new_zeros(N, num_shifts + 1, S, S).index_add_(1, pair_index, blocks)
        G = G[:, :num_shifts]
    G[:, centre].diagonal(dim1=-2, dim2=-1).sub_(1.0)
    return G


class _IsometryPenalty(torch.autograd.Function):
    """Per-kernel ``1/2 sum_t ||G_t - delta_t I||^2`` for stacked taps ``P`` ``(N, T*S, L)``."""

    @staticmethod
    def forward(ctx, P, pair_index, num_shifts, centre, num_taps):
        E = _gram_error(P, pair_index, num_shifts, centre, num_taps)
        ctx.save_for_backward(P, E, pair_index)
        ctx.num_taps = num_taps
        return 0.5 * E.pow(2).sum(dim=(1, 2, 3))

    @staticmethod
    def backward(ctx, grad_out):
        P, E, pair_index = ctx.saved_tensors
        T = ctx.num_taps
        N, TS, _ = P.shape
        S = TS // T
        if T == 1:
            D = E[:, 0]
        else:
            E = torch.cat([E, E.new_zeros(N, 1, S, S)], dim=1)        # slot for unpenalised
            D = E[:, pair_index].view(N, T, T, S, S).transpose(2, 3).reshape(N, TS, TS)
        grad_P = torch.bmm(D, P).mul_((2.0 * grad_out).view(N, 1, 1))
        return grad_P, None, None, None, None


def _as_pair(v) -> Tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _stacked_taps(weight: Tensor) -> Tensor:
    """Kernel ``(O, I, kh, kw)`` -> taps ``(kh*kw*S, L)`` on the smaller side ``S = min(O, I)``."""
    O, I = weight.shape[:2]
    if O <= I:   # rows: G is O x O
        return weight.permute(2, 3, 0, 1).reshape(-1, I)
    return weight.permute(2, 3, 1, 0).reshape(-1, O)   # columns: G is I x I


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
    return (convs, convs[0].weight.device,
            torch.promote_types(convs[0].weight.dtype, torch.float32))


def isometry_penalty(convs: Iterable[nn.Conv2d], reduction: str = 'sum') -> Tensor:
    """Isometry regulariser ``sum_l 1/2 ||Conv(A_l, A_l) - delta||_F^2`` (paper eq. 5/6).

    Args:
        convs: ``nn.Conv2d`` modules (subclasses included). Their weights keep their graph, so the
            result is differentiable with respect to them.
        reduction: ``'sum'`` (a 0-dim tensor) or ``'none'`` (one value per conv, in input order).

    Returns:
        float32 tensor (float64 if the weights are float64), computed with autocast disabled.
    """
    convs, device, dtype = _check_penalty_args(convs, reduction, 'isometry_penalty')
    if not convs:
        return torch.zeros(0 if reduction == 'none' else (), dtype=torch.float32)

    # Group the kernels (per conv group) by everything that fixes the shape of the computation.
    buckets: Dict[tuple, List[Tuple[int, Tensor]]] = {}
    with torch.autocast(device_type=device.type, enabled=False):
        for i, conv in enumerate(convs):
            w = conv.weight.to(dtype)
            kh, kw = w.shape[-2:]
            geometry = (kh, kw) + _as_pair(conv.stride) + _as_pair(conv.dilation)
            for wg in w.chunk(conv.groups, dim=0):
                taps = _stacked_taps(wg)
                buckets.setdefault(geometry + tuple(taps.shape), []).append((i, taps))

        per_conv = []
        owners = []
        for key, items in buckets.items():
            kh, kw, sh, sw, dh, dw = key[:6]
            pair_index, num_shifts, centre = _pair_to_shift(kh, kw, sh, sw, dh, dw)
            P = torch.stack([taps for _, taps in items])
            values = _IsometryPenalty.apply(P, pair_index.to(device), num_shifts, centre, kh * kw)
            per_conv.append(values)
            owners.extend(i for i, _ in items)
        values = torch.cat(per_conv)
        if reduction == 'sum':
            return values.sum()
        owners = torch.tensor(owners, device=device)
        return values.new_zeros(len(convs)).index_add(0, owners, values)


def conv_kernel_gram(weight: Tensor, stride=1, dilation=1) -> Tensor:
    """``Conv(A, A)`` on the smaller side: ``(S, S, 2kh-1, 2kw-1)`` with ``G[:, :, t] = G_t``.

    Shifts that the stride does not penalise are zero. For diagnostics; the penalty does not
    need it. ``weight``: ``(O, I, kh, kw)`` (one group).
    """
    kh, kw = weight.shape[-2:]
    pair_index, num_shifts, centre = _pair_to_shift(
        kh, kw, *_as_pair(stride), *_as_pair(dilation))
    P = _stacked_taps(weight.to(torch.promote_types(weight.dtype, torch.float32)))[None]
    E = _gram_error(P, pair_index.to(weight.device), num_shifts, centre, kh * kw)[0]
    E[centre].diagonal().add_(1.0)
    S = E.shape[-1]
    return E.view(2 * kh - 1, 2 * kw - 1, S, S).permute(2, 3, 0, 1)


def isometry_penalty_direct(convs: Iterable[nn.Conv2d]) -> Tensor:
    """The reference code's form: one ``F.conv2d(A, A, padding=k-1, stride=s)`` per layer.

    Slow; kept as the baseline that ``tools/benchmarks/bench_isometry_penalty.py`` measures
    ``isometry_penalty`` against. Grouped and dilated convs are not supported here.
    """
    total = None
    for conv in convs:
        w = conv.weight.float()
        if w.shape[0] > w.shape[1]:
            w = w.transpose(0, 1)
        k = w.shape[-1]
        gram = torch.nn.functional.conv2d(w, w, padding=k - 1, stride=conv.stride)
        target = torch.zeros_like(gram)
        c = gram.shape[-1] // 2
        target[:, :, c, c] = torch.eye(gram.shape[0], device=gram.device)
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
    with torch.autocast(device_type=device.type, enabled=False):
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
