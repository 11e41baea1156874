import pytest
import torch

from isonet_det.models import FoldedScale, ISONet, RISONet, fold_residual_scales


@pytest.mark.parametrize('depth', [18, 50])
def test_folding_the_residual_scales_keeps_the_outputs(depth):
    torch.manual_seed(0)
    model = RISONet(depth=depth)
    model.init_weights()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('residual_scale.scale'):
                p.uniform_(-0.5, 0.5)
    model.eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        expected = model(x)
        blocks = sum(model.stage_blocks)
        assert fold_residual_scales(model) == blocks
        got = model(x)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert sum(isinstance(m, FoldedScale) for m in model.modules()) == blocks
    assert not any(k.endswith('residual_scale.scale') for k in model.state_dict())
    assert fold_residual_scales(model) == 0  # a folded model has nothing left to fold


def test_isonet_has_no_scales_to_fold():
    assert fold_residual_scales(ISONet(depth=18)) == 0
