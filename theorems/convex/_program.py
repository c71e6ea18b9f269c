"""The one max-margin program: minimum norm subject to unit margins, solved and certified.

Every max-margin problem in the package (binary with or without a bias, multiclass, the
next-token form with equalities) is an instance of

    minimise   1/2 ||D u||^2           (D = diag of 1 on regularised, 0 on free coordinates)
    subject to A u >= 1                 (one row per margin constraint)
               E u  = 0                 (optional equalities)

Solution path: cvxpy with Clarabel at tight tolerances (passed explicitly) -> status must
be optimal -> an active-set refinement solves the KKT system on the constraints found
active, in float64, so the returned point satisfies the KKT conditions to rounding error
-> independent residual checks (primal feasibility, dual feasibility, stationarity with
multipliers recomputed here, complementarity) on *all* constraints. Infeasibility is an
answer: the separability LP (max t s.t. A u >= t, E u = 0, |u_reg| <= 1, t <= 1) is solved
and returned inside :class:`NotSeparableError`. Where that LP is degenerate (labels with no
structure put its optimum at t = 0 on a large face, and Clarabel can end short of optimal),
the theorem of the alternative decides instead: multipliers lambda >= 0, sum 1, with
A^T lambda + E^T mu = r small, bound every unit-box margin by ||r||_1; the bound is
recomputed here from the solver's multipliers, never read from the solver.

Large problems use an exact working set (constraint generation): rank the rows by the
margin of a short dual-momentum run, solve on the lowest-margin rows, add every violated
row, re-solve; the final check on every row is the certificate that the sub-problem
optimum is the full optimum.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from importlib.metadata import version

import cvxpy as cp
import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse as sp

from theorems.tolerances import KKT_RESIDUAL, SEPARABILITY, Tol

# Rows whose solver slack a_r u - 1 is below this are treated as active when refining:
# Clarabel at 1e-10 gap leaves active slacks ~1e-9, while inactive rows of generic data sit
# orders of magnitude higher; a wrong guess only costs the refined candidate (the raw one
# is still scored), never a wrong certificate.
ACTIVE_SLACK = 1e-6


class NotSeparableError(ValueError):
    """The data admit no (strictly) separating solution; ``certificate`` says by how much."""

    def __init__(self, certificate: "SeparabilityCertificate", what: str = "data"):
        self.certificate = certificate
        source = ("the separability LP's optimal margin is" if certificate.proof == "lp" else
                  "multipliers of the theorem of the alternative bound every unit-box margin by")
        super().__init__(
            f"the {what} are not separable: {source} "
            f"{certificate.margin_box:.3e} (needs > {certificate.threshold:.1e}); "
            "no max-margin solution exists and gradient descent does not converge in direction"
        )


class SolverFailure(RuntimeError):
    """The solver's answer could not be trusted (status not optimal, or residuals too large)."""


@dataclass(frozen=True)
class SolverSettings:
    """Clarabel settings passed explicitly to every solve (tolerances tighter than default)."""

    tol_gap_abs: float = 1e-10
    tol_gap_rel: float = 1e-10
    tol_feas: float = 1e-10
    max_iter: int = 200

    def kwargs(self) -> dict:
        return {"tol_gap_abs": self.tol_gap_abs, "tol_gap_rel": self.tol_gap_rel,
                "tol_feas": self.tol_feas, "max_iter": self.max_iter}


DEFAULT_SETTINGS = SolverSettings()


@dataclass(frozen=True)
class KKTResiduals:
    """Scaled KKT residuals of a candidate solution, computed independently of the solver."""

    primal_infeasibility: float  # max(0, max_r 1 - a_r u) and max |E u|
    dual_infeasibility: float  # max(0, -min lambda) / max(1, max lambda)
    stationarity: float  # ||D u - A^T lambda - E^T mu||_inf / max(1, ||u||_inf)
    complementarity: float  # max_r lambda_r |a_r u - 1| / max(1, max lambda)

    @property
    def worst(self) -> float:
        return max(self.primal_infeasibility, self.dual_infeasibility,
                   self.stationarity, self.complementarity)


@dataclass(frozen=True)
class SeparabilityCertificate:
    """Optimum of the separability LP: separable iff ``margin_box`` > ``threshold``."""

    margin_box: float  # max t s.t. A u >= t, |u_reg|_inf <= 1 (an upper bound if proof="farkas")
    direction: np.ndarray  # u* / ||u*|| (zero vector when u* = 0 or proof="farkas")
    margin: float  # min_r a_r . direction (geometric margin of that direction)
    threshold: float
    separable: bool
    # "lp": the separability LP solved to optimality; "farkas": its LP ended short of optimal
    # and multipliers of the theorem of the alternative bound margin_box (not separable only)
    proof: str = "lp"


