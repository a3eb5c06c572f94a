"""The quantile-transfer degradation (qagan_core/training/quantiles.py; benchmarks/quantile_pairs.py)."""

from __future__ import annotations

import pytest
import torch

from qagan_core.training.quantiles import QuantileDegradation, from_opponent, generic_defect, to_opponent


def contents(n: int, seed: int, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, generator=g) * 0.8 + 0.1
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


def grade(x: torch.Tensor) -> torch.Tensor:
    """A warm look: red up, blue down, mid-tones lifted."""
    return (x * torch.tensor([1.1, 1.0, 0.85]).view(1, 3, 1, 1)).clamp(0, 1) ** 0.8


def test_opponent_space_round_trips() -> None:
    x = contents(2, seed=0)
    assert torch.allclose(from_opponent(to_opponent(x)), x, atol=1e-5)


@pytest.mark.parametrize("pooled", [False, True])
def test_without_shrink_the_degradation_takes_the_look_off(pooled: bool) -> None:
    """High photos carry a grade the low ones lack: one degradation for every photo, the
    folders' difference, must bring a graded photo back close to its ungraded self."""
    low, high_contents = contents(40, seed=1), contents(40, seed=2)
    degradation = QuantileDegradation(grade(high_contents), low, "0", pooled)
    assert torch.count_nonzero(degradation.shrink) == 0
    probe = contents(4, seed=3)
    graded = grade(probe)
    undone = torch.stack([degradation(x, k) for k, x in enumerate(graded)])
    before, after = (graded - probe).abs().mean(), (undone - probe).abs().mean()
    assert float(after) < 0.3 * float(before), (before, after)
    assert torch.equal(undone, (undone * 255).round() / 255)  # 8-bit, as photos are
    assert torch.equal(degradation(graded[0], 0), degradation(graded[0], 5))  # the same for every photo


def test_the_deconvolved_shrink_keeps_only_the_low_folders_extra_spread() -> None:
    """Same kind of contents in both folders: little shrink. Every low photo with its own
    strong cast: the chroma channels keep most of the low photos' own spread."""
    high = contents(40, seed=1)
    same = QuantileDegradation(high, contents(40, seed=2), "deconvolved")
    g = torch.Generator().manual_seed(4)
    casts = 1 + 0.6 * (torch.rand(40, 3, 1, 1, generator=g) - 0.5)
    cast = QuantileDegradation(high, (contents(40, seed=2) * casts).clamp(0, 1), "deconvolved")
    chroma = slice(1, 3)
    assert float(cast.shrink[chroma].mean()) > 0.6
    assert float(cast.shrink[chroma].mean()) > float(same.shrink[chroma].mean()) + 0.3


def test_sampling_is_exact_under_autocast() -> None:
    """The trainer degrades crops inside autocast (AMP); the degradation must stay float32."""
    degradation = QuantileDegradation(contents(8, seed=1), contents(8, seed=2) * 0.6, "deconvolved")
    x = contents(3, seed=3, size=16)
    plain = degradation.sample(x, torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cast = degradation.sample(x, torch.Generator().manual_seed(0))
    assert cast.dtype == torch.float32 and torch.equal(cast, plain)


def test_generic_defects_change_a_share_of_the_photos_and_nothing_else() -> None:
    """``generic_rate`` 0 degrades exactly as the quantile transfer alone and draws nothing more
    from the generator (so runs without generic defects reproduce); 0.5 changes about half of the
    photos, each on the 8-bit grid, and the same generator state gives the same photos."""
    degradation = QuantileDegradation(contents(8, seed=1), contents(8, seed=2) * 0.7, "deconvolved")
    x = contents(40, seed=3, size=16)
    g_picks = torch.Generator().manual_seed(0)
    picks = torch.randint(8, (40,), generator=g_picks).tolist()
    alone = torch.stack([degradation(img, k) for img, k in zip(x, picks, strict=True)])
    g_sample = torch.Generator().manual_seed(0)
    assert torch.equal(degradation.sample(x, g_sample), alone)
    assert torch.equal(g_sample.get_state(), g_picks.get_state())
    degradation.generic_rate = 0.5
    mixed = degradation.sample(x, torch.Generator().manual_seed(0))
    changed = int(((mixed - alone).abs().flatten(1).amax(1) > 0).sum())
    assert 10 <= changed <= 30, changed
    assert torch.equal(mixed, (mixed * 255).round() / 255)
    assert torch.equal(mixed, degradation.sample(x, torch.Generator().manual_seed(0)))


def test_a_generic_defect_moves_exposure_and_colour_both_ways() -> None:
    """Over many draws the defects brighten and darken, warm and cool a grey photo: a prior
    with no direction of its own (the folders give the direction)."""
    grey = torch.full((3, 8, 8), 0.5)
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([generic_defect(grey, g) for _ in range(200)])
    luma = draws.mean((1, 2, 3)) - 0.5
    warmth = (draws[:, 0] - draws[:, 2]).mean((1, 2))
    assert float(luma.min()) < -0.1 and float(luma.max()) > 0.1, (luma.min(), luma.max())
    assert float(warmth.min()) < -0.05 and float(warmth.max()) > 0.05, (warmth.min(), warmth.max())
    assert abs(float(luma.mean())) < 0.03 and abs(float(warmth.mean())) < 0.02


def test_an_exposure_error_scales_the_chroma_with_the_luma() -> None:
    """A real exposure error is a gain on R, G and B, so it scales the opponent chroma by the
    factor it scales the luma: a darkened pair that kept its full colour would teach the head
    that a strongly coloured photo is an under-exposed one (the leaf in BENCHMARKS.md). Among
    the draws that change the luma of a luma ramp by one factor (an exposure, no gamma or
    contrast) and the chroma by one factor (no cast), none may keep the chroma as it was."""
    luma = torch.linspace(0.2, 0.5, 16).view(1, 16).expand(16, 16)
    chroma = torch.tensor([0.12, -0.10]).view(2, 1, 1).expand(2, 16, 16)
    photo = from_opponent(torch.cat([luma[None], chroma])[None])[0]
    photo = (photo * 255).round() / 255
    o_in = to_opponent(photo[None])[0]
    g = torch.Generator().manual_seed(0)
    exposures = []
    for _ in range(400):
        o_out = to_opponent(generic_defect(photo, g)[None])[0]
        luma_ratio, chroma_ratio = o_out[0] / o_in[0], o_out[1:] / o_in[1:]
        one_luma_factor = float(luma_ratio.amax() - luma_ratio.amin()) < 0.015
        one_chroma_factor = float(chroma_ratio.amax() - chroma_ratio.amin()) < 0.1
        if one_luma_factor and one_chroma_factor and abs(float(luma_ratio.mean()) - 1) > 0.05:
            exposures.append((float(luma_ratio.mean()), float(chroma_ratio.mean())))
    assert len(exposures) >= 5, exposures
    assert all(abs(c - 1) > 0.03 for _, c in exposures), exposures
    assert any(abs(c - e) < 0.03 for e, c in exposures), exposures
