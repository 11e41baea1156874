"""Singular values of a network's input-output Jacobian (Pennington et al. 2017)."""
import torch
import torch.nn as nn


def jacobian_singular_values(body: nn.Module,
                             x: torch.Tensor,
                             vectorize: bool = False) -> torch.Tensor:
    """Exact singular values of ``d body(x) / d x`` at one input ``x`` ``(C, H, W)``, from the
    explicit ``(C' H' W') x (C H W)`` Jacobian (use small inputs). Descending order.
    ``vectorize``: all rows in one batched backward pass (``torch.autograd.functional.jacobian``'s
    ``vectorize``; far fewer kernel launches on a GPU)."""
    jac = torch.autograd.functional.jacobian(
        lambda v: body(v.unsqueeze(0)).flatten(), x.detach(), vectorize=vectorize)
    return torch.linalg.svdvals(jac.reshape(jac.shape[0], -1).double())
