"""The visible checks of notebook 09's exercises: the nearest codes, quantisation and the PixelCNN's masks."""
import math

import torch

from vae_helpers.autoregressive import dependence, expect_autoregressive, masked_stack
from vae_helpers.checks import (PASSED, checking_answers, expect_close, expect_equal, expect_on_device, expect_returns,
                                expect_shape, largest_tensor_made)

_TOY_CODEBOOK = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])  # K = 3 codes of D = 2
# the last vector is nearest to code 2 in Euclidean distance, to code 1 in the sum of absolute differences
_TOY_VECTORS = torch.tensor([[0.9, 0.9], [0.1, -0.2], [-0.5, 1.6], [2.0, 0.5], [1.0, 1.3]])
_TOY_NEAREST = [1, 0, 2, 1, 2]


def _no_gradient(gradient):
    return gradient is None or not bool(gradient.abs().max() > 0)


def _expect_no_table_of_differences(name, nearest_codes, z_e, codebook):
    """``nearest_codes(z_e, codebook)`` must give each vector its nearest code without making a tensor of half the
    (..., K, D) table of the vectors' differences to the codes or more: the distances (..., K) need no such table."""
    codes, largest = largest_tensor_made(nearest_codes, z_e, codebook)
    want = ((z_e.unsqueeze(-2).double() - codebook.double()) ** 2).sum(-1).argmin(-1)
    expect_shape(name, codes, want.shape)
    expect_equal(f"{name}: vectors given another code than the nearest", int((codes != want).sum()), 0)
    vectors, (k, d) = want.numel(), codebook.shape
    if 2 * largest >= vectors * k * d:
        raise AssertionError(
            f"{name}: one step made a tensor of {largest:,} numbers, {largest / (vectors * k * d):.0%} of the table of "
            f"the differences of the {vectors} vectors to the {k} codes ({vectors * k * d:,} numbers); the distances "
            f"themselves are {vectors * k:,}. Hint: find the nearest codes without that table: write ||z - e_k||^2 out "
            f"as a sum of terms each of which needs at most one number per vector and code.")


# what a nearest_codes that fails as on a GPU is told, visibly and at grading
NEAREST_ON_DEVICE = ("compute the distances from z_e and the codebook with torch operations, where they are: a round "
                     "trip through NumPy or a tensor made without a device stays on the CPU, so training on a GPU fails.")


@checking_answers
def nearest_codes(nearest_codes):
    """Check ``nearest_codes`` on 5 vectors and a codebook of 3 codes: the result's type, shape, dtype and indices,
    then the same on a batch of grids of those vectors, in float64, and on grids of 7 x 7 vectors of 16 numbers
    with 32 codes, with no tensor of half the table of differences or more, and run as on a GPU
    (``expect_on_device``)."""
    codes = expect_returns("nearest_codes(z_e of shape (5, 2), codebook of shape (3, 2))", nearest_codes, _TOY_VECTORS,
                           _TOY_CODEBOOK, hint="the distances of 5 vectors to 3 codes are a (5, 3) table; work on the "
                                               "last dimension, D, with the codebook transposed.")
    expect_equal("nearest_codes returns a tensor", isinstance(codes, torch.Tensor), True, hint="return the indices.")
    expect_equal("the shape of nearest_codes(z_e of shape (5, 2), a codebook of 3 codes)", tuple(codes.shape), (5,),
                 hint="one index per vector: the smallest of each row of the (5, 3) table of distances, over the codes "
                      "(the last dimension), not over the vectors.")
    expect_equal("the dtype of nearest_codes's result", codes.dtype, torch.int64,
                 hint="indices, as argmin returns them: int64 tensors index a codebook.")
    wrong = {(2, 1, 2, 1, 2): "these are the codes with the largest z.e_k: the largest product is the nearest code "
                              "only where every code has the same length, and these do not: write out ||z - e_k||^2 "
                              "and see what else in it differs from code to code.",
             (2, 2, 1, 2, 0): "these are the farthest codes: take the smallest distance.",
             (1, 0, 2, 1, 1): "the last vector, (1.0, 1.3), is nearest to the code (0, 2) in Euclidean distance "
                              "(squared distances 2.69, 1.69 and 1.49 to the three codes), though nearer to (1, 0) in "
                              "the sum of absolute differences: the distance is Euclidean, ||z - e_k||^2 the sum of "
                              "squares."}
    expect_equal("nearest_codes on 5 vectors and the codes (0, 0), (1, 0), (0, 2)", codes.tolist(), _TOY_NEAREST,
                 hint=wrong.get(tuple(codes.tolist()), "the nearest code has the smallest squared Euclidean "
                                                        "distance ||z - e_k||^2 to the vector."))
    grids = _TOY_VECTORS.repeat(2, 2, 1).view(2, 2, 5, 2)  # two images, each a 2 x 5 grid of vectors
    codes = expect_returns("nearest_codes(z_e of shape (2, 2, 5, 2), codebook of shape (3, 2))", nearest_codes, grids,
                           _TOY_CODEBOOK, hint="any leading dimensions: z_e @ codebook.T is (..., K) for z_e of shape "
                                               "(..., D).")
    expect_shape("nearest_codes(z_e of shape (2, 2, 5, 2), codebook of shape (3, 2))", codes, (2, 2, 5))
    expect_equal("nearest_codes on a batch of grids", codes.tolist(), [[_TOY_NEAREST] * 2] * 2,
                 hint="sum the squares over the last dimension only, and keep it (keepdim=True) to broadcast against "
                      "the (..., K) products.")
    codes = expect_returns("nearest_codes(z_e, codebook) in float64", nearest_codes, _TOY_VECTORS.double(),
                           _TOY_CODEBOOK.double(), hint="work in the dtype of z_e and the codebook: make no new tensor "
                                                        "of the default dtype.")
    expect_equal("the dtype of nearest_codes's result for float64 inputs", codes.dtype, torch.int64)
    expect_equal("nearest_codes on the 5 vectors in float64", codes.tolist(), _TOY_NEAREST)
    g = torch.Generator().manual_seed(0)
    _expect_no_table_of_differences("nearest_codes(z_e of shape (2, 7, 7, 16), a codebook of 32 codes)", nearest_codes,
                                   torch.randn(2, 7, 7, 16, generator=g), torch.randn(32, 16, generator=g))
    expect_on_device("nearest_codes(z_e of shape (2, 2, 5, 2), codebook of shape (3, 2))", nearest_codes, grids,
                     _TOY_CODEBOOK, shape=(2, 2, 5), hint=NEAREST_ON_DEVICE)
    print(PASSED)



