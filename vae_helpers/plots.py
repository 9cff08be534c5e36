"""Figures the notebooks share. Every function returns its matplotlib ``Figure``.

Figures are built without pyplot's global state, so a notebook shows one exactly once
when it is the value of a cell, and nothing accumulates in memory over a long session.
"""
import numpy as np
import torch
from matplotlib.figure import Figure

from .remember import remembered

_COLOURS = "tab10"
_PADDING = 2


def _images_to_grid(images: torch.Tensor, nrow: int) -> np.ndarray:
    """Images side by side, ``nrow`` to a row, with white borders of ``_PADDING`` pixels: an RGB array."""
    images = images.detach().float().cpu()
    if images.dim() == 3:  # (N, H, W) -> (N, 1, H, W)
        images = images.unsqueeze(1)
    if images.dim() == 2:  # flattened 28x28 images
        side = int(round(images.shape[1] ** 0.5))
        images = images.view(-1, 1, side, side)
    count, channels, height, width = images.shape
    columns = min(nrow, count)
    rows = -(-count // columns)
    grid = torch.ones(channels, rows * (height + _PADDING) + _PADDING, columns * (width + _PADDING) + _PADDING)
    for index, image in enumerate(images.clamp(0, 1)):
        top, left = (_PADDING + step * (size + _PADDING) for step, size in zip(divmod(index, columns), (height, width)))
        grid[:, top:top + height, left:left + width] = image
    return grid.expand(3, -1, -1).permute(1, 2, 0).numpy() if channels == 1 else grid.permute(1, 2, 0).numpy()


def image_grid(images: torch.Tensor, nrow: int = 8, title: str = "", scale: float = 0.6,
               row_labels=None, column_labels=None, xlabel: str = "", ylabel: str = "") -> Figure:
    """Show images (N x 28 x 28, N x 1 x 28 x 28 or N x 784, values in [0, 1]) in a grid,
    ``nrow`` per row, with an optional label beside each row and under each column."""
    grid = _images_to_grid(images, nrow)
    height, width = grid.shape[:2]
    labelled = row_labels is not None or column_labels is not None
    fig = Figure(figsize=(scale * width / 30 + (1.0 if labelled else 0),
                          scale * height / 30 + (0.4 if title else 0) + (0.6 if labelled else 0)))
    ax = fig.add_subplot()
    ax.imshow(grid, interpolation="nearest")
    step = (width - _PADDING) / min(nrow, len(images))  # one image and its padding
    centre = _PADDING + (step - _PADDING) / 2
    if column_labels is not None:
        long = max(len(str(label)) for label in column_labels) > 3
        ax.set_xticks([centre + i * step for i in range(len(column_labels))],
                      [str(label) for label in column_labels], rotation=45 if long else 0, ha="right" if long else "center")
    else:
        ax.set_xticks([])
    if row_labels is not None:
        ax.set_yticks([centre + i * step for i in range(len(row_labels))], [str(label) for label in row_labels])
    else:
        ax.set_yticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def decoded_as_each_class(originals: torch.Tensor, decoded: torch.Tensor, classes, row_labels, ylabel: str,
                          title: str = "") -> Figure:
    """A row for each of N grey 28 x 28 images (``originals``, in any of ``image_grid``'s shapes): the image, then
    what its code decoded as each of the K ``classes`` gave (``decoded``, N x K images), under the classes' names;
    ``row_labels`` name the class of each row as ``ylabel`` says."""
    n, k = len(originals), len(classes)
    rows = torch.cat([originals.reshape(n, 1, 784), decoded.reshape(n, k, 784)], dim=1)
    return image_grid(rows.reshape(-1, 784).cpu(), nrow=k + 1, column_labels=["test image", *classes],
                      xlabel="decoded as", row_labels=row_labels, ylabel=ylabel, title=title)


def reconstructions(originals: torch.Tensor, reconstructed: torch.Tensor, title: str = "") -> Figure:
    """Originals on the top row, their reconstructions right below them (grey 28 x 28 images in any of
    ``image_grid``'s shapes, or colour images (N, 3, H, W))."""
    n = len(originals)
    if originals.dim() == 4 and originals.shape[1] == 3:
        both = torch.cat([originals, reconstructed.reshape(originals.shape)])
    else:
        both = torch.cat([originals.reshape(n, -1), reconstructed.reshape(n, -1)]).reshape(2 * n, 1, 28, 28)
    return image_grid(both, nrow=n, title=title or "top: originals, bottom: reconstructions")


def interpolation_strip(start: torch.Tensor, decoded: torch.Tensor, end: torch.Tensor, weights,
                        title: str = "") -> Figure:
    """Decodings along a line between two codes, framed by the two images the codes came from;
    each decoding is labelled with its weight ``t`` of the end image."""
    images = torch.cat([start.reshape(1, -1), decoded.reshape(len(decoded), -1), end.reshape(1, -1)])
    labels = ["start"] + [f"{float(t):.2g}" for t in weights] + ["end"]
    return image_grid(images, nrow=len(images), title=title, column_labels=labels,
                      xlabel="t: decode((1 - t) · code of start + t · code of end)")


def latent_scatter(latents: torch.Tensor, labels: torch.Tensor, method: str = "pca",
                   class_names=None, title: str = "", seed: int = 0) -> Figure:
    """Project latent codes to 2-D (``"pca"`` or ``"tsne"``) and colour them by label."""
    points = latents.detach().float().cpu().numpy()
    labels = labels.detach().cpu().numpy()
    if points.shape[1] > 2:
        points = projected(points, method, seed)
    fig = Figure(figsize=(6, 5))
    ax = fig.add_subplot()
    scatter = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap=_COLOURS, s=4, alpha=0.7,
                         vmin=-0.5, vmax=9.5)
    colorbar = fig.colorbar(scatter, ax=ax, ticks=range(10))
    if class_names is not None:
        colorbar.ax.set_yticklabels(class_names)
    axis_names = {"pca": "PC", "tsne": "t-SNE "}.get(method, "z") if latents.shape[1] > 2 else "z"
    ax.set_xlabel(f"{axis_names}1")
    ax.set_ylabel(f"{axis_names}2")
    ax.set_title(title or f"latent codes ({method.upper() if latents.shape[1] > 2 else '2-D'})")
    fig.tight_layout()
    return fig


