"""Heads for MMPretrain configs (imports MMPretrain: ``custom_imports=dict(imports=['isonet_det',
'isonet_det.models.heads'])``; not imported by ``isonet_det`` itself, so the detection plugin
needs no MMPretrain)."""
from .dropout_linear_cls_head import DropoutLinearClsHead

__all__ = ['DropoutLinearClsHead']