def _shrunk_by(quantise, z_e, codebook, codes, index, loss):
    """What a loss (``index`` 1 or 2 of quantise's result) that is a half or a quarter of the right one on the toy,
    whose images have 2 vectors of D = 2 numbers each, was divided by: asked of each image's first vector alone, a
    loss averaged over the vectors is right there, one averaged over the D numbers still half, one averaged over
    both half, and one weighted by a constant still a quarter."""
    hint = "sum over each image's vectors and their D numbers, then average over the images (divide by len(z_e))."
    ratio = loss / (2.53 / 2)
    if min(abs(ratio - 0.5), abs(ratio - 0.25)) > 1e-4:
        return hint
    try:
        alone = float(quantise(z_e.detach()[:, :1], codebook.detach(), codes[:, :1])[index]) / ((0.82 + 0.41) / 2)
    except Exception:  # noqa: BLE001 (the hint then names every cause)
        alone = math.nan
    causes = {(0.5, 1.0): "it is averaged over each image's vectors; " + hint,
              (0.5, 0.5): "it is averaged over the D numbers of each vector; " + hint,
              (0.25, 0.5): "it is averaged over every number of an image, its vectors and their D numbers; " + hint,
              (0.25, 0.25): "it is a quarter of the right value whatever the image's size: a weight such as the "
                            "commitment's beta belongs to the training loss that adds the terms up; quantise returns "
                            "each loss unweighted."}
    for (whole, first), cause in causes.items():
        if abs(ratio - whole) < 1e-4 and abs(alone - first) < 1e-4:
            return cause
    return (f"it is {ratio:.2g} of the right value: averaged over the vectors or their D numbers (the toy has 2 of "
            f"each), or weighted; " + hint)


