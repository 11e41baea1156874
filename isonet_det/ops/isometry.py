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

Computation, per kernel geometry the form with fewer multiply-adds (both exact, with analytic
backward passes, one product each where autograd would take two):

- tap pairs (:class:`_TapPairPlan`; 1x1 and strided kernels): with the taps stacked as
  ``P = [A_1; ...; A_T]`` (``T*S x L``, ``S`` the smaller side), every ``A_u A_v^T`` is a block of
  ``P P^T`` (one ``bmm`` for all kernels of one shape), ``G_t`` sums its blocks with ``u - v = t``
  in a fixed order (no atomics: bit-identical on every rank) and ``dL/dP = 2 D P`` with ``D`` the
  block matrix of ``E_{u-v} = G_{u-v} - delta I``. A stride only pairs taps of one residue class,
  so only those products are formed (25 instead of 81 for a 3x3 kernel at stride 2).
- Parseval (:class:`_SpectralPlan`; kernels with every shift penalised, e.g. 3x3 at stride 1):
  the sum over shifts is a sum over the ``(2kh-1) x (2kw-1)`` DFT frequencies of
  ``||Â Â^H - I||^2``, half of them by conjugate symmetry: 91 products instead of 162 for 3x3.

Products run in full float32 whatever the user's TF32 setting (``precision='split_tf32'`` opts
into 3xTF32 tensor-core products, :class:`~isonet_det.ops.precision.Products`). Kernels are
processed in chunks of at most ``max_chunk_elements`` workspace entries, so the transient memory
is bounded (:func:`isometry_workspace_bytes`). Index and DFT tables are built once per shape and
device: a training step moves nothing between host and device.
"""
import math
from functools import lru_cache
from math import gcd
from typing import Dict, Iterable, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.utils import to_2tuple
from torch import Tensor

from .precision import Products, full_fp32_matmul

__all__ = [
    'isometry_penalty', 'isometry_penalty_and_grads', 'isometry_penalty_direct',
    'isometry_workspace_bytes', 'isometry_macs', 'orthonormality_penalty', 'conv_kernel_gram',
    'DEFAULT_MAX_CHUNK_ELEMENTS'
]

# Entries of ``B = P P^T`` per chunk: 2**25 float32 = 128 MiB.
DEFAULT_MAX_CHUNK_ELEMENTS = 2**25


class _TapClass:
    """Taps of one residue class (mod the penalised shift lattice) of a kernel."""

    def __init__(self, taps: List[Tuple[int, int]], position: Dict[Tuple[int, int], int]):
        self.size = len(taps)
        # (a, b, slot): block (a, b) of the class's tap products adds to shift ``position[u-v]``
        self.pairs = [(a, b, position[(iu - iv, ju - jv)]) for a, (iu, ju) in enumerate(taps)
                      for b, (iv, jv) in enumerate(taps)]
        self._pair_slot_cpu = torch.tensor([slot for _, _, slot in self.pairs], dtype=torch.long)

    @lru_cache(maxsize=None)
    def pair_slot(self, device: torch.device) -> Tensor:
        """``slot`` of every pair ``(a, b)`` (index ``a * size + b``) on ``device``, made once."""
        return self._pair_slot_cpu.to(device)


class _TapPairPlan:
    """The tap-pair form: ``G_t`` summed from products of taps, for one kernel geometry.

    A conv with stride ``s`` and dilation ``d`` penalises the tap differences that are multiples
    of ``m = s / gcd(s, d)`` on each axis, and those only pair taps of the same residue class mod
    ``m`` (polyphase). With one class's taps stacked as ``P_c = [A_u; ...]`` (``k_c S x L``),
    every product ``A_u A_v^T`` of a penalised pair is a block of ``P_c P_c^T``, so the forward
    costs ``sum_c k_c^2`` products of ``S x L`` by ``L x S`` (81 for a 3x3 kernel at stride 1,
    25 at stride 2, 1 for a 1x1), and the backward ``dL/dP_c = 2 D_c P_c`` (``D_c[u, v] =
    E_{u-v}``) as many.

    ``shifts``: the penalised tap differences ``(ti, tj)``, centre ``(0, 0)`` first. Taps are
    kernel-major, ``P`` ``(N, T*S, L)``.
    """

    tap_major = False

    def __init__(self, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int):
        mh, mw = sh // gcd(sh, dh), sw // gcd(sw, dw)
        self.kh, self.kw = kh, kw
        self.num_taps = kh * kw
        shifts = [(ti, tj) for ti in range(-(kh - 1), kh) for tj in range(-(kw - 1), kw)
                  if ti % mh == 0 and tj % mw == 0 and (ti, tj) != (0, 0)]
        self.shifts = [(0, 0)] + shifts
        position = {t: k for k, t in enumerate(self.shifts)}
        classes = [[(i, j) for i in range(ri, kh, mh) for j in range(rj, kw, mw)]
                   for ri in range(min(mh, kh)) for rj in range(min(mw, kw))]
        self.classes = [_TapClass(taps, position) for taps in classes]
        order = [i * kw + j for taps in classes for i, j in taps]
        self._order_cpu = None
        if order != list(range(self.num_taps)):
            self._order_cpu = torch.tensor(order, dtype=torch.long)
            self._inverse_cpu = torch.argsort(self._order_cpu)

    def macs(self, S: int, L: int) -> int:
        """Multiply-adds of forward + backward for one ``S x L``-tap kernel."""
        return 2 * sum(c.size**2 for c in self.classes) * S * S * L

    def workspace(self, S: int, L: int) -> int:
        """Largest entries held at once for one kernel (taps in class order, the errors, the
        largest class's products and ``D_c``, the gradient)."""
        largest = max(c.size for c in self.classes)
        errors = len(self.shifts) * S * S
        return 2 * self.num_taps * S * L + errors + 2 * (largest * S)**2

    @lru_cache(maxsize=None)
    def _permutation(self, device: torch.device, inverse: bool) -> Tensor:
        return (self._inverse_cpu if inverse else self._order_cpu).to(device)

    def forward(self, P: Tensor, products: Products) -> Tuple[Tensor, tuple]:
        """Per-kernel values ``1/2 sum_t ||E_t||^2`` of stacked taps ``P`` ``(N, T*S, L)``."""
        N, TS, L = P.shape
        S = TS // self.num_taps
        taps = P.view(N, self.num_taps, S, L)
        if self._order_cpu is not None:  # group the taps by class (a gather)
            taps = taps[:, self._permutation(P.device, False)]
        E = P.new_zeros(N, len(self.shifts), S, S)
        start = 0
        for cls in self.classes:
            Pc = taps[:, start:start + cls.size].reshape(N, cls.size * S, L)
            start += cls.size
            B = products.gram(Pc).view(N, cls.size, S, cls.size, S)
            for a, b, slot in cls.pairs:  # fixed order: bit-identical on every rank
                E[:, slot].add_(B[:, a, :, b, :])
        E[:, 0].diagonal(dim1=-2, dim2=-1).sub_(1.0)
        return 0.5 * E.pow(2).sum(dim=(1, 2, 3)), (taps, E)

    def backward(self, state: tuple, products: Products) -> Tensor:
        """``dL/dP`` ``(N, T*S, L)`` of the per-kernel values (each with weight 1)."""
        taps, E = state
        N, T, S, L = taps.shape
        grads, start = [], 0
        for cls in self.classes:
            Pc = taps[:, start:start + cls.size].reshape(N, cls.size * S, L)
            start += cls.size
            D = E[:, cls.pair_slot(E.device)].view(N, cls.size, cls.size, S, S)
            D = D.transpose(2, 3).reshape(N, cls.size * S, cls.size * S)
            grads.append(products.matmul(D, Pc).mul_(2.0).view(N, cls.size, S, L))
        grad = grads[0] if len(grads) == 1 else torch.cat(grads, dim=1)
        if self._order_cpu is not None:
            grad = grad[:, self._permutation(grad.device, True)]
        return grad.reshape(N, T * S, L)


class _SpectralPlan:
    """The Parseval form of the penalty, for kernels whose every shift is penalised (stride 1).

    Zero-padding the taps to ``n_h x n_w = (2kh-1) x (2kw-1)`` and taking the 2-D DFT
    ``Â(w) = sum_u A_u exp(-i w.u) = X(w) + i Y(w)`` turns the shift field into
    ``Ĝ(w) = Â(w) Â(w)^H`` with no wrap-around, so by Parseval

        L = 1/2 sum_t ||G_t - delta_t I||^2 = 1/(2 n_h n_w) sum_w ||Â(w) Â(w)^H - I||^2.

    The taps are real, so ``Ĝ(-w) = conj(Ĝ(w))`` and only ``F = (n_h n_w + 1) / 2`` frequencies
    are computed (13 for 3x3), the others counted twice. ``Ĝ - I = E_r + i E_i`` with
    ``E_r = X X^T + Y Y^T - I`` and ``E_i = Y X^T - (Y X^T)^T`` costs 3 real products, and the
    gradient ``dL/dÂ = 2 (Ĝ - I) Â / (n_h n_w)`` (Wirtinger), i.e. ``dX = 2(E_r X - E_i Y)``,
    ``dY = 2(E_i X + E_r Y)``, 4 more; the inverse DFT maps it back to the taps. ``7F`` products
    of ``S x L`` by ``L x S`` in all (91 for 3x3) against the tap-pair form's ``2 (kh kw)^2``
    (162).

    Taps are tap-major, ``P`` ``(T, N, S, L)``, so that the DFT is one matrix product and every
    frequency's ``X`` and ``Y`` are contiguous ``(F*N, S, L)`` batches.
    """

    tap_major = True

    def __init__(self, kh: int, kw: int):
        nh, nw = 2 * kh - 1, 2 * kw - 1
        self.num_taps = kh * kw
        freqs = [(a, b) for a in range(nh) for b in range(nw) if (a, b) <= (-a % nh, -b % nw)]
        self.num_freqs = len(freqs)
        angle = torch.tensor(
            [[2 * math.pi * (a * i / nh + b * j / nw) for i in range(kh) for j in range(kw)]
             for a, b in freqs],
            dtype=torch.float64)
        # rows: Re exp(-i w.u) of every frequency, then Im: (2F, T)
        self._basis_cpu = torch.cat([angle.cos(), -angle.sin()])
        # each frequency stands for itself and its conjugate, except w = 0
        weight = [(1.0 if (a, b) == (0, 0) else 2.0) / (nh * nw) for a, b in freqs]
        self._weight_cpu = torch.tensor(weight, dtype=torch.float64)

    def macs(self, S: int, L: int) -> int:
        return 7 * self.num_freqs * S * S * L + 4 * self.num_freqs * self.num_taps * S * L

    def workspace(self, S: int, L: int) -> int:
        """Largest entries held at once for one kernel: the taps, the spectrum ``(2F, S, L)``,
        its gradient, the errors ``E_r, E_i`` and their weighted copies ``(F, S, S)`` each."""
        F = self.num_freqs
        return self.num_taps * S * L + 4 * F * S * L + 4 * F * S * S

    @lru_cache(maxsize=None)
    def tables(self, device: torch.device, dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
        """The DFT rows and the frequency weights on ``device``, made once."""
        return self._basis_cpu.to(device, dtype), self._weight_cpu.to(device, dtype)

    def forward(self, P: Tensor, products: Products) -> Tuple[Tensor, tuple]:
        """Per-kernel values of tap-major taps ``P`` ``(T, N, S, L)``."""
        T, N, S, L = P.shape
        F = self.num_freqs
        basis, weight = self.tables(P.device, P.dtype)
        V = products.matmul(basis, P.view(T, N * S * L)).view(2, F * N, S, L)
        X, Y = V[0], V[1]
        Er = products.gram(X).add_(products.gram(Y))
        Er.diagonal(dim1=-2, dim2=-1).sub_(1.0)
        YX = products.matmul(Y, X.transpose(1, 2))
        Ei = YX.sub_(YX.transpose(1, 2).clone())
        per_freq = (torch.linalg.vector_norm(Er, dim=(1, 2)).square() +
                    torch.linalg.vector_norm(Ei, dim=(1, 2)).square()).view(F, N)
        return 0.5 * (weight @ per_freq), (V, Er, Ei)

    def backward(self, state: tuple, products: Products) -> Tensor:
        """``dL/dP`` ``(T, N, S, L)`` of the per-kernel values (each with weight 1)."""
        V, Er, Ei = state
        _, FN, S, L = V.shape
        F = self.num_freqs
        N = FN // F
        basis, weight = self.tables(V.device, V.dtype)
        scale = (2.0 * weight).repeat_interleave(N).view(FN, 1, 1)
        Er, Ei = Er * scale, Ei * scale
        X, Y = V[0], V[1]
        grad_X = products.addmatmul(products.matmul(Er, X), Ei, Y, alpha=-1.0)
        grad_Y = products.addmatmul(products.matmul(Ei, X), Er, Y)
        grad = products.matmul(basis[:F].T, grad_X.view(F, N * S * L))
        grad = products.addmatmul(grad, basis[F:].T, grad_Y.view(F, N * S * L))
        return grad.view(self.num_taps, N, S, L)


@lru_cache(maxsize=None)
def _tap_pair_plan(kh, kw, sh, sw, dh, dw) -> _TapPairPlan:
    return _TapPairPlan(kh, kw, sh, sw, dh, dw)


@lru_cache(maxsize=None)
def _kernel_plan(kh, kw, sh, sw, dh, dw, S, L):
    """The cheaper exact form (fewer multiply-adds) for this kernel geometry and size."""
    pairs = _tap_pair_plan(kh, kw, sh, sw, dh, dw)
    if len(pairs.classes) == 1 and pairs.num_taps > 1:
        spectral = _SpectralPlan(kh, kw)
        if spectral.macs(S, L) < pairs.macs(S, L):
            return spectral
    return pairs


class _IsometryPenalty(torch.autograd.Function):
    """Per-kernel ``1/2 sum_t ||G_t - delta_t I||^2`` for stacked taps ``P`` ``(N, T*S, L)``."""

    @staticmethod
    def forward(ctx, P, plan, products):
        with products.context(P.device.type):
            values, state = plan.forward(P, products)
        ctx.save_for_backward(*state)
        ctx.plan, ctx.products = plan, products
        return values

    @staticmethod
    def backward(ctx, grad_out):
        with ctx.products.context(grad_out.device.type):
            grad_P = ctx.plan.backward(ctx.saved_tensors, ctx.products)
        per_kernel = grad_out.view(1, -1, 1, 1) if ctx.plan.tap_major else grad_out.view(-1, 1, 1)
        return grad_P.mul_(per_kernel), None, None


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
        return grad_taps.reshape(kh, kw, out_channels, in_channels).permute(2, 3, 0, 1)
    return grad_taps.reshape(kh, kw, in_channels, out_channels).permute(3, 2, 0, 1)


def _plan_key(conv: nn.Conv2d) -> tuple:
    """``(kh, kw, sh, sw, dh, dw, S, L)`` of each of ``conv``'s group kernels: its geometry and
    its smaller and larger side (the key of :func:`_kernel_plan`)."""
    out_channels, in_channels, kh, kw = conv.weight.shape
    S, L = sorted((out_channels // conv.groups, in_channels))
    return (kh, kw) + to_2tuple(conv.stride) + to_2tuple(conv.dilation) + (S, L)


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
    ``N * plan.workspace(S, L) <= max_chunk_elements`` unless a single kernel is larger.
    """
    buckets: Dict[tuple, List[Tuple[int, int, Tensor]]] = {}
    for i, conv in enumerate(convs):
        key = _plan_key(conv)
        for g, wg in enumerate(conv.weight.to(dtype).chunk(conv.groups, dim=0)):
            buckets.setdefault(key, []).append((i, g, _stacked_taps(wg)))
    for key, items in buckets.items():
        plan = _kernel_plan(*key)
        size = max(1, max_chunk_elements // plan.workspace(*key[6:]))
        for start in range(0, len(items), size):
            part = items[start:start + size]
            taps = [
                t.view(plan.num_taps, -1, t.shape[1]) if plan.tap_major else t for _, _, t in part
            ]
            P = torch.stack(taps, dim=1 if plan.tap_major else 0)
            yield plan, [(i, g) for i, g, _ in part], P


def isometry_penalty(convs: Iterable[nn.Conv2d],
                     reduction: str = 'sum',
                     max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
                     precision: str = 'ieee') -> Tensor:
    """Isometry regulariser ``sum_l 1/2 ||Conv(A_l, A_l) - delta||_F^2`` (paper eq. 5/6).

    Args:
        convs: ``nn.Conv2d`` modules (subclasses included). Their weights keep their graph, so the
            result is differentiable with respect to them.
        reduction: ``'sum'`` (a 0-dim tensor) or ``'none'`` (one value per conv, in input order).
        max_chunk_elements: bound on the entries of one chunk's tap-product matrix.
        precision: ``'ieee'`` (default: float32 products, no TF32) or ``'split_tf32'``
            (3xTF32 tensor-core products, :class:`~isonet_det.ops.precision.Products`; about
            1e-5 relative on an H200, against 1e-8 to 5e-7 for ``'ieee'``).

    Returns:
        float32 tensor (float64 if the weights are float64), computed with autocast disabled
        and float32 accuracy whatever the user's TF32 setting.
    """
    convs, device, dtype = _check_penalty_args(convs, reduction, 'isometry_penalty')
    if not convs:
        return torch.zeros(0 if reduction == 'none' else (), dtype=torch.float32)
    products = Products(precision)
    per_conv: List[List[Tensor]] = [[] for _ in convs]
    with torch.autocast(device_type=device.type, enabled=False):
        for plan, owners, P in _chunks(convs, dtype, max_chunk_elements):
            values = _IsometryPenalty.apply(P, plan, products)
            for (i, _), value in zip(owners, values.unbind(0)):
                per_conv[i].append(value)
    values = torch.stack([torch.stack(v).sum() for v in per_conv])
    return values.sum() if reduction == 'sum' else values


@torch.no_grad()
def isometry_penalty_and_grads(convs: Iterable[nn.Conv2d],
                               max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
                               precision: str = 'ieee') -> Tuple[Tensor, List[Tensor]]:
    """The penalty of :func:`isometry_penalty` and its gradient for each conv's weight.

    No autograd graph: each chunk's Grams are formed, turned into its value and gradient and
    freed before the next chunk, so the transient memory is one chunk's
    (:func:`isometry_workspace_bytes`). Returns ``(value, grads)``, ``value`` a 0-dim float32
    tensor on the weights' device (not read back to the host), ``grads[i]`` shaped and typed like
    ``convs[i].weight``. ``precision`` as in :func:`isometry_penalty`. No host synchronisation
    and shapes fixed by the convs: the call can be captured in a CUDA graph
    (:class:`~isonet_det.ops.CapturedPenalty`).
    """
    convs, device, dtype = _check_penalty_args(convs, 'sum', 'isometry_penalty_and_grads')
    if not convs:
        return torch.zeros(()), []
    products = Products(precision)
    group_grads: List[List[Optional[Tensor]]] = [[None] * c.groups for c in convs]
    total = torch.zeros((), dtype=dtype, device=device)
    with torch.autocast(device_type=device.type, enabled=False), \
            products.context(device.type):
        for plan, owners, P in _chunks(convs, dtype, max_chunk_elements):
            values, state = plan.forward(P, products)
            total += values.sum()
            grad_P = plan.backward(state, products)
            del state
            for (i, g), grad in zip(owners, grad_P.unbind(1 if plan.tap_major else 0)):
                shape = convs[i].weight.shape
                group_shape = (shape[0] // convs[i].groups, ) + tuple(shape[1:])
                group_grads[i][g] = _unstack_taps(grad, group_shape)
    grads = [
        torch.cat(gs, dim=0).to(c.weight.dtype)
        if len(gs) > 1 else gs[0].to(c.weight.dtype).contiguous()
        for gs, c in zip(group_grads, convs)
    ]
    return total, grads


def isometry_macs(conv: nn.Conv2d) -> int:
    """Multiply-adds of the products of one conv's penalty forward + backward, in the form
    :func:`isometry_penalty` takes for it (the cost model for sharding it across ranks)."""
    key = _plan_key(conv)
    return conv.groups * _kernel_plan(*key).macs(*key[6:])


def isometry_workspace_bytes(convs: Iterable[nn.Conv2d],
                             max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS) -> int:
    """Peak transient bytes of :func:`isometry_penalty_and_grads` beyond weights and gradients:
    the largest chunk's ``N * plan.workspace(S, L)`` entries (taps, products, errors and their
    gradients as each form holds them), in float32."""
    peak = 0
    for plan, owners, P in _chunks(list(convs), torch.float32, max_chunk_elements):
        S, L = P.shape[-2:] if plan.tap_major else (P.shape[1] // plan.num_taps, P.shape[2])
        peak = max(peak, len(owners) * plan.workspace(S, L))
    return 4 * peak


def conv_kernel_gram(weight: Tensor, stride=1, dilation=1) -> Tensor:
    """``Conv(A, A)`` on the smaller side: ``(S, S, 2kh-1, 2kw-1)`` with ``G[:, :, t] = G_t``.

    Shifts that the stride does not penalise are zero. For diagnostics; the penalty does not
    need it. ``weight``: ``(O, I, kh, kw)`` (one group).
    """
    kh, kw = weight.shape[-2:]
    plan = _tap_pair_plan(kh, kw, *to_2tuple(stride), *to_2tuple(dilation))
    P = _stacked_taps(weight.to(torch.promote_types(weight.dtype, torch.float32)))[None]
    with full_fp32_matmul(weight.device.type):
        E = plan.forward(P, Products('ieee'))[1][1][0]
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
    ``tools/benchmarks/benchmark.py --only penalty`` measures against. Grouped and dilated convs
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
