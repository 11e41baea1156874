"""Plain CNNs (no shortcut, no normalisation) for the dynamical-isometry experiments."""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models.initializers import delta_init_, delta_orthogonal_init_, gaussian_fan_in_init_
from ..models.layers import SReLU

# name -> (initialiser of the plain 3x3 convs, activation), as in the experiments of He et al.
# 2015 (Kaiming + ReLU), Qi et al. 2020 (Delta + SReLU) and Xiao et al. 2018 (Delta-Orthogonal
# and its Gaussian control, both with tanh, at a point (sigma_w, sigma_b) of the mean-field phase
# diagram).
SCHEMES = ('kaiming_relu', 'delta_srelu', 'delta_orthogonal_tanh', 'gaussian_tanh')
MEAN_FIELD_SCHEMES = ('delta_orthogonal_tanh', 'gaussian_tanh')
PADDING_MODES = ('zeros', 'circular')

_PAD_MATRICES = {}


def _circular_pad_matrix(height: int, width: int, dtype: torch.dtype,
                         device: torch.device) -> torch.Tensor:
    """The ``(H W) x ((H + 2) (W + 2))`` 0/1 matrix of a 1-pixel circular pad (cached)."""
    key = (height, width, dtype, device)
    if key not in _PAD_MATRICES:
        rows = torch.arange(-1, height + 1) % height
        cols = torch.arange(-1, width + 1) % width
        source = (rows[:, None] * width + cols[None, :]).flatten()
        matrix = torch.zeros(height * width, len(source), dtype=dtype)
        matrix[source, torch.arange(len(source))] = 1
        _PAD_MATRICES[key] = matrix.to(device)
    return _PAD_MATRICES[key]


class CircularConv2d(nn.Conv2d):
    """A 3x3 conv with ``padding=1, padding_mode='circular'`` whose pad is one matrix product
    (one kernel forward, one backward) instead of torch's pad by slices and copies (about 30 small
    kernels a layer and step, which bound these tiny nets on a GPU). The same values: the product
    copies each input once (a 0/1 matrix, float32 without TF32), and its backward sums the up to
    four copies of a border pixel's gradient."""

    def _conv_forward(self, input, weight, bias):
        if self.padding_mode != 'circular' or self.padding != (1, 1):
            return super()._conv_forward(input, weight, bias)
        n, c, h, w = input.shape
        matrix = _circular_pad_matrix(h, w, input.dtype, input.device)
        padded = (input.reshape(n * c, h * w) @ matrix).view(n, c, h + 2, w + 2)
        return F.conv2d(padded, weight, bias, self.stride, 0, self.dilation, self.groups)


class PlainCNN(nn.Module):
    """``stem conv3x3 (3 -> width) -> act -> depth x [conv3x3 -> act] -> global avg pool ->
    linear``; with ``flatten_size=n`` (inputs ``n x n``) the head reads the flattened
    ``width x n x n`` features instead of their spatial mean, so that a body that passes its input
    through (an isometry) leaves every input feature to the head.

    ``body`` holds the ``depth`` convs whose isometry is studied; no shortcuts, no norms.

    ``padding_mode``: ``'zeros'`` or ``'circular'`` (the periodic boundary of Xiao et al.'s
    theory). With zero padding a spatial kernel (Gaussian, Kaiming) loses signal at the image
    border every layer (the top eigenvalue of the zero-boundary 3x3 box operator is about 0.92 on
    8 x 8); a centre-tap kernel (Delta, Delta-Orthogonal) never reads the padding.

    The tanh schemes take a mean-field point: kernels of scale ``sigma_w`` (Delta-Orthogonal: the
    centre tap ``sigma_w Q``; Gaussian: every tap ``N(0, sigma_w^2 / (9 width))``) and conv
    biases ``N(0, sigma_b^2)`` (Xiao et al. 2018, Algorithm 2 and Sec. 2). The other schemes have
    bias-free convs (as their papers) and take neither.
    """

    def __init__(self,
                 depth: int,
                 width: int = 16,
                 num_classes: int = 4,
                 scheme: str = 'delta_srelu',
                 in_channels: int = 3,
                 sigma_w: float = 1.0,
                 sigma_b: float = 0.0,
                 flatten_size: Optional[int] = None,
                 padding_mode: str = 'zeros'):
        super().__init__()
        if scheme not in SCHEMES:
            raise ValueError(f'scheme must be one of {SCHEMES}, got {scheme!r}')
        mean_field = scheme in MEAN_FIELD_SCHEMES
        if not mean_field and (sigma_w != 1.0 or sigma_b != 0.0):
            raise ValueError(f'sigma_w / sigma_b apply to {MEAN_FIELD_SCHEMES}, not {scheme!r}')
        if padding_mode not in PADDING_MODES:
            raise ValueError(f'padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}')
        if sigma_w <= 0 or sigma_b < 0:
            raise ValueError(f'need sigma_w > 0 and sigma_b >= 0, got {sigma_w}, {sigma_b}')
        self.scheme, self.sigma_w, self.sigma_b = scheme, sigma_w, sigma_b
        self.padding_mode = padding_mode
        conv2d = CircularConv2d if padding_mode == 'circular' else nn.Conv2d
        self.stem = conv2d(in_channels, width, 3, padding=1, bias=False, padding_mode=padding_mode)
        layers = []
        for _ in range(depth):
            conv = conv2d(width, width, 3, padding=1, bias=mean_field, padding_mode=padding_mode)
            if scheme == 'kaiming_relu':
                nn.init.kaiming_normal_(conv.weight, nonlinearity='relu')
            elif scheme == 'delta_srelu':
                delta_init_(conv.weight)
            elif scheme == 'delta_orthogonal_tanh':
                delta_orthogonal_init_(conv.weight, gain=sigma_w)
            else:
                gaussian_fan_in_init_(conv.weight, sigma_w)
            if mean_field:
                nn.init.normal_(conv.bias, 0.0, sigma_b)
            layers += [conv, self._activation(width)]
        self.body = nn.Sequential(*layers)
        self.stem_act = self._activation(width)
        self.flatten = flatten_size is not None
        self.head = nn.Linear(width * (flatten_size**2 if self.flatten else 1), num_classes)
        nn.init.kaiming_uniform_(self.stem.weight, a=math.sqrt(5))

    def _activation(self, width: int) -> nn.Module:
        if self.scheme in MEAN_FIELD_SCHEMES:
            return nn.Tanh()
        return SReLU(width) if self.scheme == 'delta_srelu' else nn.ReLU()

    def body_convs(self):
        return [m for m in self.body if isinstance(m, nn.Conv2d)]

    @torch.no_grad()
    def set_input_variance(self, images: torch.Tensor, q: float) -> float:
        """Rescale the (linear, bias-free) stem so that its output, the first pre-activation
        ``h^0``, has variance ``q`` over ``images`` (Xiao et al.: inputs at the fixed point
        ``q*``). Equivalent to scaling the inputs. Returns the factor applied."""
        if q <= 0:
            raise ValueError(f'q must be > 0, got {q}')
        factor = math.sqrt(q / self.stem(images).var().item())
        self.stem.weight.mul_(factor)
        return factor

    def features(self, x):
        return self.body(self.stem_act(self.stem(x)))

    def head_input(self, x):
        """What the head reads: the body output, flattened or averaged over space."""
        x = self.features(x)
        return x.flatten(1) if self.flatten else x.mean(dim=(2, 3))

    def forward(self, x):
        return self.head(self.head_input(x))
