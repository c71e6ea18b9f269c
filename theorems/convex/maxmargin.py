"""Hard-margin SVMs (binary, with or without bias) and the multiclass max-margin program.

All three are built on :func:`theorems.convex._program.solve_min_norm`; this module only
builds the constraint matrices, validates input, and names the results. The program works
on an exact power-of-two rescaling of the data, so the answers are the same for data scaled
by 1e-8 or 1e8 (w scales by 1/s, the margin by s) or with columns on very different scales.

Binary (no bias):  min 1/2 ||w||^2  s.t.  y_i <w, x_i> >= 1.
Binary (bias):     min 1/2 ||w||^2  s.t.  y_i (<w, x_i> + b) >= 1.
Multiclass:        min 1/2 ||W||_F^2 s.t. <x_i, w_c - w_c'> >= 1 for c in P_i, c' not in P_i,
                   and optionally <x_i, w_c - w_c''> = 0 for c, c'' in P_i,
where P_i is the set of correct classes of sample i ({y_i} for ordinary labels; a
next-token support set for the soft-label form of Thrampoulidis 2024 and Jiang et al.'s P2).
Nuclear norm:      min ||Z||_* over logit tables Z (n, k) under the same constraints on the
                   rows of Z (Jiang et al.'s P3, the convex form of joint max-margin
                   training of Z = F G^T); certified by a dual point, not by KKT of the above.
"""

from __future__ import annotations

from dataclasses import dataclass

import warnings
from importlib.metadata import version

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from sim import errors
from sim.errors import InputError
from theorems.convex._program import (
    DEFAULT_SETTINGS,
    KKTResiduals,
    SeparabilityCertificate,
    SolverFailure,
    SolverSettings,
    certify_separable,
    check_settings,
    safe_norm,
    solve_min_norm,
)

NUCLEAR_CERTIFICATE = 1e-7  # relative duality gap and feasibility a P3 solution must certify


@dataclass(frozen=True)
class MaxMarginResult:
    """The certified binary hard-margin SVM solution.

    ``w`` and ``bias`` satisfy the unit-margin constraints; ``direction`` = w / ||w||;
    ``margin`` = 1 / ||w|| is the geometric margin; ``support`` holds the indices of the
    points on the margin; ``alpha`` the dual weights (w = sum_i alpha_i y_i x_i).
    """

    w: np.ndarray
    bias: float | None
    direction: np.ndarray
    margin: float
    support: np.ndarray
    alpha: np.ndarray
    objective: float
    residuals: KKTResiduals
    solver: str
    solver_version: str
    status: str
    refined: bool
    rounds: int


@dataclass(frozen=True)
class MulticlassMaxMarginResult:
    """The certified multiclass max-margin solution W (k, d), margin 1 / ||W||_F.

    ``constraints`` lists the inequality rows as (sample, correct class, wrong class);
    ``active`` indexes the rows on the margin and ``lam`` holds their multipliers.
    """

    W: np.ndarray
    direction: np.ndarray
    margin: float
    constraints: np.ndarray  # (R, 3) int
    active: np.ndarray
    lam: np.ndarray
    mu: np.ndarray
    objective: float
    residuals: KKTResiduals
    solver: str
    solver_version: str
    status: str
    refined: bool
    rounds: int


