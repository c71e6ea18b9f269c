"""Paper-figure mirrors: small matplotlib helpers that claims use to draw into the report.

Figures are drawn with the non-interactive Agg backend, one PNG per call, so a run on a
machine without a display (CI) writes them the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def curves(path: Path, series: Sequence[tuple[str, np.ndarray, np.ndarray, str]], *,
           title: str, xlabel: str, ylabel: str, logx: bool = True, logy: bool = False,
           hlines: Sequence[tuple[float, str]] = ()) -> Path:
    """Draw labelled curves (label, x, y, style) with optional horizontal threshold lines."""
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
