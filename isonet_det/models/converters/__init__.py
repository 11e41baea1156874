"""Weights and models in other forms: the reference ImageNet checkpoints' key names, and R-ISONet
with its residual scales folded for inference."""
from .fold_scales import fold_residual_scales
from .reference_checkpoint import convert_reference_checkpoint, infer_arch

__all__ = ['fold_residual_scales', 'convert_reference_checkpoint', 'infer_arch']