@dataclass(frozen=True)
class MinNormSolution:
    """A certified optimum of the min-norm program."""

    u: np.ndarray
    lam: np.ndarray  # inequality multipliers (one per row of A, zero off the working set)
    mu: np.ndarray  # equality multipliers
    objective: float
    residuals: KKTResiduals
    active: np.ndarray  # indices of rows with a_r u = 1 (to the active tolerance)
    solver: str
    solver_version: str
    status: str
    refined: bool
    rounds: int  # working-set rounds (1 = one solve)
    rows_solved: int  # constraints in the last sub-problem
    extras: dict = field(default_factory=dict)


def _reg_mask(p: int, n_free: int) -> np.ndarray:
    mask = np.ones(p)
    if n_free:
        mask[p - n_free:] = 0.0
    return mask


def residuals(A, E, u, lam, mu, n_free: int) -> KKTResiduals:
    """KKT residuals of (u, lambda, mu) for the program; see :class:`KKTResiduals`."""
    Au = A @ u
    Eu = E @ u if E is not None else np.zeros(0)
    primal = max(0.0, float(np.max(1.0 - Au)), float(np.max(np.abs(Eu), initial=0.0)))
    lam_scale = max(1.0, float(np.max(lam, initial=0.0)))
    dual = max(0.0, -float(np.min(lam, initial=0.0))) / lam_scale
    grad = _reg_mask(u.size, n_free) * u - A.T @ lam
    if E is not None:
        grad = grad - E.T @ mu
    stat = float(np.max(np.abs(grad))) / max(1.0, float(np.max(np.abs(u))))
    comp = float(np.max(np.abs(lam * (Au - 1.0)), initial=0.0)) / lam_scale
    return KKTResiduals(primal, dual, stat, comp)


def _dense(M):
    return M.toarray() if sp.issparse(M) else np.asarray(M)


def _multipliers(A_act, E, u, n_free: int):
    """Nonnegative lambda on the active rows and free mu minimising the stationarity residual."""
    rhs = _reg_mask(u.size, n_free) * u
    blocks = [_dense(A_act).T] + ([_dense(E).T] if E is not None else [])
    K = np.hstack(blocks) if blocks else np.zeros((u.size, 0))
    k_act = A_act.shape[0]
    lb = np.concatenate([np.zeros(k_act), np.full(K.shape[1] - k_act, -np.inf)])
    if K.shape[1] == 0:
        return np.zeros(0), np.zeros(0)
    res = scipy.optimize.lsq_linear(K, rhs, bounds=(lb, np.inf), method="bvls",
                                    tol=1e-15, lsmr_tol="auto")
    return res.x[:k_act], res.x[k_act:]


def _refine(A, E, n_free: int, act: np.ndarray):
    """Solve the equality-constrained KKT system on rows ``act`` in float64 (lstsq)."""
    p = A.shape[1]
    A_act = _dense(A[act])
    M = A_act if E is None else np.vstack([A_act, _dense(E)])
    r = np.concatenate([np.ones(len(act)), np.zeros(M.shape[0] - len(act))])
    if n_free == 0:
        # least-norm solution of M u = r
        u, *_ = scipy.linalg.lstsq(M, r, lapack_driver="gelsd")
    else:
        D = np.diag(_reg_mask(p, n_free))
        K = np.block([[D, -M.T], [M, np.zeros((M.shape[0], M.shape[0]))]])
        sol, *_ = scipy.linalg.lstsq(K, np.concatenate([np.zeros(p), r]), lapack_driver="gelsd")
        u = sol[:p]
    return u


def _solve_cvxpy(A, E, n_free: int, settings: SolverSettings):
    p = A.shape[1]
    u = cp.Variable(p)
    reg = u if n_free == 0 else u[: p - n_free]
    cons = [A @ u >= 1.0]
    if E is not None:
        cons.append(E @ u == 0.0)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(reg)), cons)
    with warnings.catch_warnings():
        # An inaccurate or failed solve is reported through the status, which we check.
        warnings.simplefilter("ignore")
        try:
            prob.solve(solver=cp.CLARABEL, **settings.kwargs())
        except cp.SolverError as exc:
            raise SolverFailure(f"Clarabel failed on the max-margin program: {exc}") from exc
    if prob.status == cp.OPTIMAL:
        return np.asarray(u.value), prob.status
    return None, prob.status