@checking_answers
def quantise(quantise):
    """Check ``quantise`` on 2 images of 2 vectors and a codebook of 3 codes: z_q's value and gradients, both
    losses' values and gradients, codes that are not the nearest, images whose vectors form a grid, and float64
    inputs."""
    z_e = torch.tensor([[[0.9, 0.9], [0.1, -0.2]], [[-0.5, 1.6], [2.0, 0.5]]], requires_grad=True)  # 2 images, 2 vectors
    codebook = _TOY_CODEBOOK.clone().requires_grad_()
    codes = torch.tensor([[1, 0], [2, 1]])  # their nearest codes
    result = expect_returns("quantise(z_e of shape (2, 2, 2), codebook of shape (3, 2), codes of shape (2, 2))", quantise,
                            z_e, codebook, codes, hint="codebook[codes] is each vector's code, of z_e's shape.")
    expect_equal("quantise returns three things, (z_q, codebook_loss, commitment_loss)",
                 isinstance(result, (tuple, list)) and len(result) == 3, True)
    z_q, codebook_loss, commitment_loss = result
    expect_shape("z_q", z_q, (2, 2, 2))
    expect_close("z_q: each vector's code, codebook[codes]", z_q, _TOY_CODEBOOK[codes], atol=1e-6,
                 hint="in the forward pass z_q is exactly each vector's code, codebook[codes], whatever carries its "
                      "gradient.")
    straight_through = ("z_q's value must be the code while its gradient reaches z_e as if z_q were z_e: sg[.], "
                        ".detach(), lets a term change a value without changing a gradient.")
    expect_equal("z_q carries gradients", z_q.requires_grad, True,
                 hint="z_q must carry the decoder's gradient to z_e: a detached code (or one computed under "
                      "torch.no_grad()) carries none, and keeping the decoder's gradient off the codebook is not "
                      "enough: " + straight_through)
    upstream = torch.tensor([[[1.0, -2.0], [0.5, 3.0]], [[-1.5, 0.25], [2.0, 1.0]]])  # a decoder's gradient on z_q
    to_encoder, to_codebook = torch.autograd.grad((z_q * upstream).sum(), (z_e, codebook), allow_unused=True,
                                                  retain_graph=True)
    expect_equal("the decoder's gradient on z_q reaches z_e (straight through)", to_encoder is not None, True,
                 hint="codebook[codes] alone gives z_e no gradient: " + straight_through)
    expect_close("the gradient on z_e of (z_q * g).sum(): g, passed on unchanged", to_encoder, upstream, atol=1e-6,
                 hint="the straight-through estimator copies the gradient: dz_q/dz_e = I.")
    expect_equal("the decoder's gradient on z_q does not reach the codebook", _no_gradient(to_codebook), True,
                 hint="only the codebook loss moves the codes: detach the code where it enters z_q.")
    total = 2.53  # the four squared distances 0.82 + 0.05 + 0.41 + 1.25
    for index, (name, loss) in enumerate((("codebook_loss", codebook_loss), ("commitment_loss", commitment_loss)), 1):
        expect_shape(name, loss, ())
        shrunk = _shrunk_by(quantise, z_e, codebook, codes, index, loss.item())
        scale = {total / 8 - total / 2: shrunk, total / 4 - total / 2: shrunk,
                 total - total / 2: "it is summed over the images too; average over them (divide by len(z_e))."}
        expect_close(f"{name} on the toy: the squared distances of 2 images' vectors to their codes", loss, total / 2,
                     atol=1e-5, hint="||z_e - e||^2 summed over each image's vectors and their D numbers, averaged over "
                                     "the images.", offsets=scale)
        expect_equal(f"{name} carries gradients", loss.requires_grad, True,
                     hint="compute it with torch operations from z_e and the codebook, and detach only one side of the "
                          "difference.")
    to_encoder, to_codebook = torch.autograd.grad(codebook_loss, (z_e, codebook), allow_unused=True, retain_graph=True)
    expect_equal("codebook_loss leaves z_e alone (no gradient on z_e)", _no_gradient(to_encoder), True,
                 hint="the codebook loss ||sg[z_e] - e||^2 moves the codes towards the encoder's vectors: z_e is the "
                      "one inside the stop-gradient.")
    expect_equal("codebook_loss reaches the codebook", to_codebook is not None, True,
                 hint="the codebook loss is there to train the codes: do not detach them in it.")
    expect_close("the gradient of codebook_loss on the codebook", to_codebook,
                 torch.tensor([[-0.1, 0.2], [-0.9, -1.4], [0.5, 0.4]]), atol=1e-5,
                 hint="2 (e_k - z_e) summed over the vectors that chose code k, divided by the number of images.")
    to_encoder, to_codebook = torch.autograd.grad(commitment_loss, (z_e, codebook), allow_unused=True, retain_graph=True)
    expect_equal("commitment_loss leaves the codebook alone (no gradient on it)", _no_gradient(to_codebook), True,
                 hint="the commitment loss ||z_e - sg[e]||^2 keeps the encoder near its codes: e is the one inside the "
                      "stop-gradient.")
    expect_equal("commitment_loss reaches z_e", to_encoder is not None, True,
                 hint="the commitment loss is there to train the encoder: do not detach z_e in it.")
    expect_close("the gradient of commitment_loss on z_e", to_encoder,
                 torch.tensor([[[-0.1, 0.9], [0.1, -0.2]], [[-0.5, -0.4], [1.0, 0.5]]]), atol=1e-5,
                 hint="2 (z_e - e) for each vector, divided by the number of images.")
    chosen = torch.tensor([[0, 2], [1, 1]])  # codes chosen otherwise than by nearness, as a caller may choose them
    z_q, codebook_loss, _ = quantise(z_e, codebook, chosen)
    hint = "quantise uses the codes it is given, whichever chose them: codebook[codes], with no search for the nearest."
    expect_close("z_q for codes that are not the nearest: codebook[codes]", z_q, _TOY_CODEBOOK[chosen], atol=1e-6,
                 hint=hint)
    expect_close("codebook_loss for codes that are not the nearest", codebook_loss, 6.265, atol=1e-5, hint=hint)
    grids = z_e.detach().view(2, 1, 2, 2).requires_grad_()  # the same 2 images, each a 1 x 2 grid of vectors
    result = expect_returns("quantise(z_e of shape (2, 1, 2, 2), codebook of shape (3, 2), codes of shape (2, 1, 2))",
                            quantise, grids, codebook, codes.view(2, 1, 2),
                            hint="z_e may have any grid of vectors, (images, ..., D), and codes its shape without D.")
    expect_close("z_q for 2 images, each a 1 x 2 grid of vectors", result[0], _TOY_CODEBOOK[codes].view(2, 1, 2, 2),
                 atol=1e-6)
    for name, loss in (("codebook_loss", result[1]), ("commitment_loss", result[2])):
        expect_close(f"{name} for 2 images, each a 1 x 2 grid of vectors", loss, total / 2, atol=1e-5,
                     hint="sum over all of an image's vectors, whatever the shape of its grid, and average over the "
                          "images.")
    result = expect_returns("quantise(z_e, codebook, codes) in float64", quantise, z_e.detach().double(),
                            _TOY_CODEBOOK.double(), codes, hint="work in the dtype of z_e and the codebook: make no new "
                                                                "tensor of the default dtype.")
    expect_equal("the dtype of z_q for float64 inputs", result[0].dtype, torch.float64)
    expect_close("codebook_loss in float64", result[1], total / 2, atol=1e-9)
    print(PASSED)


