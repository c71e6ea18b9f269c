"""The closed forms of Jiang et al. 2024 that the theorem modules check: D-T2 and D-P2.

Both are the specification's formalisations (linear_origins §3.4, proved there) and are
public so that a new theorem can build on them; ``theorems.jiang2024._common`` re-exports
them for the package's own modules.
"""

from __future__ import annotations

import numpy as np

__all__ = ["canonical_Z", "closed_form_G"]


def closed_form_G(C: np.ndarray, A: np.ndarray) -> np.ndarray:
    """D-T2: the solution of program P2 with fixed structured embeddings F = S A^T.

    Parameters
    ----------
    C : ndarray of shape (n_tokens, m)
        The tokens' concept values, in {0, 1}.
    A : ndarray of shape (d, m)
        The embedding axes, of full column rank.

    Returns
    -------
    ndarray of shape (n_tokens, d)
        G* = 1/2 (2C - 1) (A^T A)^{-1} A^T.
    """
    return 0.5 * (2 * C - 1) @ np.linalg.solve(A.T @ A, A.T)


def canonical_Z(S: np.ndarray, C: np.ndarray) -> np.ndarray:
    """D-P2: the canonical logit table, which has P2 margin exactly 1.

    Parameters
    ----------
    S : ndarray of shape (n_contexts, m)
        The contexts' concept values, in {-1, +1}.
    C : ndarray of shape (n_tokens, m)
        The tokens' concept values, in {0, 1}.

    Returns
    -------
    ndarray of shape (n_contexts, n_tokens)
        Z_c = 1/2 S (2C - 1)^T.
    """
    return 0.5 * S @ (2 * C - 1).T
