"""Mean-field signal propagation in wide plain networks (Poole et al. 2016; Schoenholz et al.,
ICLR 2017; Xiao et al., ICML 2018).

A layer ``h^l = W^l phi(h^{l-1}) + b^l`` with ``W_ij ~ N(0, sigma_w^2 / N)`` (or Delta-Orthogonal
with gain ``sigma_w``) and ``b_i ~ N(0, sigma_b^2)`` maps the pre-activation variance ``q`` by

    q^l = V(q^{l-1}) = sigma_w^2 E_z[phi(sqrt(q^{l-1}) z)^2] + sigma_b^2,    z ~ N(0, 1)

(Schoenholz et al. eq. 1). At its fixed point ``q*`` the mean squared singular value of a layer's
Jacobian is

    chi_1 = sigma_w^2 E_z[phi'(sqrt(q*) z)^2]                          (eq. 3 / Xiao eq. 2.4)

and ``chi_1 = 1`` is the critical line (order to chaos) on which signals propagate through
arbitrarily many layers. The depth scales are ``xi_q = -1 / log(V'(q*))`` with

    V'(q*) = chi_1 + sigma_w^2 E[phi''(sqrt(q*) z) phi(sqrt(q*) z)]        (eq. 6)

over which ``q`` approaches ``q*``, and ``xi_c = -1 / log(chi_c)`` with ``chi_c = C'(c*) =
sigma_w^2 E[phi'(u_1) phi'(u_2)]`` at the fixed point ``c*`` of the correlation map ``C(c) =
(sigma_w^2 E[phi(u_1) phi(u_2)] + sigma_b^2) / q*`` (eq. 5, 9), over which the correlation of two
inputs approaches ``c*``. In the ordered phase (``chi_1 < 1``) ``c* = 1`` and ``chi_c = chi_1``;
in the chaotic one ``c* < 1`` is the root of ``C(c) = c`` below 1; on the critical line ``xi_c``
is infinite. Schoenholz et al. find networks trainable up to about ``6 xi_c`` layers.

Nonlinearities: ``'tanh'``, ``'relu'`` and ``'srelu'`` (``max(x, b)`` with threshold
``threshold``, the ISONet activation; ReLU is ``threshold=0``). Expectations are taken in closed
form for the piecewise-linear ones and by Gauss-Hermite quadrature for tanh. For SReLU the kink
at the threshold is a delta in ``phi''`` (``phi'`` jumps from 0 to 1 at ``b``), so ``E[phi''
phi] = b p(b)`` with ``p`` the density of ``sqrt(q) z``: negative for ``b < 0``, zero for ReLU.
"""
import math
from functools import lru_cache
from statistics import NormalDist
from typing import Tuple

import numpy as np


def _bisect(f, a: float, b: float, xtol: float = 2e-12, rtol: float = 1e-15) -> float:
    """A root of ``f`` in ``[a, b]`` (``f(a)``, ``f(b)`` of opposite signs) by bisection, to
    ``xtol + rtol |x|``: scipy's ``brentq`` where scipy is missing (a bare GPU machine)."""
    fa = f(a)
    for _ in range(2000):
        m = 0.5 * (a + b)
        if b - a <= 2 * (xtol + rtol * abs(m)) or m in (a, b):
            return m
        fm = f(m)
        if fm == 0:
            return m
        if (fm < 0) == (fa < 0):
            a, fa = m, fm
        else:
            b = m
    return 0.5 * (a + b)


try:
    from scipy.optimize import brentq
except ImportError:  # the tanh maths needs no scipy; the piecewise-linear correlation map does
    brentq = _bisect

__all__ = [
    'variance_map', 'fixed_point_q', 'chi_1', 'correlation_map', 'fixed_point_c', 'depth_scales',
    'critical_sigma_w', 'NONLINEARITIES'
]

NONLINEARITIES = ('tanh', 'relu', 'srelu')


@lru_cache(maxsize=None)
def _gauss_hermite(n: int = 201) -> Tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of ``E_z[f(z)] = sum_i w_i f(x_i)`` for ``z ~ N(0, 1)``."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / math.sqrt(2 * math.pi)


