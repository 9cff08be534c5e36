"""Hidden tests of 09_vq_vae: the nearest codes of a codebook, quantisation with the straight-through
gradient, the codebook loss and the commitment loss, and the PixelCNN's masks."""
import torch

from vae_helpers.autoregressive import dependence, expect_autoregressive, masked_stack
from vae_helpers.checks import expect_close, expect_equal, expect_on_device, expect_shape
from vae_helpers.exercises import vq_vae as checks  # the visible checks, their check that no table is made, a hint


def test_nearest_codes(nearest_codes):
    g = torch.Generator().manual_seed(2024)
    for shape, k, d, dtype in [((6,), 5, 3, torch.float64), ((4, 7, 7), 64, 16, torch.float64),
                               ((3, 2), 10, 4, torch.float32), ((2, 5, 5), 32, 8, torch.float32)]:
        z = torch.randn(*shape, d, generator=g, dtype=dtype)
        codebook = torch.randn(k, d, generator=g, dtype=dtype) * torch.rand(k, 1, generator=g, dtype=dtype) * 3
        want = ((z.unsqueeze(-2).double() - codebook.double()) ** 2).sum(-1).argmin(-1)
        got = nearest_codes(z, codebook)
        name = f"nearest_codes for z_e of shape {(*shape, d)}, {k} codes of norms that differ ({dtype})"
        expect_shape(name, got, shape)
        expect_equal(f"the dtype of {name}", got.dtype, torch.int64)
        expect_equal(f"{name}: vectors given another code than the nearest", int((got != want).sum()), 0)
    # the text asks for the nearest codes without the (..., K, D) table of differences
    checks._expect_no_table_of_differences("nearest_codes(z_e of shape (4, 7, 7, 16), a codebook of 64 codes)",
                                          nearest_codes, torch.randn(4, 7, 7, 16, generator=g),
                                          torch.randn(64, 16, generator=g))
    expect_on_device("nearest_codes for z_e of shape (4, 7, 7, 16), 64 codes", nearest_codes,
                     torch.randn(4, 7, 7, 16, generator=g), torch.randn(64, 16, generator=g), shape=(4, 7, 7),
                     hint=checks.NEAREST_ON_DEVICE)


def no_gradient(gradient):
    """True when a gradient is missing or zero everywhere."""
    return gradient is None or not bool(gradient.abs().max() > 0)


def test_quantise(quantise):
    g = torch.Generator().manual_seed(2024)
    for shape, k, d, dtype in [((3, 7, 7), 64, 16, torch.float64), ((5, 4), 6, 3, torch.float64),
                               ((2, 3, 3), 8, 5, torch.float32)]:
        z = torch.randn(*shape, d, generator=g, dtype=dtype)
        book = torch.randn(k, d, generator=g, dtype=dtype)
        codes = torch.randint(k, shape, generator=g)
        weights = torch.randn(*shape, d, generator=g, dtype=dtype)
        name = f"quantise for z_e of shape {(*shape, d)}, {k} codes ({dtype})"
        z_in, book_in = z.clone().requires_grad_(), book.clone().requires_grad_()
        got = quantise(z_in, book_in, codes)
        expect_equal(f"{name} returns three things", isinstance(got, (tuple, list)) and len(got) == 3, True)
        z_q, codebook_loss, commitment_loss = got
        expect_close(f"z_q of {name}", z_q, book[codes], atol=1e-6)
        want = ((z - book[codes]) ** 2).sum() / shape[0]
        expect_close(f"codebook_loss of {name}", codebook_loss, want, atol=1e-5, rtol=1e-5)
        expect_close(f"commitment_loss of {name}", commitment_loss, want, atol=1e-5, rtol=1e-5)
        to_z, to_book = torch.autograd.grad((z_q * weights).sum(), (z_in, book_in), allow_unused=True, retain_graph=True)
        expect_equal(f"the gradient of z_q on z_e ({name}) exists", to_z is not None, True)
        expect_close(f"the gradient of z_q on z_e ({name}), straight through", to_z, weights, atol=1e-6)
        expect_equal(f"no gradient of z_q on the codebook ({name})", no_gradient(to_book), True)
        to_z, to_book = torch.autograd.grad(codebook_loss, (z_in, book_in), allow_unused=True, retain_graph=True)
        expect_equal(f"no gradient of codebook_loss on z_e ({name})", no_gradient(to_z), True)
        book_here = book.clone().requires_grad_()
        reference, = torch.autograd.grad(((z - book_here[codes]) ** 2).sum() / shape[0], book_here)
        expect_equal(f"the gradient of codebook_loss on the codebook ({name}) exists", to_book is not None, True)
        expect_close(f"the gradient of codebook_loss on the codebook ({name})", to_book, reference, atol=1e-5, rtol=1e-5)
        to_z, to_book = torch.autograd.grad(commitment_loss, (z_in, book_in), allow_unused=True, retain_graph=True)
        expect_equal(f"no gradient of commitment_loss on the codebook ({name})", no_gradient(to_book), True)
        expect_equal(f"the gradient of commitment_loss on z_e ({name}) exists", to_z is not None, True)
        expect_close(f"the gradient of commitment_loss on z_e ({name})", to_z, 2 * (z - book[codes]) / shape[0],
                     atol=1e-5, rtol=1e-5)


def test_causal_mask(causal_mask):
    masks = {}
    for size in (1, 3, 5, 7, 9, 11):  # sizes beyond the visible checks' too
        for first in (True, False):
            name = f"causal_mask({size}, first={first})"
            mask = masks[size, first] = causal_mask(size, first)
            expect_equal(f"{name} returns a tensor", isinstance(mask, torch.Tensor), True)
            expect_shape(name, mask, (size, size))
            expect_equal(f"{name} holds only 0s and 1s", bool(((mask == 0) | (mask == 1)).all()), True)
    expect_autoregressive("a 7 x 7 first layer and three later 5 x 5 layers, on a 9 x 9 grid",
                          dependence(masked_stack([masks[7, True]] + [masks[5, False]] * 3, seed=1), 2, 9, 9))
    for (size, first), mask in masks.items():
        mask, centre = mask.double(), size // 2
        kept = [(a, b) for a in range(size) for b in range(size) if (a, b) < (centre, centre) or (a, b) == (centre, centre) and not first]
        wrong = [(a - centre, b - centre) for a in range(size) for b in range(size) if bool(mask[a, b]) != ((a, b) in kept)]
        expect_equal(f"causal_mask({size}, first={first}): taps (as offsets from the centre) that it removes but "
                     f"may keep, or keeps but must remove", wrong, [],
                     hint="keep every tap that reads a position before the output's (and, in a later layer, its own).")
