"""Writing an ``.npz`` archive to exactly the file a caller names.

``np.savez`` appends ".npz" to a path that lacks it, so a result saved to a cache entry's
own name would land beside it; an open binary file is written as it is.
"""

from __future__ import annotations

import os

import numpy as np


def save_npz(file, **arrays) -> None:
    """``np.savez(file, **arrays)``, to the path ``file`` itself (whatever its suffix) or to
    the open binary file ``file``."""
    if isinstance(file, (str, os.PathLike)):
        with open(file, "wb") as fh:
            np.savez(fh, **arrays)
    else:
        np.savez(file, **arrays)
