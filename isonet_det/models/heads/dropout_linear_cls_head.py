"""The reference classifier head: global average pooling (the neck) -> dropout -> linear."""
from typing import Tuple

import torch.nn as nn
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class DropoutLinearClsHead(LinearClsHead):
    """MMPretrain's ``LinearClsHead`` with dropout on its input, as the reference ISONet /
    R-ISONet heads (``avgpool -> dropout -> fc``; p = 0.1 for ISONet, 0.4 for R-ISONet).

    ``(N, in_channels)`` pooled features -> ``(N, num_classes)`` scores. Takes every
    ``LinearClsHead`` argument plus ``dropout`` (the drop probability, 0 <= p < 1).
    """

    def __init__(self, num_classes: int, in_channels: int, dropout: float = 0.0, **kwargs):
        if not 0 <= dropout < 1:
            raise ValueError(f'dropout must be in [0, 1), got {dropout}')
        super().__init__(num_classes, in_channels, **kwargs)
        self.dropout = nn.Dropout(dropout)

    def pre_logits(self, feats: Tuple[Tensor]) -> Tensor:
        return self.dropout(super().pre_logits(feats))
