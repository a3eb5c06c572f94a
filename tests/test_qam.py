"""QAM (eqs. 1-5) against a direct loop transcription, and its AdaIN statistics."""

from __future__ import annotations

import math

import pytest
import torch

from qagan_core.model import QualityAttention, channel_stats


def conv1x1(conv: torch.nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    w = conv.weight[:, :, 0, 0]
    return torch.einsum("oc,bchw->bohw", w, x) + conv.bias.view(1, -1, 1, 1)


def qam_by_the_equations(qam: QualityAttention, f_h: torch.Tensor, f_l: torch.Tensor) -> torch.Tensor:
    """Eqs. 1-5 written out position by position (softmax over f_L's positions j)."""
    b, c, h, w = f_h.shape
    theta = conv1x1(qam.theta, f_h).flatten(2)
    v = conv1x1(qam.v, f_l).flatten(2)
    phi = conv1x1(qam.phi, f_l).flatten(2)
    s_h, s_l = theta.shape[2], v.shape[2]
    e = torch.zeros(b, theta.shape[1], s_h, dtype=f_h.dtype)
    for n in range(b):
        for i in range(s_h):
            logits = [float(theta[n, :, i] @ v[n, :, j]) for j in range(s_l)]
            top = max(logits)
            weights = [math.exp(x - top) for x in logits]
            total = sum(weights)
            for j in range(s_l):
                e[n, :, i] += weights[j] / total * phi[n, :, j]  # eq. 2
    f_tilde = conv1x1(qam.project, e.view(b, -1, h, w))
    if qam.residual:
        f_tilde = f_tilde + f_h
    out = torch.empty_like(f_tilde)
    for n in range(b):
        for ch in range(c):
            x, y = f_tilde[n, ch], f_l[n, ch]
            mu_h, mu_l = x.mean(), y.mean()  # eq. 3
            sd_h = torch.sqrt(((x - mu_h) ** 2).mean() + qam.eps)  # eq. 4
            sd_l = torch.sqrt(((y - mu_l) ** 2).mean() + qam.eps)
            out[n, ch] = sd_l * (x - mu_h) / sd_h + mu_l  # eq. 5
    return out


@pytest.mark.parametrize("residual", [False, True])
def test_qam_matches_equations(residual: bool) -> None:
    torch.manual_seed(3)
    qam = QualityAttention(16, reduction=8, residual=residual).double()
    torch.nn.init.normal_(qam.project.weight, std=0.5)
    f_h = torch.randn(2, 16, 3, 4, dtype=torch.float64)
    f_l = torch.randn(2, 16, 5, 2, dtype=torch.float64) * 2 + 1  # another size: attention allows it
    got = qam(f_h, f_l)
    want = qam_by_the_equations(qam, f_h, f_l)
    assert got.shape == f_h.shape
    assert torch.allclose(got, want, atol=1e-6, rtol=0)


def test_qam_output_takes_low_quality_statistics() -> None:
    torch.manual_seed(4)
    qam = QualityAttention(32, residual=True).double()
    torch.nn.init.normal_(qam.project.weight, std=0.3)
    f_h = torch.randn(1, 32, 6, 6, dtype=torch.float64) * 3
    f_l = torch.randn(1, 32, 7, 5, dtype=torch.float64) * 0.5 + 2
    out = qam(f_h, f_l)
    mu_o, sd_o = channel_stats(out, 0.0)
    mu_l, sd_l = channel_stats(f_l, 0.0)
    assert torch.allclose(mu_o, mu_l, atol=1e-6)
    # sd differs from f_L's only by the eps under the root (eq. 4 with eps = 1e-5)
    assert torch.allclose(sd_o, sd_l, rtol=1e-4)


def test_query_chunking_is_exact() -> None:
    torch.manual_seed(5)
    qam = QualityAttention(16, residual=False).double()
    f_h = torch.randn(1, 16, 9, 7, dtype=torch.float64)
    f_l = torch.randn(1, 16, 6, 6, dtype=torch.float64)
    full = qam(f_h, f_l)
    qam.query_chunk = 5
    assert torch.allclose(qam(f_h, f_l), full, atol=1e-9)
