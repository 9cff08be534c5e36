"""Which inputs each output of a network on a grid depends on, measured with autograd: the test of an
autoregressive model's masks, and the map of what its conditionals see."""
import torch


def dependence(network, channels: int, height: int, width: int) -> torch.Tensor:
    """(height, width, height, width) booleans: [i, j, k, l] is True where the outputs at (i, j) change with the
    input at (k, l), from one backward per output position at a fixed random float64 input of ``channels`` channels.
    ``network`` maps (1, channels, height, width) to (1, any, height, width)."""
    generator = torch.Generator().manual_seed(0)  # the caller's random numbers stay as they were
    x = torch.randn(1, channels, height, width, dtype=torch.float64, generator=generator).requires_grad_()
    out = network(x)
    seen = torch.zeros(height, width, height, width, dtype=torch.bool)
    for i in range(height):
        for j in range(width):
            (gradient,) = torch.autograd.grad(out[0, :, i, j].sum(), x, retain_graph=True, allow_unused=True)
            if gradient is not None:
                seen[i, j] = gradient[0].abs().sum(0) > 0
    return seen


def expect_autoregressive(name: str, seen: torch.Tensor, hint: str = "") -> None:
    """``seen`` (from ``dependence``) must make each output depend only on the inputs before it in reading order
    (row by row, left to right), and on the one just before it and the one just above it, where they exist."""
    height, width = seen.shape[:2]
    for i in range(height):
        for j in range(width):
            later = [(k, l) for k in range(height) for l in range(width) if (k, l) >= (i, j) and seen[i, j, k, l]]
            if later:
                k, l = later[0]
                what = ("the input at its own position" if (k, l) == (i, j)
                        else f"the input at {(k, l)}, which comes after it in reading order")
                raise AssertionError(f"{name}: the output at {(i, j)} changes with {what}"
                                     f"{f' (and {len(later) - 1} more such inputs)' if len(later) > 1 else ''}: "
                                     f"its conditional would see what it predicts." + (f" Hint: {hint}" if hint else ""))
    for i in range(height):
        for j in range(width):
            for k, l, where in ((i, j - 1, "just before it"), (i - 1, j, "just above it")):
                if k >= 0 and l >= 0 and not seen[i, j, k, l]:
                    raise AssertionError(f"{name}: the output at {(i, j)} does not change with the input at {(k, l)}, "
                                         f"{where}: its conditional would ignore a position it may use."
                                         + (f" Hint: {hint}" if hint else ""))


def masked_stack(masks, channels: int = 2, seed: int = 0):
    """A stack of convolutions without biases or nonlinearities, one per mask in ``masks`` (each (s, s), s odd),
    with random float64 weights times the mask, padded to keep the grid: what the masks alone let through."""
    generator = torch.Generator().manual_seed(seed)
    weights = [torch.randn(channels, channels, *mask.shape, generator=generator, dtype=torch.float64) * mask.double()
               for mask in masks]

    def network(h):
        for weight in weights:
            h = torch.nn.functional.conv2d(h, weight, padding=weight.shape[-1] // 2)
        return h
    return network