def projected(points: np.ndarray, method: str, seed: int) -> np.ndarray:
    """``points`` (n, d) projected to (n, 2) by ``"pca"`` or ``"tsne"``."""
    if method == "pca":
        from sklearn.decomposition import PCA
        return PCA(n_components=2, random_state=seed).fit_transform(points)
    if method == "tsne":
        return tsne_embedding(points, seed)
    raise ValueError(f"Unknown projection {method!r}: choose 'pca' or 'tsne'.")


@remembered  # a t-SNE of thousands of codes takes seconds (a PCA a moment): a notebook's re-run loads it
def tsne_embedding(points: np.ndarray, seed: int) -> np.ndarray:
    """``points`` (n, d) embedded in 2-D by t-SNE."""
    from sklearn.manifold import TSNE
    return TSNE(n_components=2, init="pca", random_state=seed).fit_transform(points)


def level_probabilities(probabilities: dict, title: str = "", ylabel: str = "probability") -> Figure:
    """One panel per distribution over the levels 0, ..., L - 1 of a sub-pixel (``{panel title: L probabilities}``),
    drawn as bars, with their sum in the panel's corner."""
    fig, axes = _row_of_panels(len(probabilities), height=2.8, ylabel=ylabel)
    for ax, (name, values) in zip(axes, probabilities.items()):
        values = torch.as_tensor(values).detach().float().cpu()
        ax.bar(range(len(values)), values.numpy(), width=1.0, color="tab:blue")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("level k")
        ax.text(0.97, 0.95, f"sum {values.sum().item():.4f}", transform=ax.transAxes, ha="right", va="top", fontsize=8)
    return _titled(fig, title)


def _row_of_panels(count: int, height: float, ylabel: str):
    """A figure of ``count`` panels side by side, gridded, the first labelled ``ylabel``: (figure, panels)."""
    fig = Figure(figsize=(3.6 * count, height))
    axes = [fig.add_subplot(1, count, i + 1) for i in range(count)]
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel)
    return fig, axes


