import math

import pytest
import torch

from vae_helpers.checks import expect_close, expect_finite, expect_gradient, expect_shape, expect_tensor


def test_expect_tensor_says_what_came_and_hints_at_a_missing_return():
    with pytest.raises(AssertionError, match=r"kl: expected a torch.Tensor, got NoneType\. Did you forget to `return`"):
        expect_tensor("kl", None)
    with pytest.raises(AssertionError, match="got float"):
        expect_tensor("kl", 0.5)


def test_expect_shape_reports_both_shapes():
    expect_shape("z", torch.zeros(3, 2), (3, 2))
    with pytest.raises(AssertionError, match=r"z: expected shape \(3,\), got \(3, 2\)"):
        expect_shape("z", torch.zeros(3, 2), (3,))


def test_expect_finite_counts_bad_values():
    expect_finite("x", torch.ones(3))
    with pytest.raises(AssertionError, match="2 NaN/inf among 3"):
        expect_finite("x", torch.tensor([1.0, math.nan, math.inf]))


def test_expect_close_reports_expected_got_difference_and_hint():
    expect_close("kl", torch.tensor([0.5, 1.0]), torch.tensor([0.5, 1.0 + 1e-7]))
    expect_close("mean", torch.tensor(2.98), 3.0, atol=0.05)
    with pytest.raises(AssertionError) as error:
        expect_close("kl", torch.tensor([-0.5]), torch.tensor([0.5]), hint="check the sign.")
    assert str(error.value) == "kl: expected [0.5], got [-0.5] (largest difference 1). Hint: check the sign."
    with pytest.raises(AssertionError, match=r"expected shape \(2,\), got \(3,\)"):
        expect_close("kl", torch.zeros(3), torch.zeros(2))
    with pytest.raises(AssertionError, match="NaN"):
        expect_close("kl", torch.tensor([math.nan]), torch.tensor([0.0]))


def test_expect_gradient_returns_the_gradient_and_names_a_cut_graph():
    mu = torch.tensor([1.0, 2.0], requires_grad=True)
    assert torch.equal(expect_gradient("z", mu * 3, mu), torch.full((2,), 3.0))
    with pytest.raises(AssertionError, match="requires_grad=False"):
        expect_gradient("z", (mu * 3).detach(), mu)
    other = torch.ones(2, requires_grad=True)
    with pytest.raises(AssertionError, match="no gradient reaches it"):
        expect_gradient("z", other * 2, mu)