def certify_separable(A, E=None, n_free: int = 0, settings: SolverSettings = DEFAULT_SETTINGS,
                      tol: Tol = SEPARABILITY) -> SeparabilityCertificate:
    """Solve the separability LP and decide separability against ``tol``."""
    p = A.shape[1]
    u, t = cp.Variable(p), cp.Variable()
    reg = u if n_free == 0 else u[: p - n_free]
    cons = [A @ u >= t, reg <= 1.0, reg >= -1.0, t <= 1.0]
    if E is not None:
        cons.append(E @ u == 0.0)
    prob = cp.Problem(cp.Maximize(t), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob.solve(solver=cp.CLARABEL, **settings.kwargs())
    scale = float(np.max(np.abs(_dense(A)).sum(axis=1)))
    threshold = tol.atol * max(1.0, scale)
    if prob.status != cp.OPTIMAL:
        farkas = _farkas_bound(A, E, n_free, settings)
        if farkas is None or not farkas[0] <= threshold:
            found = "none" if farkas is None else f"one bounding the margin by {farkas[0]:.1e}"
            raise SolverFailure(f"the separability LP ended with status {prob.status!r}, and "
                                "the theorem of the alternative gave no certificate of non-"
                                f"separability ({found}; needs <= {threshold:.1e})")
        return SeparabilityCertificate(margin_box=farkas[0], direction=np.zeros(p), margin=0.0,
                                       threshold=threshold, separable=False, proof="farkas")
    u_star = np.asarray(u.value)
    t_star = float(t.value)
    # Independent check: the margin actually attained by u* (never trust t alone).
    attained = float(np.min(A @ u_star))
    if E is not None and u_star.any():
        attained = attained if np.max(np.abs(E @ u_star)) <= tol.atol else min(attained, 0.0)
    norm = float(np.linalg.norm(u_star[: p - n_free] if n_free else u_star))
    direction = u_star / norm if norm > 0 else np.zeros(p)
    return SeparabilityCertificate(
        margin_box=min(t_star, attained), direction=direction,
        margin=float(np.min(A @ direction)) if norm > 0 else 0.0,
        threshold=threshold, separable=min(t_star, attained) > threshold)


# The multipliers' QP can be as ill-conditioned as the LP it stands in for; Clarabel's own
# default 1e-8 tolerances are tried after the caller's settings and the tight defaults. The
# proof is the bound recomputed from the multipliers, so a looser solve certifies nothing false.
FARKAS_FALLBACK = SolverSettings(1e-8, 1e-8, 1e-8)
# The free coordinates are unbounded, so their part of A^T lambda + E^T mu must vanish: to
# this multiple of the largest |entry| of A (rounding after the multipliers' QP)
FREE_RESIDUAL = 1e-12
# Multipliers below this fraction of the largest are an interior point's residue (its
# complementary slackness is approximate); zeroing them is one of the candidates scored.
SUPPORT_LAMBDA = 1e-6


def _farkas_bound(A, E, n_free: int, settings: SolverSettings) -> tuple[float, np.ndarray] | None:
    """The theorem of the alternative for A u >= t > 0, E u = 0: find lambda >= 0 with
    sum(lambda) = 1 and mu minimising ||lambda||^2 subject to A^T lambda + E^T mu = 0.

    For any u with E u = 0 and |u_reg|_inf <= 1,  min_r a_r u <= lambda^T A u = r^T u <=
    ||r_reg||_1  where r = A^T lambda + E^T mu is recomputed here from the solver's lambda
    (clipped at 0, its residue possibly zeroed, renormalised, and with free coordinates
    corrected on its support) and r_free must vanish to rounding. Returns (||r_reg||_1,
    lambda) for the best candidate, or None when no solve reaches status optimal or no
    candidate's r_free vanishes.
    """
    R, p = A.shape
    lam = cp.Variable(R)
    mu = cp.Variable(E.shape[0]) if E is not None else None
    gram = A.T @ lam + (E.T @ mu if E is not None else 0)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(lam)), [gram == 0, cp.sum(lam) == 1, lam >= 0])
    for s in dict.fromkeys((settings, DEFAULT_SETTINGS, FARKAS_FALLBACK)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                prob.solve(solver=cp.CLARABEL, **s.kwargs())
            except cp.SolverError:
                continue
        if prob.status == cp.OPTIMAL:
            break
    else:
        return None
    raw = np.clip(np.asarray(lam.value, dtype=np.float64), 0.0, None)
    # candidates: the solver's multipliers clipped at 0, and the same with the interior
    # point's residue (entries below SUPPORT_LAMBDA of the largest) set to 0 exactly
    sparse = np.where(raw >= SUPPORT_LAMBDA * raw.max(initial=0.0), raw, 0.0)
    best = None
    Emu = np.asarray(E.T @ np.asarray(mu.value, dtype=np.float64)).ravel() if E is not None else 0.0
    for cand in (raw, sparse):
        if not cand.sum() > 0:
            continue
        cand = cand / cand.sum()
        if n_free:
            cand = _exact_free_part(A, Emu, n_free, cand)
            if cand is None:
                continue
        r = np.asarray(A.T @ cand).ravel() + Emu
        if n_free and np.max(np.abs(r[p - n_free:])) > FREE_RESIDUAL * max(1.0, float(abs(A).max())):
            continue
        bound = float(np.abs(r[: p - n_free]).sum())
        if best is None or bound < best[0]:
            best = (bound, cand)
    return best


def _exact_free_part(A, Emu, n_free: int, lam: np.ndarray) -> np.ndarray | None:
    """The least change of ``lam`` on its support that makes the free coordinates of
    A^T lam + E^T mu and 1 - sum(lam) vanish in float64 (the QP meets them only to its
    tolerance); None if that change makes a multiplier negative."""
    p = A.shape[1]
    S = np.flatnonzero(lam > 0)
    C = np.vstack([_dense(A[S])[:, p - n_free:].T, np.ones((1, S.size))])
    target = np.concatenate([-np.broadcast_to(Emu, (p,))[p - n_free:], [1.0]])
    delta, *_ = scipy.linalg.lstsq(C, target - C @ lam[S], lapack_driver="gelsd")
    out = lam.copy()
    out[S] += delta
    return out if out.min() >= 0.0 else None


def solve_min_norm(A, E=None, n_free: int = 0, *, settings: SolverSettings = DEFAULT_SETTINGS,
                   working_set: bool | None = None, what: str = "data") -> MinNormSolution:
    """Solve and certify the min-norm program; raise NotSeparableError if infeasible."""
    R, p = A.shape
    if working_set is None:
        working_set = R * p >= 50_000 and R > 3 * p
    rows = _initial_rows(A, n_free) if working_set else np.arange(R)
    rounds = 0
    while True:
        rounds += 1
        u, status = _solve_cvxpy(A[rows], E, n_free, settings)
        if u is None:
            # any status short of optimal asks the separability certificate: infeasibility is
            # an answer, and a proof of it is trusted whatever the program's own status
            failure = (f"Clarabel ended with status {status!r} on a {len(rows)}-row "
                       "max-margin program; the result is not trusted")
            try:
                cert = certify_separable(A, E, n_free, settings)
            except SolverFailure as exc:
                raise SolverFailure(f"{failure}, and {exc}") from exc
            if not cert.separable:
                raise NotSeparableError(cert, what)
            raise SolverFailure(failure)
        violated = np.flatnonzero(A @ u < 1.0 - KKT_RESIDUAL.atol)
        new = np.setdiff1d(violated, rows)
        if new.size == 0:
            break
        rows = np.union1d(rows, new)
    return _certify(A, E, n_free, u, rows, rounds, status)


def _certify(A, E, n_free, u_raw, rows, rounds, status) -> MinNormSolution:
    """Refine on the active set; recompute multipliers; accept the better-certified point.

    The multipliers are never the solver's: they are refitted here (nonnegative least
    squares on the rows found active), so the residual check is independent of Clarabel.
    """
    act = np.flatnonzero(A @ u_raw <= 1.0 + ACTIVE_SLACK)
    candidates = [(u_raw, False)]
    if act.size:
        candidates.append((_refine(A, E, n_free, act), True))
    scored = []
    for u, refined in candidates:
        lam_act, mu = _multipliers(A[act], E, u, n_free)
        lam = np.zeros(A.shape[0])
        lam[act] = lam_act
        scored.append((residuals(A, E, u, lam, mu, n_free), u, lam, mu, refined))
    res, u, lam, mu, refined = min(scored, key=lambda s: s[0].worst)
    if not res.worst <= KKT_RESIDUAL.atol:
        raise SolverFailure(f"the max-margin solution fails its KKT check: {res} "
                            f"(tolerance {KKT_RESIDUAL.atol:g}: {KKT_RESIDUAL.why})")
    reg = u if n_free == 0 else u[: u.size - n_free]
    active = np.flatnonzero(A @ u <= 1.0 + KKT_RESIDUAL.atol)
    return MinNormSolution(
        u=u, lam=lam, mu=mu, objective=0.5 * float(reg @ reg), residuals=res, active=active,
        solver="CLARABEL", solver_version=version("clarabel"), status=status, refined=refined,
        rounds=rounds, rows_solved=int(len(rows)))


def _initial_rows(A, n_free: int) -> np.ndarray:
    """Rows with the lowest margins under a short dual-momentum run (3p of them)."""
    from sim.gd import run  # local: the working set is the only user of sim here

    R, p = A.shape
    Ar = _dense(A)[:, : p - n_free] if n_free else _dense(A)
    nz = np.flatnonzero(np.linalg.norm(Ar, axis=1) > 0)
    k = min(R, 3 * p)
    if nz.size == 0:
        return np.arange(k)
    traj = run(Ar[nz], np.ones(nz.size), method="momentum", loss="exponential", steps=200,
               checkpoints_per_decade=1)
    score = np.full(R, -np.inf)
    score[nz] = Ar[nz] @ traj.u
    return np.sort(np.argsort(score, kind="stable")[:k])