_STANDARD_NORMAL = NormalDist()
_normal_cdf, _normal_pdf = _STANDARD_NORMAL.cdf, _STANDARD_NORMAL.pdf


def _check(nonlinearity: str) -> None:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f'nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}')


def _moments(q: float, nonlinearity: str, threshold: float) -> Tuple[float, float, float]:
    """``(E[phi^2], E[phi'^2], E[phi'' phi])`` at pre-activation variance ``q``."""
    if nonlinearity == 'tanh':
        x, w = _gauss_hermite()
        u = math.sqrt(q) * x
        t = np.tanh(u)
        d = 1.0 - t * t
        return float(w @ (t * t)), float(w @ (d * d)), float(w @ (-2.0 * t * d * t))
    b = 0.0 if nonlinearity == 'relu' else threshold
    if q <= 0.0:  # every pre-activation is 0
        return max(0.0, b)**2, float(0.0 > b), 0.0
    a = b / math.sqrt(q)  # phi = max(sqrt(q) z, b): linear above z = a, constant b below
    above = 1.0 - _normal_cdf(a)
    second = q * (a * _normal_pdf(a) + above) + b * b * _normal_cdf(a)
    # phi'' = delta(u - b): E[phi'' phi] = phi(b) p(b), p(b) = pdf(a) / sqrt(q)
    kink = b * _normal_pdf(a) / math.sqrt(q)
    return second, above, kink


def variance_map(q: float,
                 sigma_w: float,
                 sigma_b: float,
                 nonlinearity: str = 'tanh',
                 threshold: float = -1.0) -> float:
    """``V(q) = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2`` (Schoenholz et al. eq. 1)."""
    _check(nonlinearity)
    return sigma_w**2 * _moments(q, nonlinearity, threshold)[0] + sigma_b**2


def fixed_point_q(sigma_w: float,
                  sigma_b: float,
                  nonlinearity: str = 'tanh',
                  threshold: float = -1.0,
                  q_max: float = 1e6,
                  tol: float = 1e-14) -> float:
    """The stable fixed point ``q* = V(q*)``: ``inf`` if the variance grows without bound.

    Found by Brent's method where ``V(q) - q`` (``>= 0`` at 0) first turns negative; with
    ``sigma_b = 0`` and a map that contracts at 0 (tanh with ``sigma_w <= 1``) it is 0, and for
    ``sigma_w > 1`` the stable point above the unstable ``q = 0``.
    """
    _check(nonlinearity)

    def excess(q):
        return variance_map(q, sigma_w, sigma_b, nonlinearity, threshold) - q

    if excess(q_max) > 0:
        return math.inf
    # V(0) - 0 >= 0; the stable fixed point is where V(q) - q first turns negative above 0
    lo, probe = 0.0, max(sigma_b**2, 1e-12)
    if excess(probe) <= 0 and sigma_b == 0:
        return 0.0  # the map contracts at 0 (tanh with sigma_w <= 1): q* = 0
    while probe < q_max and excess(probe) > 0:
        lo, probe = probe, probe * 2.0
    hi = min(probe, q_max)
    return brentq(excess, lo, hi, xtol=tol * max(1.0, hi), rtol=1e-15)


def chi_1(sigma_w: float,
          sigma_b: float,
          nonlinearity: str = 'tanh',
          threshold: float = -1.0,
          q_star: float = None) -> float:
    """``chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]`` (Schoenholz et al. eq. 3)."""
    if q_star is None:
        q_star = fixed_point_q(sigma_w, sigma_b, nonlinearity, threshold)
    if math.isinf(q_star):
        return math.inf
    return sigma_w**2 * _moments(q_star, nonlinearity, threshold)[1]