def _titled(fig: Figure, title: str) -> Figure:
    """``fig`` with ``title`` above its panels (if any), laid out."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def loss_curves(history: dict, title: str = "", ylabel: str = "nats per image") -> Figure:
    """One panel per loss term of a training history (``{term: [value per epoch]}``)."""
    fig, axes = _row_of_panels(len(history), height=3, ylabel=ylabel)
    for ax, (term, values) in zip(axes, history.items()):
        ax.plot(range(1, len(values) + 1), values, marker="o")
        ax.set_xlabel("epoch")
        ax.set_title(term)
    return _titled(fig, title)


def compared_curves(histories: dict, title: str = "", ylabel: str = "nats per image", log_y: bool = False) -> Figure:
    """Training histories of several models (``{model: {term: [value per epoch]}}``): one panel per
    term, one line per model, so that the models are compared on the same axes (``log_y``: a log scale)."""
    terms = list(next(iter(histories.values())))
    fig, axes = _row_of_panels(len(terms), height=3, ylabel=ylabel)
    for ax, term in zip(axes, terms):
        for model, history in histories.items():
            values = history[term]
            ax.plot(range(1, len(values) + 1), values, marker="o", label=model)
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(term)
    axes[0].legend(fontsize=8)
    return _titled(fig, title)


def rate_distortion(points: dict, title: str = "", distortion: str = "−log p(x|z), nats", elbo_lines: bool = True) -> Figure:
    """Distortion against rate, one labelled point per β (``{beta: (rate, distortion)}``).

    With ``elbo_lines``, dashed lines mark a constant negative ELBO, rate + distortion, through each
    point: the lowest line belongs to the best ELBO. ``distortion`` names the vertical axis.
    """
    betas = sorted(points)
    rates = np.array([points[beta][0] for beta in betas])
    distortions = np.array([points[beta][1] for beta in betas])
    fig = Figure(figsize=(6, 4.5))
    ax = fig.add_subplot()
    span = np.linspace(0, rates.max() * 1.1, 2)
    if elbo_lines:
        for rate, value in zip(rates, distortions):
            ax.plot(span, rate + value - span, color="0.8", linestyle="--", linewidth=0.8, zorder=0)
    ax.plot(rates, distortions, marker="o")
    for beta, rate, value in zip(betas, rates, distortions):
        ax.annotate(f"β = {beta:.2g}", (rate, value), textcoords="offset points", xytext=(6, 4))
    ax.set_xlim(0, rates.max() * 1.1)
    ax.set_ylim(distortions.min() - 0.1 * np.ptp(distortions) - 1, distortions.max() + 0.1 * np.ptp(distortions) + 1)
    ax.set_xlabel("rate: KL(q(z|x) ‖ p(z)), nats per image")
    ax.set_ylabel(f"distortion: {distortion} per image")
    ax.set_title(title or "rate against distortion")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def per_dimension_kl(kls: dict, active: dict, title: str = "", inner: dict | None = None,
                     inner_label: str = "") -> Figure:
    """One panel per model (``{model: KL per latent dimension}``): the dimensions sorted by their KL,
    those counted active (``{model: boolean per dimension}``) in colour, the others grey; ``inner``
    (``{model: a part of each dimension's KL}``, named ``inner_label``) is drawn inside each bar."""
    fig = Figure(figsize=(3.6 * len(kls), 3))
    top = max(float(kl.max()) for kl in kls.values()) * 1.1
    for i, (name, kl) in enumerate(kls.items()):
        ax = fig.add_subplot(1, len(kls), i + 1)
        order = kl.argsort(descending=True)
        colours = ["tab:blue" if bool(active[name][d]) else "0.7" for d in order.tolist()]
        ax.bar(range(len(kl)), kl[order].numpy(), color=colours)
        if inner is not None:
            ax.bar(range(len(kl)), torch.as_tensor(inner[name])[order].numpy(), width=0.4, color="black",
                   label=inner_label)
            if i == len(kls) - 1:
                ax.legend(fontsize=8, loc="upper right")
        ax.set_ylim(0, top)
        ax.set_xlabel("latent dimension, by KL")
        ax.set_title(f"{name}: {int(active[name].sum())} active", fontsize=10)
        if i == 0:
            ax.set_ylabel("KL to the prior, nats per image")
        ax.grid(alpha=0.3, axis="y")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def kl_over_training(kls: dict, title: str = "") -> Figure:
    """One panel per model (``{model: KL per latent dimension after each epoch, shape (epochs, dims)}``): each
    dimension's KL (rows, sorted by the KL it ends with) epoch by epoch (columns), on one colour scale."""
    kls = {name: torch.as_tensor(kl).detach().cpu().double() for name, kl in kls.items()}
    top = max(float(kl.max()) for kl in kls.values())
    fig = Figure(figsize=(3.4 * len(kls) + 1.2, 3.5))
    fig.subplots_adjust(top=0.8, bottom=0.16)
    axes = [fig.add_subplot(1, len(kls), i + 1) for i in range(len(kls))]
    for ax, (name, kl) in zip(axes, kls.items()):
        order = kl[-1].argsort(descending=True)
        image = ax.imshow(kl[:, order].T.numpy(), vmin=0.0, vmax=top, cmap="magma", aspect="auto",
                          interpolation="nearest", extent=(0.5, len(kl) + 0.5, kl.shape[1] - 0.5, -0.5))
        ax.set_xlabel("epoch")
        ax.set_title(name, fontsize=10)
    axes[0].set_ylabel("latent dimension, by final KL")
    fig.colorbar(image, ax=axes, label="KL to the prior, nats per image", shrink=0.85)
    if title:
        fig.suptitle(title)
    return fig


def per_image_gain(before: torch.Tensor, after: torch.Tensor, xlabel: str, ylabel: str, title: str = "") -> Figure:
    """One point per image: the gain ``after - before`` against ``before``, with the line of no gain."""
    before, after = before.detach().cpu().numpy(), after.detach().cpu().numpy()
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    ax.axhline(0, color="0.6", linestyle="--", linewidth=0.8, label="no gain")
    ax.scatter(before, after - before, s=10, alpha=0.7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def refinement_curve(steps, elbos, bound: float, bound_label: str, title: str = "") -> Figure:
    """The mean ELBO after each number of refinement ``steps`` (``elbos``), against a ``bound`` it cannot pass."""
    fig = Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    ax.plot(list(steps), list(elbos), marker="o", label="mean ELBO of the refined q")
    ax.axhline(bound, color="0.4", linestyle="--", linewidth=0.8, label=bound_label)
    ax.set_xlabel("refinement steps on (μ, log σ²)")
    ax.set_ylabel("nats per image")
    ax.legend(fontsize=8)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def pixel_maps(maps: dict, label: str, title: str = "") -> Figure:
    """One 28 x 28 image per entry of ``maps`` (``{name: 784 values}``), on one colour scale, with its bar."""
    values = {name: v.detach().cpu().double().reshape(28, 28).numpy() for name, v in maps.items()}
    low, high = min(v.min() for v in values.values()), max(v.max() for v in values.values())
    fig = Figure(figsize=(2.8 * len(values) + 1.2, 3.0))
    axes = [fig.add_subplot(1, len(values), i + 1) for i in range(len(values))]
    for ax, (name, v) in zip(axes, values.items()):
        image = ax.imshow(v, vmin=low, vmax=high, cmap="viridis", interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes, label=label, shrink=0.85)
    if title:
        fig.suptitle(title)
    return fig


def colourings(points, colourings: dict, title: str = "") -> Figure:
    """The same 2-D points (n, 2) once per entry of ``colourings`` (``{name: n group numbers}``), coloured by group."""
    points = np.asarray(points)
    fig = Figure(figsize=(3.6 * len(colourings), 3.6))
    for i, (name, groups) in enumerate(colourings.items()):
        ax = fig.add_subplot(1, len(colourings), i + 1)
        ax.scatter(points[:, 0], points[:, 1], c=np.asarray(groups), cmap="tab10", vmin=-0.5, vmax=9.5, s=4, alpha=0.7)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def cluster_class_table(labels, clusters, order, row_labels, class_names, title: str = "") -> Figure:
    """How many images of each class (columns) each cluster holds (rows, in ``order``), shaded by the share of
    the cluster's images."""
    labels, clusters = np.asarray(labels), np.asarray(clusters)
    counts = np.array([[np.sum((clusters == c) & (labels == k)) for k in range(len(class_names))] for c in order])
    shares = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    fig = Figure(figsize=(0.62 * len(class_names) + 2.6, 0.36 * len(order) + 1.4))
    ax = fig.add_subplot()
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for (row, column), count in np.ndenumerate(counts):
        ax.text(column, row, str(count), ha="center", va="center", fontsize=7,
                color="white" if shares[row, column] > 0.6 else "black")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(order)), row_labels, fontsize=8)
    ax.set_xlabel("true class")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def simplex_points(probabilities: torch.Tensor) -> np.ndarray:
    """Points of the 3-category simplex, (n, 3), in the plane: category 1 at (0, 0), 2 at (1, 0), 3 at the top."""
    p = probabilities.detach().cpu().double().numpy()
    return np.stack([p[:, 1] + p[:, 2] / 2, p[:, 2] * np.sqrt(3) / 2], axis=1)


def simplex_samples(samples: dict, title: str = "") -> Figure:
    """One triangle per temperature (``{tau: samples of shape (n, 3)}``), each sample a point of the simplex."""
    fig = Figure(figsize=(2.6 * len(samples), 2.8))
    corners = simplex_points(torch.eye(3))
    for i, (tau, points) in enumerate(samples.items()):
        ax = fig.add_subplot(1, len(samples), i + 1)
        ax.plot(*np.vstack([corners, corners[:1]]).T, color="0.5", linewidth=0.8)
        xy = simplex_points(points)
        ax.scatter(xy[:, 0], xy[:, 1], s=4, alpha=0.4)
        for (x, y), name in zip(corners, ("c = 1", "c = 2", "c = 3")):
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(0, -11 if y == 0 else 4), ha="center", fontsize=8)
        ax.set_title(f"τ = {tau:g}")
        ax.set_xlim(-0.1, 1.1)
        ax.set_ylim(-0.15, 1.0)
        ax.set_aspect("equal")
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def aggregate_posterior(codes: torch.Tensor, labels: torch.Tensor, class_names=None, title: str = "") -> Figure:
    """2-D codes (one z drawn from each q(z|x)), coloured by class, over the circles that hold
    39 %, 86 % and 99 % of the prior N(0, I)'s mass (radius 1, 2 and 3)."""
    points = codes.detach().float().cpu().numpy()
    fig = Figure(figsize=(6, 5))
    ax = fig.add_subplot()
    angle = np.linspace(0, 2 * np.pi, 200)
    for radius in (1, 2, 3):
        ax.plot(radius * np.cos(angle), radius * np.sin(angle), color="0.3", linestyle="--", linewidth=0.8)
    scatter = ax.scatter(points[:, 0], points[:, 1], c=labels.cpu().numpy(), cmap=_COLOURS, s=3, alpha=0.6,
                         vmin=-0.5, vmax=9.5)
    colorbar = fig.colorbar(scatter, ax=ax, ticks=range(10))
    if class_names is not None:
        colorbar.ax.set_yticklabels(class_names)
    extent = max(3.5, float(np.abs(points).max()) * 1.05)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(title or "codes of the test images; dashed: the prior's 1, 2, 3 σ circles")
    fig.tight_layout()
    return fig