def _reads_ahead(a, b, first):
    """Whether the tap at offset (a, b) from the centre lets the output at (y, x) depend on a code at or after
    (y, x) in reading order: it reads the code at (y + a, x + b) in a first layer, and in a later one a feature
    computed from the codes before (y + a, x + b)."""
    return (a, b) > (0, 0) or (a, b) == (0, 0) and first


@checking_answers
def causal_mask(causal_mask):
    """Check ``causal_mask`` for sizes 1, 3, 5 and 7, in a first layer and in a later one: each mask's type,
    shape and values, which inputs the outputs of stacks of masked convolutions depend on, and each mask's taps."""
    masks = {}
    for size, first in [(1, True), (1, False), (3, True), (3, False), (5, True), (5, False), (7, True), (7, False)]:
        name = f"causal_mask({size}, first={first})"
        mask = masks[size, first] = expect_returns(name, causal_mask, size, first)
        expect_equal(f"{name} returns a tensor", isinstance(mask, torch.Tensor), True)
        expect_shape(name, mask, (size, size))
        expect_equal(f"{name} holds only 0s and 1s", bool(((mask == 0) | (mask == 1)).all()), True)
    expect_autoregressive("one first layer, 3 x 3, on a 5 x 5 grid",
                          dependence(masked_stack([causal_mask(3, True)]), 2, 5, 5),
                          hint="the tap w[a, b] reads the position (y + a - c, x + b - c): which taps read a position "
                               "after (y, x), and which read (y, x) itself?")
    expect_autoregressive("a 5 x 5 first layer and two later 3 x 3 layers, on a 7 x 7 grid",
                          dependence(masked_stack([causal_mask(5, True), causal_mask(3, False), causal_mask(3, False)]),
                                     2, 7, 7),
                          hint="a later layer reads features, not codes: what has the feature at its own position "
                               "been computed from?")
    for (size, first), mask in masks.items():
        c = size // 2
        offsets = [(a, b) for a in range(-c, c + 1) for b in range(-c, c + 1)]
        kept = [(a, b) for a, b in offsets if bool(mask[a + c, b + c])]
        name = f"causal_mask({size}, first={first}), {'the first layer' if first else 'a later layer'}"
        expect_equal(f"{name}: the taps it keeps that must be removed, as offsets (row, column) from the centre",
                     [(a, b) for a, b in kept if _reads_ahead(a, b, first)], [],
                     hint="the tap at offset (a, b) reads the position (y + a, x + b): no output of the stack may "
                          "depend on a code at or after its own position (y, x).")
        expect_equal(f"{name}: the taps it removes that must be kept, as offsets (row, column) from the centre",
                     [(a, b) for a, b in offsets if (a, b) not in kept and not _reads_ahead(a, b, first)], [],
                     hint="the tap at offset (a, b) reads the position (y + a, x + b): a mask removes only the taps "
                          "that would let an output depend on a code at or after its own position, and keeps every "
                          "other tap." + ("" if first else " A later layer reads features, not codes: what has the "
                                                            "feature at its own position been computed from?"))
    print(PASSED)
