"""Pictures a lesson saves: sample grids and loss curves (matplotlib, no screen needed)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import backend  # noqa: E402


def image_grid(images, nrow):
    """(N, 28, 28) or (N, 1, 28, 28) in [0, 1] -> one (rows*30, nrow*30) tiled image."""
    images = backend.to_host(images).reshape(len(images), 28, 28)
    ncol = nrow
    rows = -(-len(images) // ncol)
    grid = np.ones((rows * 30, ncol * 30), dtype=np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, ncol)
        grid[r * 30 + 1:r * 30 + 29, c * 30 + 1:c * 30 + 29] = img
    return grid


def save_grid(images, path, nrow=10, title=None):
    """Save a grid of digit images (values in [0, 1]) as a PNG."""
    grid = image_grid(np.clip(backend.to_host(images), 0, 1), nrow)
    fig, ax = plt.subplots(figsize=(grid.shape[1] / 60, grid.shape[0] / 60 + (0.3 if title else 0)))
    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=8)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def save_curves(history, path, title="losses"):
    """history: {name: [(step, value), ...]} -> one line per name against the step."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, points in history.items():
        if points:
            steps, values = zip(*points)
            ax.plot(steps, values, label=name, linewidth=0.8)
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