def alt_text(fig: Figure) -> str:
    """What a figure shows, from its titles and axis labels: the text a screen reader reads (and that
    nbconvert's HTML, e.g. nbgrader's feedback, puts in the image's ``alt``); empty if it has none."""
    panels = []
    for ax in fig.axes:
        x, y = ax.get_xlabel(), ax.get_ylabel()
        axes = f"{y} against {x}" if x and y else x or y
        panels.append(": ".join(part for part in (ax.get_title(), axes) if part))
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    return "; ".join(part for part in (title, *panels) if part)


def give_shown_figures_alt_text() -> None:
    """In an IPython kernel where ``%matplotlib inline`` has run, show each Figure's PNG with its alt text."""
    try:
        shell = get_ipython()  # noqa: F821  (defined only inside IPython)
    except NameError:
        return
    png = shell.display_formatter.formatters["image/png"]
    try:
        draw = png.lookup_by_type(Figure)
    except KeyError:
        return  # figures are not shown as PNG here
    if getattr(draw, "gives_alt_text", False):
        return

    def draw_with_alt_text(fig):
        data, description = draw(fig), alt_text(fig)
        return (data, {"alt": description}) if data is not None and description else data

    draw_with_alt_text.gives_alt_text = True
    png.for_type(Figure, draw_with_alt_text)


