from .delta import (DeltaInit, DeltaOrthogonalInit, GaussianFanInInit, concat_delta_init_,
                    delta_init_, delta_orthogonal_init_, gaussian_fan_in_init_, haar_orthogonal,
                    upsample_delta_init_)

__all__ = [
    'DeltaInit', 'DeltaOrthogonalInit', 'GaussianFanInInit', 'concat_delta_init_', 'delta_init_',
    'delta_orthogonal_init_', 'gaussian_fan_in_init_', 'haar_orthogonal', 'upsample_delta_init_'
]
