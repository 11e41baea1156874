from .isometry_regularizer_hook import IsometryRegularizerHook

__all__ = ['IsometryRegularizerHook']