def _flag(name: str, value) -> bool:
    """``value`` as a bool, or an InputError naming ``name`` (1, 0, "yes", None are refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False; got {type(value).__name__}: {value!r}")
    return bool(value)


def _n_classes(value) -> int:
    """``value`` as an int >= 2, or an InputError naming n_classes (bools and floats refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputError(f"n_classes must be an integer >= 2; got {type(value).__name__}: "
                         f"{value!r}")
    if value < 2:
        raise InputError(f"n_classes must be an integer >= 2; got {value!r}")
    return int(value)


def _unit(w: np.ndarray, what: str):
    """(||w||, w / ||w||, 1 / ||w||) without overflow, or an InputError if the margin 1/||w||
    leaves float64's range (data scaled beyond ~1e+-150 for the max-margin program)."""
    norm = safe_norm(w)
    margin = 1.0 / norm if norm > 0 else float("inf")
    if not (0 < norm < float("inf") and 0 < margin < float("inf")):
        raise InputError(f"the {what}'s scale puts the margin 1/||w|| outside float64's range "
                         f"(||w|| = {norm!r}); rescale the data nearer to 1")
    return norm, w / norm, margin


def _binary_system(X, y, bias: bool):
    bias = _flag("bias", bias)
    X = errors.as_matrix("X", X)
    y = errors.binary_labels("y", y, X.shape[0])
    if bias:
        if np.unique(y).size < 2:
            raise InputError("a max-margin problem with a bias needs both labels +1 and -1")
        return np.hstack([y[:, None] * X, y[:, None]]), 1
    errors.nonzero_rows("X", X)
    return y[:, None] * X, 0


def separability(X, y, *, bias: bool = False,
                 settings: SolverSettings = DEFAULT_SETTINGS) -> SeparabilityCertificate:
    """Decide whether (X, y) is linearly separable (through the origin unless ``bias``).

    Works on an exact power-of-two equilibration of the rows y_i (x_i, 1): solves max t s.t.
    y_i (<w, x_i> + b) >= t, ||w||_inf <= 1, t <= 1 there. "Separable" is returned only with
    a direction whose margins are certified positive on the original data (with a rigorous
    rounding bound) and whose box margin exceeds the SEPARABILITY threshold; "not separable"
    only with multipliers of the theorem of the alternative that bound it by the threshold
    (recomputed here); otherwise SolverFailure. The answer is the same at any scale of X.
    """
    check_settings(settings)
    A, n_free = _binary_system(X, y, bias)
    return certify_separable(A, None, n_free, settings)


def max_margin(X, y, *, bias: bool = False, settings: SolverSettings = DEFAULT_SETTINGS,
               working_set: bool | None = None, solver: str = "auto") -> MaxMarginResult:
    """The binary hard-margin SVM through the origin (or with a free bias).

    ``solver`` is "auto" (DAQP's active-set solve, with Clarabel where DAQP is missing, the
    program has a bias, or DAQP's point is not certified), "daqp" or "clarabel"; whichever
    solves, the answer passes the same KKT check on every constraint, and ``solver`` /
    ``solver_version`` of the result name the one that did.

    Raises
    ------
    NotSeparableError
        If no separating hyperplane exists; its ``certificate`` holds the certified bound
        on the box margin (and the multipliers that prove it).
    InputError
        For NaN/inf, mismatched shapes, labels other than +-1, empty data, zero rows, a
        ``bias`` that is not a bool, ``settings`` that are not SolverSettings, and data whose
        scale (beyond ~1e+-150) puts w, its multipliers or 1/2 ||w||^2 outside float64.
    """
    check_settings(settings)
    A, n_free = _binary_system(X, y, bias)
    sol = solve_min_norm(A, None, n_free, settings=settings, working_set=working_set,
                         solver=solver)
    w = sol.u[: A.shape[1] - n_free]
    _, direction, margin = _unit(w, "data")
    return MaxMarginResult(
        w=w, bias=float(sol.u[-1]) if bias else None, direction=direction, margin=margin,
        support=sol.active, alpha=sol.lam, objective=sol.objective, residuals=sol.residuals,
        solver=sol.solver, solver_version=sol.solver_version, status=sol.status,
        refined=sol.refined, rounds=sol.rounds)


def _support_mask(y, support, n: int, n_classes: int | None) -> np.ndarray:
    if (y is None) == (support is None):
        raise InputError("give exactly one of y (class labels) or support (an (n, k) mask)")
    if y is not None:
        if n_classes is None:
            raise InputError("n_classes is required with class labels y")
        n_classes = _n_classes(n_classes)
        labels = errors.class_labels("y", y, n, n_classes)
        mask = np.zeros((n, n_classes), dtype=bool)
        mask[np.arange(n), labels] = True
        return mask
    mask = np.asarray(support)
    if mask.dtype != bool:
        raise InputError(f"support must be a boolean (n, k) mask; got dtype {mask.dtype}")
    if mask.ndim != 2 or mask.shape[0] != n:
        raise InputError(f"support must have shape ({n}, k); got {mask.shape}")
    if mask.shape[1] < 2:
        raise InputError("support needs at least 2 classes")
    empty = ~mask.any(axis=1)
    if empty.any():
        raise InputError(f"support row {int(np.flatnonzero(empty)[0])} has no correct class")
    return mask


def _multiclass_system(X, mask: np.ndarray, equalize: bool):
    """Sparse A (rows x_i at block c, -x_i at block c') and E, for u = vec(W), W (k, d)."""
    n, d = X.shape
    k = mask.shape[1]
    zero = ~X.any(axis=1)
    triples, eq_pairs = [], []
    for i in range(n):
        good, bad = np.flatnonzero(mask[i]), np.flatnonzero(~mask[i])
        # A zero row with a wrong class keeps its (unsatisfiable) rows: the program is then
        # infeasible and the separability certificate says so. Its equalities are 0 = 0.
        triples.extend((i, c, c2) for c in good for c2 in bad)
        if equalize and not zero[i]:
            eq_pairs.extend((i, good[0], c) for c in good[1:])
    triples = np.array(triples, dtype=np.int64).reshape(-1, 3)
    if triples.shape[0] == 0:
        raise InputError("every sample has all classes correct: there is no margin to maximise")

    def build(rows):
        r = np.repeat(np.arange(len(rows)), 2 * d)
        cols = np.concatenate([np.concatenate([rows[j, 1] * d + np.arange(d),
                                               rows[j, 2] * d + np.arange(d)])
                               for j in range(len(rows))])
        vals = np.concatenate([np.concatenate([X[rows[j, 0]], -X[rows[j, 0]]])
                               for j in range(len(rows))])
        return sp.csr_matrix((vals, (r, cols)), shape=(len(rows), k * d))

    E = build(np.array(eq_pairs, dtype=np.int64)) if eq_pairs else None
    return build(triples), E, triples


def multiclass_max_margin(X, y=None, *, support=None, n_classes: int | None = None,
                          equalize: bool = False, settings: SolverSettings = DEFAULT_SETTINGS,
                          working_set: bool | None = None,
                          solver: str = "auto") -> MulticlassMaxMarginResult:
    """The multiclass hard-margin program over W (k, d); see the module docstring.

    Give ``y`` with ``n_classes`` for ordinary labels, or ``support`` (an (n, k) boolean
    mask of correct classes) for the next-token form; ``equalize`` adds the equalities
    that tie the logits of all correct classes of a sample together. A zero feature row
    is allowed when all its classes are correct (e.g. the empty context of F = S A^T);
    with a wrong class it makes the data non-separable (NotSeparableError). ``solver`` as
    in :func:`max_margin`.
    """
    check_settings(settings)
    equalize = _flag("equalize", equalize)
    X = errors.as_matrix("X", X)
    mask = _support_mask(y, support, X.shape[0], n_classes)
    A, E, triples = _multiclass_system(X, mask, equalize)
    sol = solve_min_norm(A, E, 0, settings=settings, working_set=working_set,
                         what="classes (multiclass data)", solver=solver)
    k, d = mask.shape[1], X.shape[1]
    W = sol.u.reshape(k, d)
    _, direction, margin = _unit(W.ravel(), "data")
    return MulticlassMaxMarginResult(
        W=W, direction=direction.reshape(k, d), margin=margin, constraints=triples,
        active=sol.active, lam=sol.lam, mu=sol.mu, objective=sol.objective,
        residuals=sol.residuals, solver=sol.solver, solver_version=sol.solver_version,
        status=sol.status, refined=sol.refined, rounds=sol.rounds)


@dataclass(frozen=True)
class NuclearMaxMarginResult:
    """The certified minimum-nuclear-norm logit table Z (n, k) with unit margins.

    ``lower_bound`` is the dual objective at a feasible dual point built from the solver's
    multipliers (scaled into the dual ball), so ``value - lower_bound`` bounds the
    suboptimality independently of the solver's own report; ``residuals`` holds the
    relative gap, the largest margin violation and the largest equality residual.
    """

    Z: np.ndarray
    value: float
    lower_bound: float
    residuals: dict
    solver: str
    solver_version: str
    status: str


def nuclear_max_margin(support, *, equalize: bool = True,
                       settings: SolverSettings = DEFAULT_SETTINGS) -> NuclearMaxMarginResult:
    """min ||Z||_* s.t. Z[i, c] - Z[i, c'] >= 1 (c in P_i, c' not in P_i) and, with
    ``equalize``, equal logits on each P_i; ``support`` is the (n, k) boolean mask of P_i.

    Dual: max 1^T lam s.t. lam >= 0, ||mat(A^T lam - E^T mu)||_2 <= 1 (the spectral norm);
    a solution is returned only when the dual point certifies it to NUCLEAR_CERTIFICATE.
    """
    check_settings(settings)
    equalize = _flag("equalize", equalize)
    arr = np.asarray(support)
    if arr.ndim != 2:
        raise InputError(f"support must be a boolean (n, k) mask; got shape {arr.shape}")
    mask = _support_mask(None, arr, arr.shape[0], None)
    n, k = mask.shape
    A, E, _ = _multiclass_system(np.eye(n), mask, equalize)  # rows act on vec(W), W = Z^T (k, n)
    u = cp.Variable(k * n)
    cons = [A @ u >= 1.0] + ([E @ u == 0.0] if E is not None else [])
    prob = cp.Problem(cp.Minimize(cp.normNuc(cp.reshape(u, (k, n), order="C"))), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # failures are reported through the status below
        try:
            prob.solve(solver=cp.CLARABEL, **settings.kwargs())
        except cp.SolverError as exc:
            raise SolverFailure(f"Clarabel failed on the nuclear-norm program: {exc}") from exc
    if prob.status != cp.OPTIMAL:
        raise SolverFailure(f"nuclear-norm max-margin program: solver status {prob.status!r}")
    uv = np.asarray(u.value)
    Z = uv.reshape(k, n).T
    value = float(np.linalg.svd(Z, compute_uv=False).sum())
    lam = np.maximum(np.asarray(cons[0].dual_value), 0.0)
    y = A.T @ lam
    if E is not None:
        y = y - E.T @ np.asarray(cons[1].dual_value)
    spectral = float(np.linalg.norm(y.reshape(k, n), 2))
    lower = float(lam.sum()) / max(spectral, 1.0)  # scaled into the dual ball: a valid bound
    res = {"relative_gap": (value - lower) / max(value, 1e-300),
           "margin_violation": float(max(0.0, 1.0 - (A @ uv).min())),
           "equality_residual": float(np.abs(E @ uv).max()) if E is not None else 0.0}
    if max(res.values()) > NUCLEAR_CERTIFICATE:
        raise SolverFailure(f"nuclear-norm solution not certified: {res}")
    return NuclearMaxMarginResult(Z=Z, value=value, lower_bound=lower, residuals=res,
                                  solver="CLARABEL", solver_version=version("clarabel"),
                                  status=prob.status)