def _correlation_terms(c: float, q: float, sigma_w: float, nonlinearity: str,
                       threshold: float) -> Tuple[float, float]:
    """``(E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)])`` for ``u1, u2`` of variance ``q`` and
    correlation ``c``, with ``u2 = sqrt(q) (c z1 + r z2)``, ``r = sqrt(1 - c^2)``.

    tanh: 2-D Gauss-Hermite. ``max(u, b)``: the ``z2`` expectation in closed form,
    ``E[max(m + sd z2, b)] = b + (m - b) Phi(d) + sd pdf(d)`` with ``d = (m - b) / sd``, and
    ``P(u2 > b) = Phi((sqrt(q) c z1 - b) / (sqrt(q) r))``; the ``z1`` integral by adaptive
    quadrature split at the kink ``z1 = b / sqrt(q)`` (quadrature across a kink is inaccurate).
    """
    s = math.sqrt(q)
    r = math.sqrt(max(0.0, 1.0 - c * c))
    if nonlinearity == 'tanh':
        x, w = _gauss_hermite(81)
        z1, z2 = np.meshgrid(x, x, indexing='ij')
        ww = np.outer(w, w)
        f1, f2 = np.tanh(s * z1), np.tanh(s * (c * z1 + r * z2))
        d1, d2 = 1 - f1 * f1, 1 - f2 * f2
        return float((ww * f1 * f2).sum()), float((ww * d1 * d2).sum())
    b = 0.0 if nonlinearity == 'relu' else threshold
    a = b / s
    sd = s * r

    def phi2_given(z1):  # E[phi(u2) | z1]
        m = s * c * z1
        if sd < 1e-300:
            return max(m, b)
        d = (m - b) / sd
        return b + (m - b) * _normal_cdf(d) + sd * _normal_pdf(d)

    def step2_given(z1):  # P(u2 > b | z1)
        m = s * c * z1
        return float(m > b) if sd < 1e-300 else _normal_cdf((m - b) / sd)

    from scipy.integrate import quad
    below = quad(lambda z: _normal_pdf(z) * b * phi2_given(z), -np.inf, a, epsabs=1e-13)[0]
    above = quad(lambda z: _normal_pdf(z) * s * z * phi2_given(z), a, np.inf, epsabs=1e-13)[0]
    both_step = quad(lambda z: _normal_pdf(z) * step2_given(z), a, np.inf, epsabs=1e-13)[0]
    return below + above, both_step


def correlation_map(c: float,
                    sigma_w: float,
                    sigma_b: float,
                    nonlinearity: str = 'tanh',
                    threshold: float = -1.0,
                    q_star: float = None) -> float:
    """``C(c) = (sigma_w^2 E[phi(u_1) phi(u_2)] + sigma_b^2) / q*`` for ``u_1, u_2`` of variance
    ``q*`` and correlation ``c`` (Schoenholz et al. eq. 5); ``C(1) = 1``."""
    _check(nonlinearity)
    if q_star is None:
        q_star = fixed_point_q(sigma_w, sigma_b, nonlinearity, threshold)
    both = _correlation_terms(c, q_star, sigma_w, nonlinearity, threshold)[0]
    return (sigma_w**2 * both + sigma_b**2) / q_star


def fixed_point_c(sigma_w: float,
                  sigma_b: float,
                  nonlinearity: str = 'tanh',
                  threshold: float = -1.0,
                  q_star: float = None) -> Tuple[float, float]:
    """``(c*, chi_c)``: the stable fixed point of the correlation map and its slope there.

    Ordered phase or critical line (``chi_1 <= 1``): ``c* = 1``, ``chi_c = chi_1``. Chaotic phase:
    ``C(c) - c`` is ``>= 0`` at ``c = 0`` and ``< 0`` just below 1 (slope ``chi_1 > 1`` there), so
    ``c*`` is its root in between (Brent's method); ``chi_c = sigma_w^2 E[phi'(u_1) phi'(u_2)]``.
    ``q_star``: the variance fixed point, if the caller has it.
    """
    _check(nonlinearity)
    q = fixed_point_q(sigma_w, sigma_b, nonlinearity, threshold) if q_star is None else q_star
    chi = chi_1(sigma_w, sigma_b, nonlinearity, threshold, q)
    if math.isinf(q) or q == 0.0 or chi <= 1.0:
        return 1.0, chi

    def excess(c):
        return correlation_map(c, sigma_w, sigma_b, nonlinearity, threshold, q) - c

    hi = next((1.0 - eps for eps in (1e-2, 1e-4, 1e-6, 1e-8) if excess(1.0 - eps) < 0), None)
    if hi is None or excess(0.0) < 0:  # too close to the critical line to resolve c* < 1
        return 1.0, chi
    c = brentq(excess, 0.0, hi, xtol=1e-14, rtol=1e-14)
    return c, sigma_w**2 * _correlation_terms(c, q, sigma_w, nonlinearity, threshold)[1]


