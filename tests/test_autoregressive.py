"""What each output of a network on a grid depends on, and the check of an autoregressive order."""
import pytest
import torch

from vae_helpers.autoregressive import dependence, expect_autoregressive, masked_stack


def shifted(down, right):
    """A network whose output at (i, j) is its input at (i - down, j - right), zero off the grid."""
    def network(h):
        out = torch.zeros_like(h)
        rows, columns = h.shape[-2:]
        out[..., max(down, 0):rows + min(down, 0), max(right, 0):columns + min(right, 0)] = \
            h[..., max(-down, 0):rows - max(down, 0), max(-right, 0):columns - max(right, 0)]
        return out
    return network


def test_dependence_finds_exactly_the_inputs_an_output_reads():
    seen = dependence(shifted(1, 0), 1, 3, 4)
    assert seen.shape == (3, 4, 3, 4)
    assert seen[2, 1].nonzero().tolist() == [[1, 1]] and not seen[0].any()


def test_the_order_check_names_the_first_output_that_sees_its_own_position_or_a_later_one():
    with pytest.raises(AssertionError, match=r"the output at \(0, 0\) changes with the input at its own position"):
        expect_autoregressive("identity", dependence(lambda h: h, 1, 3, 3))
    with pytest.raises(AssertionError, match=r"the output at \(0, 0\) changes with the input at \(1, 0\), which comes "
                                             r"after it in reading order.* Hint: look down"):
        expect_autoregressive("upward", dependence(shifted(-1, 0), 1, 3, 3), hint="look down")


def test_the_order_check_wants_the_position_just_before_and_the_one_just_above():
    with pytest.raises(AssertionError, match=r"the output at \(0, 1\) does not change with the input at \(0, 0\), just before"):
        expect_autoregressive("from above only", dependence(shifted(1, 0), 1, 3, 3))
    with pytest.raises(AssertionError, match=r"the output at \(1, 0\) does not change with the input at \(0, 0\), just above"):
        expect_autoregressive("from the left only", dependence(shifted(0, 1), 1, 3, 3))
    expect_autoregressive("both", dependence(lambda h: shifted(1, 0)(h) + shifted(0, 1)(h), 1, 3, 3))


def test_a_masked_stack_lets_through_only_what_its_masks_keep():
    left = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # the tap just left of the centre
    seen = dependence(masked_stack([left, left]), 2, 1, 5)
    assert seen[0, 4, 0].tolist() == [False, False, True, False, False]  # two steps left, nothing else