def code_shares(shares: dict, title: str = "") -> Figure:
    """How often each code of a codebook is chosen (``{model: share of each code}``): one panel per model, its
    codes sorted from the most chosen, and the number never chosen in the panel's title."""
    fig = Figure(figsize=(3.6 * len(shares), 2.8))
    for i, (model, share) in enumerate(shares.items()):
        ax = fig.add_subplot(1, len(shares), i + 1)
        share = torch.as_tensor(share, dtype=torch.float64).cpu().sort(descending=True).values
        ax.bar(range(len(share)), 100 * share.numpy(), width=1.0)
        ax.set_title(f"{model}: {int((share == 0).sum())} of {len(share)} never chosen", fontsize=9)
        ax.set_xlabel("codes, the most chosen first")
        if i == 0:
            ax.set_ylabel("share of the vectors, %")
        ax.grid(alpha=0.3, axis="y")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


DEPENDENCE_COLOURS = {"the position": "black", "seen": "tab:blue", "before it, not seen": "tab:red",
                      "after it": "0.9"}


def dependence_map(seen: torch.Tensor, positions, title: str = "") -> Figure:
    """For each output position (i, j) in ``positions``, the grid of inputs coloured by what its conditional sees
    (``seen`` from ``vae_helpers.autoregressive.dependence``): seen, before it in reading order but not seen (a
    blind spot), or after it; the panel's title counts the blind spot."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    height, width = seen.shape[:2]
    order = torch.arange(height * width).view(height, width)
    fig = Figure(figsize=(2.6 * len(positions) + 2.4, 2.9))
    colours = ListedColormap(list(DEPENDENCE_COLOURS.values()))
    for n, (i, j) in enumerate(positions):
        before = order < order[i, j]
        kind = torch.full((height, width), 3)
        kind[before & seen[i, j].cpu()] = 1
        kind[before & ~seen[i, j].cpu()] = 2
        kind[i, j] = 0
        ax = fig.add_subplot(1, len(positions), n + 1)
        ax.imshow(kind.numpy(), cmap=colours, vmin=0, vmax=3, interpolation="nearest")
        ax.set_xticks(np.arange(width) - 0.5, minor=True)
        ax.set_yticks(np.arange(height) - 0.5, minor=True)
        ax.grid(which="minor", color="white", linewidth=1)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        ax.set_title(f"output at {(i, j)}: {int((kind == 2).sum())} earlier not seen", fontsize=9)
    fig.legend(handles=[Patch(color=c, label=name) for name, c in DEPENDENCE_COLOURS.items()],
               loc="center right", fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    fig.subplots_adjust(right=1 - 2.0 / fig.get_figwidth())
    return fig


def posterior_and_q(panels, title: str = "", floor: float = -12.0) -> Figure:
    """One panel per image: its exact log posterior on a grid (``{"z1": (n,), "z2": (m,), "log_density": (m, n),
    "mean": (2,), "std": (2,), "title": str}``), filled and clipped at ``floor``, with the diagonal Gaussian q of
    that ``mean`` and ``std`` drawn at 1 and 2 standard deviations."""
    fig = Figure(figsize=(3.6 * len(panels) + 1.0, 3.8), layout="constrained")
    axes = [fig.add_subplot(1, len(panels), i + 1) for i in range(len(panels))]
    angles = np.linspace(0, 2 * np.pi, 100)
    for ax, panel in zip(axes, panels):
        z1, z2 = (torch.as_tensor(panel[k]).detach().cpu().double().numpy() for k in ("z1", "z2"))
        density = torch.as_tensor(panel["log_density"]).detach().cpu().double().clamp(min=floor).numpy()
        shown = ax.contourf(z1, z2, density, levels=12, cmap="viridis")
        mean, std = (torch.as_tensor(panel[k]).detach().cpu().double().numpy() for k in ("mean", "std"))
        for n_std in (1, 2):
            ax.plot(mean[0] + n_std * std[0] * np.cos(angles), mean[1] + n_std * std[1] * np.sin(angles),
                    color="w", ls="--", lw=1)
        ax.set(xlabel="$z_1$", ylabel="$z_2$")
        ax.set_title(panel["title"], fontsize=9)
    fig.colorbar(shown, ax=axes, label=f"log p(z | x), clipped at {floor:g}")
    if title:
        fig.suptitle(title)
    return fig


def _two_sigma_contour(mean, covariance) -> np.ndarray:
    """The 2σ contour of the 2-D Gaussian N(mean, covariance): 200 points, shape (2, 200)."""
    mean, covariance = (torch.as_tensor(t).detach().cpu().double().numpy() for t in (mean, covariance))
    angles = np.linspace(0, 2 * np.pi, 200)
    return mean[:, None] + 2 * np.linalg.cholesky(covariance) @ np.stack([np.cos(angles), np.sin(angles)])


def diagonal_fits_and_gaps(mean, covariance, fits: dict, scales, gaps, title: str = "") -> Figure:
    """Diagonal Gaussians fitted to a correlated 2-D Gaussian posterior N(``mean``, ``covariance``), so that what
    each one misses is seen beside what it costs. Left: the 2σ contours of the posterior and of each fit
    (``{name: (its variances, its scale s, its gap)}``); right: the ELBO's gap of a diagonal q with the student's
    mean and s times the student's variances (``gaps`` at ``scales``), with each fit marked at its s."""
    fig = Figure(figsize=(10, 4.2))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    left.plot(*_two_sigma_contour(mean, covariance), color="k", label="p(z | x)")
    for i, (name, (variances, _, _)) in enumerate(fits.items()):
        left.plot(*_two_sigma_contour(mean, torch.diag(torch.as_tensor(variances))), color=f"C{i}",
                  ls=("-", "--", ":")[i % 3], label=name)
    left.set(aspect="equal", xlabel="$z_1$", ylabel="$z_2$", title="2σ contours")
    left.legend(fontsize=8, loc="lower left")
    right.plot(np.asarray(scales, dtype=float), np.asarray(gaps, dtype=float), color="k")
    for i, (name, (_, scale, gap)) in enumerate(fits.items()):
        right.plot(scale, gap, "o", color=f"C{i}", label=f"{name}: {gap:.3f} nats")
    right.set(xscale="log", xlabel="$s$: the variances of your best_diagonal_q, times $s$", ylabel="gap, nats",
              title="the gap of a diagonal q: your mean, $s$ × your variances")
    right.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def draws_against_posterior(draws: dict, mean, covariance, title: str = "") -> Figure:
    """Draws of each approximate posterior (``{panel title: (n, 2) draws}``) over the 2σ contour of the exact
    Gaussian posterior N(``mean``, ``covariance``), on shared axes, so that the shape each q reaches is seen."""
    fig = Figure(figsize=(4.5 * len(draws), 4.2))
    contour = _two_sigma_contour(mean, covariance)
    first = None
    for i, (name, z) in enumerate(draws.items()):
        ax = fig.add_subplot(1, len(draws), i + 1, sharex=first, sharey=first)
        first = first or ax
        z = torch.as_tensor(z).detach().cpu().double().numpy()
        ax.scatter(z[:, 0], z[:, 1], s=2, alpha=0.3, color="C0")
        ax.plot(*contour, color="k")
        ax.set(aspect="equal", xlabel="$z_1$", title=name)
        if i == 0:
            ax.set_ylabel("$z_2$")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