def depth_scales(sigma_w: float,
                 sigma_b: float,
                 nonlinearity: str = 'tanh',
                 threshold: float = -1.0) -> Tuple[float, float]:
    """``(xi_q, xi_c) = (-1 / log V'(q*), -1 / log chi_c)``: the depth scales of the variance and
    the correlation (Schoenholz et al. eq. 6 and 9); ``inf`` where the rate is 1 (``xi_c`` on the
    critical line). ``V'(q*)`` includes the SReLU kink's term (module docstring)."""
    q = fixed_point_q(sigma_w, sigma_b, nonlinearity, threshold)
    if math.isinf(q) or q == 0.0:
        chi = chi_1(sigma_w, sigma_b, nonlinearity, threshold, q)
        xi = math.inf if chi == 1.0 or math.isinf(chi) else -1.0 / math.log(chi)
        return xi, xi
    _, deriv2, curv = _moments(q, nonlinearity, threshold)
    rate_q = sigma_w**2 * (deriv2 + curv)
    rate_c = fixed_point_c(sigma_w, sigma_b, nonlinearity, threshold, q)[1]

    def scale(rate):
        return math.inf if abs(rate - 1.0) < 1e-12 or rate <= 0 else -1.0 / math.log(abs(rate))

    return scale(rate_q), scale(rate_c)


def critical_sigma_w(sigma_b: float,
                     nonlinearity: str = 'tanh',
                     threshold: float = -1.0) -> Tuple[float, float]:
    """``(sigma_w, q*)`` on the critical line ``chi_1 = 1`` for bias scale ``sigma_b``.

    - tanh: ``sigma_b = 0`` gives ``(1, 0)`` (the degenerate end, where ``q* = 0`` and signals
      decay like ``1/(2l)``); ``sigma_b > 0`` a point with ``q* > 0`` (e.g. ``sigma_b^2 = 2.01e-5``
      gives ``sigma_w^2 = 1.05``, Xiao et al.'s deep runs).
    - ReLU: the single point ``sigma_w^2 = 2, sigma_b = 0`` (every ``q`` is then a fixed point:
      ``q*`` is returned as ``nan``); no critical point with ``sigma_b > 0``.
    - SReLU ``max(x, b)``: ``chi_1 = sigma_w^2 P(z > b / sqrt(q*))``, solved for ``sigma_w`` by
      Brent's method; near ``q* = 0`` SReLU is the identity, so ``sigma_w -> 1`` as
      ``sigma_b -> 0``.
    """
    _check(nonlinearity)
    if sigma_b < 0:
        raise ValueError(f'sigma_b must be >= 0, got {sigma_b}')
    if nonlinearity == 'relu':
        if sigma_b > 0:
            raise ValueError('ReLU has no critical point with sigma_b > 0: its variance map is '
                             'linear, q -> sigma_w^2 q / 2 + sigma_b^2, so chi_1 = 1 '
                             '(sigma_w^2 = 2) makes q grow without bound')
        return math.sqrt(2.0), math.nan
    if sigma_b == 0 and nonlinearity == 'tanh':
        return 1.0, 0.0

    def gap(sigma_w):
        return chi_1(sigma_w, sigma_b, nonlinearity, threshold) - 1.0

    lo, hi = 0.5, 1.0
    while gap(hi) < 0:
        lo, hi = hi, hi * 1.25
        if hi > 10:
            raise ValueError(f'no critical sigma_w found for sigma_b={sigma_b}, {nonlinearity}')
    sigma_w = brentq(gap, lo, hi, xtol=1e-14, rtol=1e-15)
    return sigma_w, fixed_point_q(sigma_w, sigma_b, nonlinearity, threshold)
