"""PSNR and SSIM on cases that can be computed by hand."""

from __future__ import annotations

import pytest
import torch

from qagan_core import QAGANError, psnr, ssim


def test_psnr_constant_offset() -> None:
    a = torch.full((3, 16, 16), 0.5, dtype=torch.float64)
    assert psnr(a, a + 0.1) == pytest.approx(20.0, abs=1e-9)  # mse 0.01
    assert psnr(a, a + 0.01) == pytest.approx(40.0, abs=1e-9)


def test_psnr_border_crop_ignores_frame() -> None:
    a = torch.zeros(3, 20, 20)
    b = a.clone()
    b[:, :4] = 1.0
    assert psnr(a, b, border=4) > 150
    assert psnr(a, b) < 10


def test_psnr_batch_is_mean_of_images() -> None:
    a = torch.zeros(2, 3, 8, 8, dtype=torch.float64)
    f64 = torch.float64
    b = torch.stack([torch.full((3, 8, 8), 0.1, dtype=f64), torch.full((3, 8, 8), 0.01, dtype=f64)])
    assert psnr(a, b) == pytest.approx(30.0, abs=1e-9)


def test_ssim_identical_is_one() -> None:
    a = torch.rand(3, 32, 32)
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)


def test_ssim_constant_images_by_hand() -> None:
    # flat images: variances and covariance are 0, so SSIM = (2 m1 m2 + C1) / (m1^2 + m2^2 + C1)
    m1, m2, c1 = 0.2, 0.6, 0.01**2
    want = (2 * m1 * m2 + c1) / (m1**2 + m2**2 + c1)
    f64 = torch.float64
    got = ssim(torch.full((3, 16, 16), m1, dtype=f64), torch.full((3, 16, 16), m2, dtype=f64))
    assert got == pytest.approx(want, abs=1e-12)


def test_ssim_is_lower_for_noise() -> None:
    torch.manual_seed(0)
    a = torch.rand(3, 32, 32)
    assert ssim(a, (a + 0.2 * torch.randn_like(a)).clamp(0, 1)) < 0.9


def test_metric_errors() -> None:
    with pytest.raises(QAGANError):
        psnr(torch.zeros(3, 8, 8), torch.zeros(3, 8, 9))
    with pytest.raises(QAGANError):
        ssim(torch.zeros(3, 8, 8), torch.zeros(3, 8, 8))
