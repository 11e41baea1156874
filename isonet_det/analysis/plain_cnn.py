"""Plain CNNs (no shortcut, no normalisation) for the dynamical-isometry experiments."""
import math

import torch.nn as nn

from ..models.initializers import delta_init_, delta_orthogonal_init_
from ..models.layers import SReLU

# name -> (activation, initialiser of the plain 3x3 convs), as in the experiments of
# Qi et al. 2020 (Delta + SReLU) and Xiao et al. 2018 (Delta-Orthogonal + tanh).
SCHEMES = ('kaiming_relu', 'delta_srelu', 'delta_orthogonal_tanh')


class PlainCNN(nn.Module):
    """``stem conv3x3 (3 -> width) -> depth x [conv3x3 -> act] -> global avg pool -> linear``.

    ``body`` holds the ``depth`` convs whose isometry is studied; no shortcuts, no norms.
    """

    def __init__(self,
                 depth: int,
                 width: int = 16,
                 num_classes: int = 4,
                 scheme: str = 'delta_srelu',
                 in_channels: int = 3):
        super().__init__()
        if scheme not in SCHEMES:
            raise ValueError(f'scheme must be one of {SCHEMES}, got {scheme!r}')
        self.scheme = scheme
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        layers = []
        for _ in range(depth):
            conv = nn.Conv2d(width, width, 3, padding=1, bias=False)
            if scheme == 'kaiming_relu':
                nn.init.kaiming_normal_(conv.weight, nonlinearity='relu')
                act = nn.ReLU()
            elif scheme == 'delta_srelu':
                delta_init_(conv.weight)
                act = SReLU(width)
            else:
                delta_orthogonal_init_(conv.weight)
                act = nn.Tanh()
            layers += [conv, act]
        self.body = nn.Sequential(*layers)
        self.stem_act = nn.Tanh() if scheme == 'delta_orthogonal_tanh' else (
            SReLU(width) if scheme == 'delta_srelu' else nn.ReLU())
        self.head = nn.Linear(width, num_classes)
        nn.init.kaiming_uniform_(self.stem.weight, a=math.sqrt(5))

    def body_convs(self):
        return [m for m in self.body if isinstance(m, nn.Conv2d)]

    def features(self, x):
        return self.body(self.stem_act(self.stem(x)))

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))
