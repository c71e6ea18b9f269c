"""Paper-figure mirrors: small matplotlib helpers that claims use to draw into the report.

Figures are drawn with the non-interactive Agg backend, one PNG per call, so a run on a
machine without a display (CI) writes them the same way. matplotlib is imported by the first
figure drawn, not with this module (which every theorem module imports).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Sequence

import numpy as np

from sim.errors import InputError


@cache
def _pyplot():
    """matplotlib's pyplot, on the Agg backend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def curves(path: Path, series: Sequence[tuple[str, np.ndarray, np.ndarray, str]], *,
           title: str, xlabel: str, ylabel: str, logx: bool = True, logy: bool = False,
           hlines: Sequence[tuple[float, str]] = ()) -> Path:
    """Draw labelled curves (label, x, y, style) with optional horizontal threshold lines."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=110)
    for label, x, y, style in series:
        ax.plot(x, y, style, label=label, lw=1.4, ms=3)
    for yv, label in hlines:
        ax.axhline(yv, color="0.5", ls=":", lw=1)
        ax.annotate(label, (0.01, yv), xycoords=("axes fraction", "data"), fontsize=7,
                    color="0.35", va="bottom")
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def overlays(path: Path, panels: Sequence[tuple[str, np.ndarray, np.ndarray]], *, title: str,
             ncols: int = 4, max_points: int = 400) -> Path:
    """The spec's probe figures (embeddings_embed 3.9): per panel, test items sorted by the
    true target (red curve) with the probe's predictions overlaid (blue dots)."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ncols = min(ncols, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.2 * nrows), dpi=110,
                             squeeze=False)
    for ax, (name, true, pred) in zip(axes.ravel(), panels):
        true, pred = np.asarray(true, dtype=np.float64), np.asarray(pred, dtype=np.float64)
        keep = np.linspace(0, len(true) - 1, min(max_points, len(true))).astype(int)
        order = np.argsort(true)[keep]
        ax.plot(pred[order], ".", color="tab:blue", ms=2, label="probe")
        ax.plot(true[order], "-", color="tab:red", lw=1.2, label="target")
        ax.set_title(name, fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def bars(path: Path, groups: Sequence[str], series: dict, *, title: str, ylabel: str,
         hlines: Sequence[tuple[float, str]] = ()) -> Path:
    """Grouped bars: ``series`` maps a label to one value per group."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(groups), 3.4), dpi=110)
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for i, (label, values) in enumerate(series.items()):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label)
    for yv, label in hlines:
        ax.axhline(yv, color="0.4", ls=":", lw=1)
        ax.annotate(label, (0.01, yv), xycoords=("axes fraction", "data"), fontsize=7, va="bottom")
    ax.set_xticks(x, groups, fontsize=7)
    ax.set(title=title, ylabel=ylabel)
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def scatters(path: Path, xy: np.ndarray, colourings: Sequence[tuple[str, np.ndarray]], *,
             title: str) -> Path:
    """One 2-D scatter of ``xy`` per colouring (name, values), side by side."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(colourings), figsize=(3.2 * len(colourings), 3.0), dpi=110,
                             squeeze=False)
    for ax, (name, values) in zip(axes.ravel(), colourings):
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=values, s=3, cmap="viridis")
        fig.colorbar(sc, ax=ax, shrink=0.8)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def heatmaps(path: Path, panels: Sequence[tuple[str, np.ndarray]], *, title: str,
             ncols: int = 2, marks: Sequence[np.ndarray | None] | None = None,
             xlabel: str = "", ylabel: str = "") -> Path:
    """2-D arrays as heatmaps on one shared colour scale, ``ncols`` panels per row (pass
    pairs of panels with ``ncols=2`` to set, say, an exact grid beside its estimate).

    ``panels`` are (name, matrix) with ``matrix[i, j]`` drawn at column ``j``, row ``i``
    (row 0 at the bottom); ``marks``, one per panel (or None), are (k, 2) arrays of
    (column, row) positions drawn as white dots (say, the cells a sequence observed)."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mats = [np.asarray(m, dtype=np.float64) for _, m in panels]
    if not mats or any(m.ndim != 2 for m in mats):
        raise InputError("heatmaps needs one or more 2-D arrays; got shapes "
                         f"{[m.shape for m in mats]}")
    marks = list(marks) if marks is not None else [None] * len(mats)
    if len(marks) != len(mats):
        raise InputError(f"heatmaps got {len(marks)} marks for {len(mats)} panels")
    ncols = max(1, min(ncols, len(mats)))
    nrows = -(-len(mats) // ncols)
    lo, hi = min(float(m.min()) for m in mats), max(float(m.max()) for m in mats)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.2 * ncols + 0.9, 2.3 * nrows), dpi=110,
                             squeeze=False, layout="constrained")
    image = None
    for ax, (name, _), m, mark in zip(axes.ravel(), panels, mats, marks):
        image = ax.imshow(m, origin="lower", cmap="viridis", vmin=lo, vmax=hi)
        if mark is not None and len(mark):
            mark = np.asarray(mark, dtype=np.float64)
            ax.plot(mark[:, 0], mark[:, 1], "o", ms=3, mfc="white", mec="black", mew=0.5)
        ax.set_title(name, fontsize=7)
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.xaxis.label.set_fontsize(6)
        ax.yaxis.label.set_fontsize(6)
        ax.tick_params(labelsize=5)
    for ax in axes.ravel()[len(mats):]:
        ax.axis("off")
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8)
    fig.suptitle(title, fontsize=9)
    fig.savefig(path)
    plt.close(fig)
    return path
