from .delta import (DeltaInit, DeltaOrthogonalInit, GaussianFanInInit, delta_init_,
                    delta_orthogonal_init_, haar_orthogonal)

__all__ = [
    'DeltaInit', 'DeltaOrthogonalInit', 'GaussianFanInInit', 'delta_init_',
    'delta_orthogonal_init_', 'haar_orthogonal'
]
