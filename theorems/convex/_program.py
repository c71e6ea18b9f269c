"""The one max-margin program: minimum norm subject to unit margins, solved and certified.

Every max-margin problem in the package (binary with or without a bias, multiclass, the
next-token form with equalities) is an instance of

    minimise   1/2 ||D u||^2           (D = diag of 1 on regularised, 0 on free coordinates)
    subject to A u >= 1                 (one row per margin constraint)
               E u  = 0                 (optional equalities)

Scale. Every solve works on an exact, reversible rescaling of the data: rows and columns of
A (and rows of E) are multiplied by powers of two (Ruiz equilibration rounded to powers of
two, see :func:`equilibrate`), so A_hat = diag(2^row) A diag(2^col) holds exactly in float64
and an answer maps back without rounding. Data scaled by 1e8 or 1e-8, or with columns on
scales 1e4 : 1 : 1e-4, give the solver the same well-scaled problem as the unscaled data.
The min-norm program in the scaled coordinates z (u = 2^(col + max row) z) is

    minimise 1/2 sum_j omega_j z_j^2  s.t.  A_hat z >= b_hat,  E_hat z = 0,

with omega_j = 4^(col_j - max col) (a diagonal-weighted objective) and b_hat_r =
2^(row_r - max row); its multipliers map back by powers of two as well.

Solution path: DAQP (a dual active-set QP solver, exact on its final active set;
:func:`_solve_daqp`) on the scaled program where it applies (no free coordinates), else or
when its point is not certified cvxpy with Clarabel at tight tolerances (passed explicitly)
-> status must be optimal -> an active-set refinement (:func:`_active_set_path`)
solves the KKT system on the rows found active, in float64, and walks on (adding blocking
rows, dropping negative multipliers) only while no point is certified -> candidates are
mapped back to the ORIGINAL coordinates and scored by scale-aware KKT residuals
(dimensionless: margins against 1, multipliers against the largest, stationarity and
equalities against the magnitude of their own terms in the equilibrated coordinates) on
*all* constraints; the best must pass KKT_RESIDUAL (:func:`accept_kkt`). A formulation
that fails is followed by others (column fractions, Clarabel options, looser Clarabel
tolerances: only starting points for the refinement, whose KKT check is the certificate);
the first failure asks the separability certificate, so non-separable data are an answer
(NotSeparableError) whatever the solver said, and separable data that no formulation
certifies are a SolverFailure naming the conditioning.

Separability is decided by certificates both ways, never by the solver's word. On the
scaled data the LP  max t s.t. A_hat v >= t, E_hat v = 0, |v_reg| <= 1, t <= 1  is solved;

* "separable" needs the LP at status optimal and its direction u = 2^col v checked on the
  ORIGINAL rows with a rigorous floating-point error bound (|fl(a.u) - a.u| <= gamma_p
  |a|.|u|), so that rounding cannot fake a positive margin; the certified lower bound on the
  box margin must exceed the threshold SEPARABILITY.atol * max_r ||a_hat_r||_1;
* "not separable" needs multipliers of the theorem of the alternative (Gordan / Farkas):
  lambda >= 0 with A_hat^T lambda + E_hat^T mu = r small bound every box margin by
  (||r_reg||_1 + |r_free| F) / sum(lambda) (F bounds a free coordinate, see
  :func:`alternative_bound`), recomputed here with its rounding error from the LP's own
  multipliers (LP at status optimal) or from those of a separate QP (status optimal), and
  the bound must be at most the threshold;
* neither: a SolverFailure naming the LP status, both bounds and the conditioning (the
  dynamic range left after equilibration).

Large problems use an exact working set (constraint generation): rank the rows (DAQP: by
the margin under the mean direction, adding the most violated rows a few at a time;
Clarabel: by the margin of a short dual-momentum run, adding every violated row), solve on
the lowest-margin rows, re-solve until no row is violated; the final check on every row is
the certificate that the sub-problem optimum is the full optimum. The result's ``solver``
and ``solver_version`` name the solver whose point was certified.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from importlib.metadata import version

import cvxpy as cp
import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from sim.errors import InputError
from theorems.tolerances import KKT_RESIDUAL, SEPARABILITY, Tol

# Rows whose relative solver slack a_r u - 1 is below this start the active-set refinement:
# Clarabel at 1e-10 gap leaves active slacks ~1e-9, while inactive rows of generic data sit
# orders of magnitude higher; a wrong guess costs refinement steps, never a wrong
# certificate.
ACTIVE_SLACK = 1e-6
# Sweeps of the power-of-two Ruiz equilibration: each halves the log-imbalance of the row
# and column maxima, so 1e+-300 data are balanced in about a dozen; it stops when no
# exponent moves.
RUIZ_SWEEPS = 24
# Clarabel's relative duality gap applies only to objective values above 1; below, its
# absolute gap (1e-10) would stop a solve whose objective is itself ~1e-11 (columns on very
# different scales put the optimum in lightly weighted coordinates). A solve whose point
# fails its KKT check and whose scaled objective is below this is repeated with the weights
# multiplied by a power of four that lifts it to [1, 4) (at most OBJECTIVE_RESCALES times,
# each gaining up to ~1e10: the argmin is unchanged).
OBJECTIVE_FLOOR = 1.0
OBJECTIVE_RESCALES = 5
# Formulations of the scaled min-norm program, tried in turn: the equilibration's column
# exponents times each fraction (1: balanced constraint columns, the columns' scales in the
# objective's weights; 0: the original columns, unit weights). Clarabel handles most data
# best at 1 and ends "optimal_inaccurate" on a few that it solves at 1/2 or 0.
COL_FRACTIONS = (1.0, 0.5, 0.0)
# Then the first formulation with other Clarabel options: its faer linear solver instead of
# qdldl, and a static regularisation of 1e-12 instead of 1e-8 (which perturbs weights of
# ~1e-7 by 15%). Clarabel stalls short of 1e-10 ("AlmostSolved") on ~2% of multiclass
# programs whose columns span 1e8, and each option rescues different ones: with the column
# fractions above and these, 0 of 600 such draws fail (measured; 14 of 600 with neither).
FALLBACK_CLARABEL = ({"direct_solve_method": "faer"},
                     {"static_regularization_constant": 1e-12},
                     {"direct_solve_method": "faer", "static_regularization_constant": 1e-12})
# Last resort, after every formulation at the caller's tolerances: the same with Clarabel's
# tolerances raised to this. Clarabel can stall just short of 1e-10 on data whose columns
# span 1e8 (AlmostSolved at a relative gap of 1.7e-10, measured); the certificate is the KKT
# check after the active-set refinement, so such a solve is only the refinement's start.
LOOSE_TOLERANCE = 1e-8
# Steps of the active-set refinement (:func:`_active_set_path`): one where the solver's point
# is accurate; a few where the columns' scales differ by 1e8 (4 on the worst draw measured);
# the cap bounds the cost on degenerate programs the walk cannot finish.
ACTIVE_SET_ROUNDS = 50

# The solvers solve_min_norm can be asked for: "auto" is DAQP, then Clarabel where DAQP is
# missing or not certified; "clarabel" alone is the independent cross-check.
SOLVERS = ("auto", "daqp", "clarabel")
# DAQP's working set: the first rows are the DAQP_INITIAL * p lowest margins under the mean
# direction (measured: 4-7 rounds at n = 2000-20000, d = 100, with these), and each round
# adds at most DAQP_ADD * p of the most violated rows, so that a poor first ranking does not
# flood the sub-problem with thousands of rows that the next round's point satisfies anyway.
DAQP_INITIAL = 3
DAQP_ADD = 2
# DAQP's primal tolerance on A' z >= 1 (rows scaled so the margin is relative; DAQP's
# default 1e-6 would admit violations the KKT check at 1e-8 rejects); active rows hold to
# rounding, as DAQP solves their equality system exactly.
DAQP_PRIMAL_TOL = 1e-12
# A row off the working set joins it when its relative margin is below 1 - this: far below
# the KKT check's 1e-8, so the sub-problem optimum is the full one to rounding, far above
# the rounding of a_r z on well-scaled rows.
DAQP_VIOLATED = 1e-12
# DAQP's iteration cap per solve (its default is 1e4): an active-set solve of R rows in p
# unknowns needs a few times min(R, p) changes of its active set; a solve that hits the
# cap is a failure and Clarabel takes over.
DAQP_ITERATIONS = 100_000
DAQP_INF = 1e30  # DAQP's "no upper bound"
# BLAS threads inside solve_min_norm: its products are matrix-vector products and
# factorisations of at most a few hundred rows, where a second thread gains little, and on
# a busy 2-core machine a 2-thread BLAS call waits for a descheduled partner (n = 2000,
# d = 100: 260-620 ms per solve with 2 threads against 19 ms with one, measured); one
# thread also makes the float64 sums, hence the answer, independent of the caller's setting.
SOLVE_THREADS = 1

_U = 2.0 ** -53  # unit roundoff of float64 (round to nearest)
_ETA = float(np.finfo(np.float64).smallest_subnormal)  # absolute underflow unit
_NORMAL = float(np.finfo(np.float64).tiny)  # smallest normal float64


class NotSeparableError(ValueError):
    """The data admit no (strictly) separating solution; ``certificate`` says by how much."""

    def __init__(self, certificate: "SeparabilityCertificate", what: str = "data"):
        self.certificate = certificate
        source = ("the separability LP's optimal margin is bounded, by its own multipliers "
                  "(checked here), by" if certificate.proof == "lp" else
                  "multipliers of the theorem of the alternative bound every unit-box margin by")
        super().__init__(
            f"the {what} are not separable: {source} "
            f"{certificate.margin_box:.3e} (needs > {certificate.threshold:.1e}, on the "
            "equilibrated data); no max-margin solution exists and gradient descent does not "
            "converge in direction"
        )


class SolverFailure(RuntimeError):
    """The solver's answer could not be trusted (status not optimal, or residuals too large)."""


def _positive_number(v) -> bool:
    return (not isinstance(v, (bool, np.bool_))
            and isinstance(v, (int, float, np.integer, np.floating))
            and math.isfinite(float(v)) and float(v) > 0)


@dataclass(frozen=True)
class SolverSettings:
    """Clarabel settings passed explicitly to every solve (tolerances tighter than default)."""

    tol_gap_abs: float = 1e-10
    tol_gap_rel: float = 1e-10
    tol_feas: float = 1e-10
    max_iter: int = 200

    def __post_init__(self):
        for name in ("tol_gap_abs", "tol_gap_rel", "tol_feas"):
            if not _positive_number(getattr(self, name)):
                raise InputError(f"settings.{name} must be a finite positive number; got "
                                 f"{getattr(self, name)!r}")
        it = self.max_iter
        if isinstance(it, (bool, np.bool_)) or not isinstance(it, (int, np.integer)) or it < 1:
            raise InputError(f"settings.max_iter must be a positive integer; got {it!r}")

    def kwargs(self) -> dict:
        return {"tol_gap_abs": self.tol_gap_abs, "tol_gap_rel": self.tol_gap_rel,
                "tol_feas": self.tol_feas, "max_iter": self.max_iter}


DEFAULT_SETTINGS = SolverSettings()


def check_settings(settings) -> SolverSettings:
    """``settings`` itself if it is a :class:`SolverSettings`; an InputError naming it if not."""
    if not isinstance(settings, SolverSettings):
        raise InputError(f"settings must be a theorems.convex.SolverSettings (e.g. "
                         f"SolverSettings(max_iter=400)); got {type(settings).__name__}: "
                         f"{settings!r}")
    return settings


@dataclass(frozen=True)
class KKTResiduals:
    """Scale-aware KKT residuals of a candidate, computed independently of the solver in the
    ORIGINAL coordinates; each is dimensionless, so a tolerance means the same at any scale
    of the data (uniform, per row or per column)."""

    primal_infeasibility: float  # max(0, max_r 1 - a_r u); |E u| against the rows' terms
    dual_infeasibility: float  # max(0, -min lambda) / max |lambda|
    stationarity: float  # |D u - A^T lam - E^T mu| against its terms, equilibrated columns
    complementarity: float  # max_r lambda_r |a_r u - 1| / max |lambda|

    @property
    def worst(self) -> float:
        return max(self.primal_infeasibility, self.dual_infeasibility,
                   self.stationarity, self.complementarity)


@dataclass(frozen=True)
class Equilibration:
    """An exact power-of-two scaling: A_hat = diag(2^row) A diag(2^col) and
    E_hat = diag(2^eq) E diag(2^col), entry by entry without rounding (checked)."""

    row: np.ndarray  # int64 exponents, one per row of A
    col: np.ndarray  # int64 exponents, one per column
    eq: np.ndarray  # int64 exponents, one per row of E (empty without E)
    A: object  # A_hat (dense ndarray or CSR)
    E: object  # E_hat or None
    range_log2: int  # log2 of max |A_hat| / min nonzero |A_hat| (powers of two)

    @property
    def dynamic_range(self) -> float:
        """max |A_hat| / min nonzero |A_hat| (inf if it exceeds float64's range)."""
        return math.ldexp(1.0, self.range_log2) if self.range_log2 < 1024 else math.inf

    def describe(self) -> str:
        return (f"after exact power-of-two equilibration the nonzero entries still span a "
                f"factor 2^{self.range_log2} (~1e{self.range_log2 * math.log10(2):.0f})")


@dataclass(frozen=True)
class SeparabilityCertificate:
    """Separability of A u >= t > 0 (E u = 0), decided by certificates both ways.

    Box margins live on the equilibrated data (``scaling``): the box-LP value is
    ``t* = max min_r a_hat_r v`` over ``|v_reg|_inf <= 1`` (``E_hat v = 0``). ``margin_lower`` is a
    certified lower bound on t* from the direction, ``margin_upper`` a certified upper bound
    from multipliers of the theorem of the alternative; separable iff margin_lower >
    threshold, not separable iff margin_upper <= threshold.
    """

    margin_box: float  # margin_lower if separable, else margin_upper (both certified)
    direction: np.ndarray  # the LP's u* / ||u*_reg|| in ORIGINAL coordinates (0 if none)
    margin: float  # min_r a_r . direction on the original data (geometric margin)
    threshold: float
    separable: bool
    # "lp": the separability LP at status optimal, and (not separable) its own multipliers;
    # "farkas": multipliers of a separate QP of the theorem of the alternative
    proof: str = "lp"
    margin_lower: float = -math.inf
    margin_upper: float = math.inf
    box_point: np.ndarray | None = None  # v on the scaled data with |v_reg| <= 1 (LP optimum)
    multipliers: np.ndarray | None = None  # lambda >= 0 on the scaled rows (the upper bound's)
    eq_multipliers: np.ndarray | None = None  # mu on the scaled equality rows
    scaling: Equilibration | None = None
    status: str = ""  # the LP's status


@dataclass(frozen=True)
class MinNormSolution:
    """A certified optimum of the min-norm program (original coordinates)."""

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
    scaling: Equilibration | None = None


# --- helpers --------------------------------------------------------------------------------

def _reg_mask(p: int, n_free: int) -> np.ndarray:
    mask = np.ones(p)
    if n_free:
        mask[p - n_free:] = 0.0
    return mask


def _dense(M):
    return M.toarray() if sp.issparse(M) else np.asarray(M)


def _abs(M):
    return abs(M) if sp.issparse(M) else np.abs(M)


def _vec(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).ravel()


def _exponent(x) -> np.ndarray:
    """frexp exponents (|x| = m 2^e, m in [0.5, 1)); 0 for x = 0."""
    return np.frexp(np.asarray(x, dtype=np.float64))[1].astype(np.int64)


def safe_norm(x) -> float:
    """||x||_2 without overflow or underflow (scaled by a power of two)."""
    x = _vec(x)
    top = float(np.max(np.abs(x), initial=0.0))
    if top == 0.0 or not math.isfinite(top):
        return top
    e = int(_exponent(top))
    return math.ldexp(float(np.linalg.norm(np.ldexp(x, -e))), e)


def _scale(M, rexp: np.ndarray, cexp: np.ndarray):
    """diag(2^rexp) M diag(2^cexp), entry by entry (same sparsity pattern)."""
    with np.errstate(over="ignore", under="ignore"):  # exactness is checked by the callers
        if sp.issparse(M):
            M = sp.csr_matrix(M, dtype=np.float64, copy=True)
            rows = np.repeat(np.arange(M.shape[0]), np.diff(M.indptr))
            data = np.ldexp(M.data, rexp[rows] + cexp[M.indices])
            return sp.csr_matrix((data, M.indices.copy(), M.indptr.copy()), shape=M.shape)
        return np.ldexp(np.asarray(M, dtype=np.float64), rexp[:, None] + cexp[None, :])


def _row_max(M) -> np.ndarray:
    if M.shape[1] == 0:
        return np.zeros(M.shape[0])
    if sp.issparse(M):
        return _vec(abs(M).max(axis=1).toarray())
    return np.max(np.abs(M), axis=1, initial=0.0)


def _col_max(M) -> np.ndarray:
    if M.shape[0] == 0:
        return np.zeros(M.shape[1])
    if sp.issparse(M):
        return _vec(abs(M).max(axis=0).toarray())
    return np.max(np.abs(M), axis=0, initial=0.0)


def _entries(M) -> np.ndarray:
    return (M.data if sp.issparse(M) else np.asarray(M).ravel())


def _canonical(M):
    if sp.issparse(M):
        M = sp.csr_matrix(M, dtype=np.float64, copy=True)
        M.sum_duplicates()
        return M
    return np.asarray(M, dtype=np.float64)


def equilibrate(A, E=None) -> Equilibration:
    """Power-of-two Ruiz equilibration of [A; E] (rows of A and E, shared columns), exact.

    Each sweep divides every row and then every column by the power of two nearest the
    square root of its largest |entry|; a last pass puts every row maximum in [1/2, 1). The
    scaled matrices are checked to map back to A and E bit for bit; where they would not
    (entries spanning more than float64's exponent range) the data are refused.

    A dense A without E is equilibrated on its entries' binary exponents
    (:func:`_dense_exponents`: the same exponents, without a scaled copy of the matrix per
    sweep); other data, and dense data whose scaled entries could leave float64's normal
    range, take the sweeps in floating point.
    """
    A = _canonical(A)
    E = _canonical(E) if E is not None else None
    if E is None and not sp.issparse(A):
        fast = _dense_exponents(A)
        if fast is not None:
            return fast
    return _equilibrate_sweeps(A, E)


def _equilibrate_sweeps(A, E=None) -> Equilibration:
    """:func:`equilibrate` in floating point: each sweep scales |A| (and |E|) by powers of
    two and reads the exponents of the row and column maxima."""
    A = _canonical(A)
    E = _canonical(E) if E is not None else None
    R, p = A.shape
    m = E.shape[0] if E is not None else 0
    row, col = np.zeros(R, np.int64), np.zeros(p, np.int64)
    eq = np.zeros(m, np.int64)
    absA, absE = _abs(A), (_abs(E) if E is not None else None)
    for _ in range(RUIZ_SWEEPS):
        dr = _exponent(_row_max(_scale(absA, row, col))) // 2
        de = _exponent(_row_max(_scale(absE, eq, col))) // 2 if m else eq
        row, eq = row - dr, eq - de
        cm = _col_max(_scale(absA, row, col))
        if m:
            cm = np.maximum(cm, _col_max(_scale(absE, eq, col)))
        dc = _exponent(cm) // 2
        col = col - dc
        if not (dr.any() or dc.any() or (m and de.any())):
            break
    row = row - _exponent(_row_max(_scale(absA, row, col)))
    if m:
        eq = eq - _exponent(_row_max(_scale(absE, eq, col)))
    Ah = _scale(A, row, col)
    Eh = _scale(E, eq, col) if m else None
    exact = np.array_equal(_entries(_scale(Ah, -row, -col)), _entries(A)) and bool(
        np.all(np.isfinite(_entries(Ah))))
    if m:
        exact = exact and np.array_equal(_entries(_scale(Eh, -eq, -col)), _entries(E))
    if not exact:
        nz = np.abs(_entries(A))
        nz = nz[nz > 0]
        span_orig = int(_exponent(nz.max()) - _exponent(nz.min())) if nz.size else 0
        raise InputError(
            f"the data cannot be rescaled exactly in float64: their nonzero entries span a "
            f"factor 2^{span_orig} (~1e{span_orig * math.log10(2):.0f}) and balancing rows and "
            "columns by powers of two would push some entry outside float64's exponent range; "
            "no certified answer is possible, so the data are refused")
    nzh = np.abs(_entries(Ah))
    nzh = nzh[nzh > 0]
    span = int(_exponent(nzh.max()) - _exponent(nzh.min())) if nzh.size else 0
    return Equilibration(row=row, col=col, eq=eq, A=Ah, E=Eh, range_log2=span)


# frexp exponents of normal float64 numbers (2^(e-1) <= |x| < 2^e): a power-of-two scaling
# whose results stay in this range is exact, and the exponent of a product is the sum.
_EXP_MIN, _EXP_MAX = -1021, 1024
_NO_ENTRY = 2 ** 30  # stands for the exponent of a zero entry (-: in a max, +: in a min)


def _dense_exponents(A: np.ndarray) -> Equilibration | None:
    """:func:`_equilibrate_sweeps` for a dense A, computed on the integer exponents e_ij of
    its entries: the largest |entry| of row i scaled by 2^(row_i + col_j) has exponent
    max_j (e_ij + col_j) + row_i as long as that maximum is a normal float64, and likewise
    for columns; so every sweep gives the same exponents as the floating-point sweeps, which
    is checked at every step. None (the floating-point sweeps decide) for data with a
    non-finite entry, no nonzero entry, or a row or column maximum, or a scaled entry, that
    could leave the normal range."""
    R, p = A.shape
    with np.errstate(over="ignore", invalid="ignore"):  # a sum that overflows: fall back
        if A.size == 0 or not math.isfinite(float(np.sum(A))):
            return None
    ex = np.frexp(A)[1]  # int32: exponents of |A| (0 for zeros)
    zero = A == 0
    has_zero = bool(zero.any())
    if has_zero:
        if zero.all():
            return None
        ex_max = np.where(zero, np.int32(-_NO_ENTRY), ex)
        ex_min = np.where(zero, np.int32(_NO_ENTRY), ex)
        row_nz, col_nz = ~zero.all(axis=1), ~zero.all(axis=0)
    else:
        ex_max = ex_min = ex
        row_nz, col_nz = np.ones(R, bool), np.ones(p, bool)
    lo, hi = int(ex_min.min()), int(ex_max.max())
    if lo < _EXP_MIN:
        return None  # subnormal entries: the floating-point sweeps decide
    buf = np.empty_like(ex)

    def row_exp(row, col):
        np.add(ex_max, col.astype(np.int32)[None, :], out=buf)
        e = buf.max(axis=1).astype(np.int64) + row
        if np.any(e[row_nz] < _EXP_MIN) or np.any(e[row_nz] > _EXP_MAX):
            return None
        return np.where(row_nz, e, 0)

    def col_exp(row, col):
        np.add(ex_max, row.astype(np.int32)[:, None], out=buf)
        e = buf.max(axis=0).astype(np.int64) + col
        if np.any(e[col_nz] < _EXP_MIN) or np.any(e[col_nz] > _EXP_MAX):
            return None
        return np.where(col_nz, e, 0)

    row, col = np.zeros(R, np.int64), np.zeros(p, np.int64)
    for _ in range(RUIZ_SWEEPS):
        er = row_exp(row, col)
        if er is None:
            return None
        dr = er // 2
        row = row - dr
        ec = col_exp(row, col)
        if ec is None:
            return None
        dc = ec // 2
        col = col - dc
        if not (dr.any() or dc.any()):
            break
    er = row_exp(row, col)
    if er is None:
        return None
    row = row - er
    # every scaled entry, and A scaled by its columns alone, stays normal: the products
    # below are exact (so Ah maps back to A bit for bit) and finite
    if (lo + int(col.min()) + min(0, int(row.min())) < _EXP_MIN
            or hi + int(col.max()) + max(0, int(row.max())) > _EXP_MAX):
        return None
    Ah = A * np.ldexp(1.0, col)[None, :]
    Ah *= np.ldexp(1.0, row)[:, None]
    np.add(ex_min, col.astype(np.int32)[None, :], out=buf)
    buf += row.astype(np.int32)[:, None]
    low = int(buf.min())
    high = int(row_exp(row, col)[row_nz].max())
    return Equilibration(row=row, col=col, eq=np.zeros(0, np.int64), A=Ah, E=None,
                         range_log2=high - low)


def _matvec_bound(M, x):
    """fl(M x) and a rigorous bound on its rounding error, row by row.

    For any summation order (BLAS blocking, FMA or not) and with underflow,
    |fl(m.x) - m.x| <= gamma_n |m|.|x| + n eta, gamma_n = n u / (1 - n u), n = row length;
    |m|.|x| is itself computed in floating point, and the factor 2 covers its rounding and
    that of the bound's own evaluation.
    """
    x = _vec(x)
    n = M.shape[1] + 1
    y = _vec(M @ x)
    mag = _vec(_abs(M) @ np.abs(x))
    gamma = n * _U / (1.0 - n * _U)
    return y, 2.0 * gamma * mag + 2.0 * n * _ETA


def _up(x):
    return np.nextafter(x, np.inf)


def _down(x):
    return np.nextafter(x, -np.inf)


# --- scale-aware KKT residuals and the acceptance step ----------------------------------------

def _weighted_ratio(num: np.ndarray, den: np.ndarray, exps: np.ndarray) -> float:
    """max_j 2^e_j num_j / max_j 2^e_j den_j (0 when the denominator is 0 and num is too)."""
    with np.errstate(over="ignore", under="ignore"):
        top = float(np.max(np.ldexp(den, exps), initial=0.0))
        worst = float(np.max(np.ldexp(num, exps), initial=0.0))
    if top > 0.0 and math.isfinite(top):
        return worst / top
    return 0.0 if worst == 0.0 else math.inf


def residuals(A, E, u, lam, mu, n_free: int, scaling: Equilibration | None = None) -> KKTResiduals:
    """Scale-aware KKT residuals of (u, lambda, mu) for the program; see :class:`KKTResiduals`.

    Computed in the original coordinates. Margins are against 1 and multipliers against the
    largest (dimensionless already); stationarity, g = D u - A^T lam - E^T mu, and the
    equalities E u are measured in the equilibrated coordinates of ``scaling`` (computed
    from A, E if not given): max_j 2^col_j |g_j| / max_j 2^col_j (|D u| + |A|^T|lam| +
    |E|^T|mu|)_j, which a uniform or per-column rescaling of the data leaves unchanged (up
    to the powers of two of the equilibration), and which, unlike a coordinate-by-coordinate
    ratio, does not read rounding noise on a coordinate that is 0 at the optimum as a 100%
    error.
    """
    A = _canonical(A)
    E = _canonical(E) if E is not None else None
    if scaling is None:
        scaling = equilibrate(A, E)
    u, lam = _vec(u), _vec(lam)
    mu = _vec(mu) if E is not None else np.zeros(0)
    Au = _vec(A @ u)
    primal = max(0.0, float(np.max(1.0 - Au, initial=-np.inf)))
    Du = _reg_mask(u.size, n_free) * u
    # A^T lam over the rows with lam != 0 only (the same sums, without |A| of every row)
    sup = np.flatnonzero(lam)
    As, ls = (A[sup], lam[sup]) if not sp.issparse(A) and 2 * sup.size < lam.size else (A, lam)
    grad = Du - _vec(As.T @ ls)
    den = np.abs(Du) + _vec(_abs(As).T @ np.abs(ls))
    if E is not None:
        Eu = _vec(E @ u)
        # |E u| against the magnitude of the terms of every equilibrated row, A's and E's
        mag = np.concatenate([_vec(_abs(E) @ np.abs(u)), _vec(_abs(A) @ np.abs(u))])
        exps = np.concatenate([scaling.eq, scaling.row])
        primal = max(primal, _weighted_ratio(np.concatenate([np.abs(Eu), np.zeros(A.shape[0])]),
                                             mag, exps))
        grad = grad - _vec(E.T @ mu)
        den = den + _vec(_abs(E).T @ np.abs(mu))
    lam_scale = float(np.max(np.abs(lam), initial=0.0))
    neg = max(0.0, -float(np.min(lam, initial=0.0)))
    dual = neg / lam_scale if lam_scale > 0 else 0.0
    comp = (float(np.max(np.abs(lam * (Au - 1.0)), initial=0.0)) / lam_scale
            if lam_scale > 0 else 0.0)
    stat = _weighted_ratio(np.abs(grad), den, scaling.col)
    return KKTResiduals(primal, dual, stat, comp)


def accept_kkt(A, E, u, lam, mu, n_free: int, tol: Tol = KKT_RESIDUAL,
               scaling: Equilibration | None = None) -> KKTResiduals:
    """The acceptance step: the candidate's scale-aware residuals, or a SolverFailure when
    the worst exceeds ``tol.atol`` (NaN never passes)."""
    res = residuals(A, E, u, lam, mu, n_free, scaling)
    if not res.worst <= tol.atol:
        raise SolverFailure(f"the max-margin solution fails its KKT check: {res} "
                            f"(tolerance {tol.atol:g}: {tol.why})")
    return res


# --- separability: certificates both ways -----------------------------------------------------

def _box_lp(Ah, Eh, n_free: int, settings: SolverSettings):
    """The LP max t s.t. Ah v >= t, Eh v = 0, |v_reg| <= 1, t <= 1: (status, v, lambda)."""
    p = Ah.shape[1]
    v, t = cp.Variable(p), cp.Variable()
    reg = v if n_free == 0 else v[: p - n_free]
    cons = [Ah @ v >= t, reg <= 1.0, reg >= -1.0, t <= 1.0]
    if Eh is not None:
        cons.append(Eh @ v == 0.0)
    prob = cp.Problem(cp.Maximize(t), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an inaccurate solve shows in the status
        try:
            prob.solve(solver=cp.CLARABEL, **settings.kwargs())
        except cp.SolverError:
            return "solver_error", None, None
    if prob.status != cp.OPTIMAL or v.value is None:
        return prob.status, None, None
    lam = cons[0].dual_value
    return prob.status, _vec(v.value), (None if lam is None else _vec(lam))


def _equality_rows_bound(Eh, v) -> float:
    """A rigorous upper bound on ||E_hat v||_2."""
    Ev, err = _matvec_bound(Eh, v)
    mag = _up(np.abs(Ev) + err)
    return float(_up(safe_norm(mag) * (1.0 + 4.0 * (mag.size + 2) * _U)))


def _null_space_gap(Eh) -> float:
    """A lower bound on the smallest nonzero singular value of E_hat (0 if not resolved):
    the float64 SVD's singular values are exact to max(shape) u sigma_max (backward stable),
    with a factor 8 of headroom; a singular value inside that band makes the rank ambiguous."""
    s = scipy.linalg.svd(_dense(Eh), compute_uv=False, lapack_driver="gesvd")
    if s.size == 0 or s[0] == 0:
        return 0.0
    band = 8.0 * max(Eh.shape) * _U * s[0]
    kept = s[s > band]
    gap = kept.min() - band if kept.size else 0.0
    if np.any((s > band / 8.0) & (s <= 2.0 * band)):
        return 0.0  # a singular value near the band: the rank is ambiguous
    return float(max(gap, 0.0))


def direction_lower_bound(A, E, n_free: int, scaling: Equilibration, v) -> float:
    """Certified lower bound on the box margin t* = max min_r a_hat_r v' (|v'_reg| <= 1,
    E_hat v' = 0) from the point ``v`` of the scaled LP, checked on the ORIGINAL rows.

    u = 2^col v exactly; each a_r . u is bounded below by fl(a_r . u) minus its rigorous
    rounding bound, and a_hat_r v = 2^row_r a_r . u exactly. With equalities, v is moved to
    the exact point v - E_hat^+ (E_hat v) of the null space, which lowers each margin by at
    most ||a_hat_r||_2 ||E_hat v||_2 / sigma_min(E_hat). Finally the point is shrunk into the
    box. -inf when nothing can be certified.
    """
    v = _vec(v)
    p = v.size
    with np.errstate(over="ignore", under="ignore"):
        u = np.ldexp(v, scaling.col)
        if not (np.all(np.isfinite(u)) and np.array_equal(np.ldexp(u, -scaling.col), v)):
            return -math.inf
        Au, err = _matvec_bound(_canonical(A), u)
        low = _down(np.ldexp(_down(Au - err), scaling.row))
    box = float(np.max(np.abs(v[: p - n_free]), initial=0.0))
    if scaling.E is not None:
        e2 = _equality_rows_bound(scaling.E, v)
        if e2 > 0.0:
            gap = _null_space_gap(scaling.E)
            if not gap > 0.0:
                return -math.inf
            shift = float(_up(e2 / gap * (1.0 + 4.0 * _U)))
            norms = np.sqrt(_vec(_abs(scaling.A).multiply(_abs(scaling.A)).sum(axis=1))
                            if sp.issparse(scaling.A) else np.sum(scaling.A ** 2, axis=1))
            low = _down(low - _up(norms * (1.0 + 4.0 * (p + 2) * _U)) * shift)
            box = float(_up(box + shift))
    lower = float(np.min(low))
    if not math.isfinite(lower):
        return -math.inf
    if box > 1.0 and lower > 0.0:
        lower = float(_down(lower / box))
    return lower


def _free_bound(Ah, n_free: int) -> float:
    """For one free coordinate (column f of A_hat): every v with all margins a_hat_r v > 0 and
    |v_reg| <= 1 has |v_free| <= F = max(min_{f_r<0}, min_{f_r>0}) ||a_hat_r,reg||_1 / |f_r|
    (a row with f_r < 0 caps v_free from above, one with f_r > 0 from below). inf where one
    sign is missing or with more than one free coordinate."""
    if n_free != 1:
        return math.inf
    D = Ah.tocsc() if sp.issparse(Ah) else Ah
    f = _vec(_dense(D[:, -1:]))
    l1 = _up(_vec(_abs(D[:, :-1]).sum(axis=1)) * (1.0 + 2.0 * (Ah.shape[1] + 1) * _U))
    caps = []
    for side in (f < 0, f > 0):
        if not side.any():
            return math.inf
        caps.append(float(np.min(_up(l1[side] / np.abs(f[side])))))
    return float(_up(max(caps)))


def alternative_bound(Ah, Eh, n_free: int, lam, mu=None) -> float:
    """Rigorous upper bound on the box-LP value t* of the scaled data from multipliers.

    For lambda >= 0 (on the rows of A_hat), any mu, and every v with E_hat v = 0,
    |v_reg| <= 1:  sum(lambda) min_r a_hat_r v <= lambda^T A_hat v = r^T v <= ||r_reg||_1 +
    |r_free| F,  r = A_hat^T lambda + E_hat^T mu (F: :func:`_free_bound`, needed only where
    t* > 0). r is recomputed here with its rounding error and sum(lambda) bounded below, so
    the value returned is >= t* whatever the multipliers' origin; inf for unusable ones.
    """
    lam = _vec(lam)
    if lam.size != Ah.shape[0] or not np.all(np.isfinite(lam)) or lam.min(initial=0.0) < 0:
        return math.inf
    R, p = Ah.shape
    if Eh is not None and mu is not None:
        mu = _vec(mu)
        if mu.size != Eh.shape[0] or not np.all(np.isfinite(mu)):
            return math.inf
        K = sp.vstack([sp.csr_matrix(Ah), sp.csr_matrix(Eh)]).T.tocsr()
        x = np.concatenate([lam, mu])
    else:
        K, x = (Ah.T.tocsr() if sp.issparse(Ah) else Ah.T), lam
    r, err = _matvec_bound(K, x)
    mag = _up(np.abs(r) + err)
    num = float(_up(np.sum(mag[: p - n_free]) * (1.0 + 2.0 * (p + 1) * _U)))
    if n_free:
        free = mag[p - n_free:]
        if free.any():
            F = _free_bound(Ah, n_free)
            if not math.isfinite(F):
                return math.inf
            num = float(_up(num + _up(float(np.sum(free)) * F) * (1.0 + 4.0 * _U)))
    total = float(np.sum(lam))
    total_low = float(_down(total * (1.0 - 2.0 * (R + 1) * _U)))
    if not total_low > 0.0:
        return math.inf
    bound = float(_up(num / total_low))
    return bound if math.isfinite(bound) else math.inf


def _lp_multipliers_bound(Ah, Eh, n_free: int, lam):
    """The bound from the LP's own multipliers; mu (free) refitted by least squares."""
    if lam is None:
        return math.inf, None, None
    lam = np.clip(_vec(lam), 0.0, None)  # the interior point's tiny negatives: a new candidate
    if not lam.sum() > 0:
        return math.inf, None, None
    lam = lam / lam.sum()
    mu = None
    if Eh is not None:
        rhs = -_vec(Ah.T @ lam)
        mu, *_ = scipy.linalg.lstsq(_dense(Eh).T, rhs, lapack_driver="gelsd")
    return alternative_bound(Ah, Eh, n_free, lam, mu), lam, mu


def decide(lower: float, upper: float, threshold: float) -> bool | None:
    """Separable (True) iff the certified lower bound exceeds the threshold; not separable
    (False) iff the certified upper bound is at most the threshold; None when neither."""
    if lower > threshold and upper <= threshold:
        raise SolverFailure(f"contradictory separability certificates: box margin >= {lower:.3e} "
                            f"and <= {upper:.3e} (threshold {threshold:.1e})")
    if lower > threshold:
        return True
    if upper <= threshold:
        return False
    return None


def separability_threshold(scaling: Equilibration, tol: Tol = SEPARABILITY) -> float:
    """tol.atol times the largest row l1-norm of the equilibrated data (a scale-free number)."""
    l1 = _vec(_abs(scaling.A).sum(axis=1))
    return tol.atol * float(np.max(l1, initial=0.0))


def certify_separable(A, E=None, n_free: int = 0, settings: SolverSettings = DEFAULT_SETTINGS,
                      tol: Tol = SEPARABILITY) -> SeparabilityCertificate:
    """Decide separability of A u > 0 (E u = 0) on the equilibrated data, certified both ways
    (see the module docstring); SolverFailure when neither certificate holds."""
    check_settings(settings)
    A = _canonical(A)
    E = _canonical(E) if E is not None else None
    scaling = equilibrate(A, E)
    Ah, Eh = scaling.A, scaling.E
    p = A.shape[1]
    threshold = separability_threshold(scaling, tol)
    status, v, lam_lp = _box_lp(Ah, Eh, n_free, settings)
    lower, upper, lam, mu, proof = -math.inf, math.inf, None, None, "lp"
    direction, margin = np.zeros(p), 0.0
    if v is not None:
        lower = direction_lower_bound(A, E, n_free, scaling, v)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            u = np.ldexp(v, scaling.col)
            norm = safe_norm(u[: p - n_free])
            if norm > 0 and math.isfinite(norm):
                direction = u / norm
                margin = float(np.min(_vec(A @ direction)))
        if not math.isfinite(margin):
            raise InputError(
                "the data's margins overflow float64: the direction's smallest margin "
                "exceeds 1.8e308 (entries near float64's largest); rescale the data")
        if not lower > threshold:
            upper, lam, mu = _lp_multipliers_bound(Ah, Eh, n_free, lam_lp)
    verdict = decide(lower, upper, threshold)
    if verdict is None:
        alt = _alternative_qp(Ah, Eh, n_free, settings)
        if alt is not None and alt[0] < upper:
            upper, lam, mu = alt
            proof = "farkas"
        verdict = decide(lower, upper, threshold)
    if v is None:
        proof = "farkas"
    if verdict is None:
        raise SolverFailure(
            f"the separability LP ended with status {status!r}; no certificate either way: the "
            f"direction certifies a box margin of {lower:.3e} (needs > {threshold:.1e}) and the "
            "theorem of the alternative gave no certificate of non-separability (its best "
            f"bound is {upper:.3e}; needs <= {threshold:.1e}); {scaling.describe()}")
    return SeparabilityCertificate(
        margin_box=lower if verdict else upper, direction=direction, margin=margin,
        threshold=threshold, separable=verdict, proof=proof, margin_lower=lower,
        margin_upper=upper, box_point=v, multipliers=lam, eq_multipliers=mu, scaling=scaling,
        status=status)


# The multipliers' QP can be as ill-conditioned as the LP it stands in for; Clarabel's own
# default 1e-8 tolerances are tried after the caller's settings and the tight defaults. The
# proof is the bound recomputed from the multipliers, so a looser solve certifies nothing false.
FARKAS_FALLBACK = SolverSettings(1e-8, 1e-8, 1e-8)
# Multipliers below this fraction of the largest are an interior point's residue (its
# complementary slackness is approximate); zeroing them is one of the candidates scored.
SUPPORT_LAMBDA = 1e-6


def _alternative_qp(A, E, n_free: int, settings: SolverSettings):
    """The theorem of the alternative for A u >= t > 0, E u = 0: find lambda >= 0 with
    sum(lambda) = 1 and mu minimising ||lambda||^2 subject to A^T lambda + E^T mu = 0.

    Candidates (the solver's lambda clipped at 0, the same with its interior-point residue
    zeroed, each with the free coordinates' part corrected on its support) are scored by
    :func:`alternative_bound`, recomputed here. Returns (bound, lambda, mu) for the best, or
    None when no solve reaches status optimal or no candidate gives a finite bound.
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
        if prob.status == cp.OPTIMAL and lam.value is not None:
            break
    else:
        return None
    raw = np.clip(_vec(lam.value), 0.0, None)
    sparse = np.where(raw >= SUPPORT_LAMBDA * raw.max(initial=0.0), raw, 0.0)
    mu_v = _vec(mu.value) if E is not None else None
    Emu = _vec(E.T @ mu_v) if E is not None else np.zeros(p)
    best = None
    for cand in (raw, sparse):
        if not cand.sum() > 0:
            continue
        cand = cand / cand.sum()
        if n_free:
            fixed = _exact_free_part(A, Emu, n_free, cand)
            cand = cand if fixed is None else fixed
        bound = alternative_bound(A, E, n_free, cand, mu_v)
        if math.isfinite(bound) and (best is None or bound < best[0]):
            best = (bound, cand, mu_v)
    return best


def _farkas_bound(A, E, n_free: int, settings: SolverSettings) -> tuple[float, np.ndarray] | None:
    """(bound, lambda) of :func:`_alternative_qp` on the matrices as given (None if none)."""
    best = _alternative_qp(_canonical(A), _canonical(E) if E is not None else None, n_free,
                           check_settings(settings))
    return None if best is None else (best[0], best[1])


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


# --- the min-norm program on the scaled data --------------------------------------------------

@dataclass(frozen=True)
class _Scaled:
    """The min-norm program in scaled coordinates z: 1/2 sum omega z_reg^2 s.t. A_q z >= b,
    E_q z = 0, with A_q = diag(2^row) A diag(2^col), E_q = diag(2^eq) E diag(2^col) (exact),
    b = 2^(row - top), omega = 4^(col - creg); it maps back by powers of two:
    u = 2^(col + top) z, lambda = 2^(top + 2 creg + row) lambda_hat,
    mu = 2^(top + 2 creg + eq) mu_hat (top = max row). ``col`` is the equilibration's column
    exponents times ``col_fraction`` (rounded): 1 balances the constraint columns and puts
    the columns' scales into the weights, 0 keeps the original columns and unit weights."""

    scaling: Equilibration
    n_free: int
    A: object
    E: object
    col: np.ndarray
    b: np.ndarray
    sqrt_w: np.ndarray  # sqrt(omega) on the regularised coordinates
    top: int
    creg: int
    col_fraction: float

    @staticmethod
    def build(scaling: Equilibration, n_free: int, what: str, col_fraction: float = 1.0,
              creg: int | None = None) -> "_Scaled":
        p = scaling.col.size
        top = int(scaling.row.max())
        col = np.rint(col_fraction * scaling.col).astype(np.int64)
        cols = col[: p - n_free]
        creg = int(cols.max()) if creg is None else int(creg)
        with np.errstate(over="ignore", under="ignore"):
            b = np.ldexp(1.0, scaling.row - top)
            sqrt_w = np.ldexp(1.0, cols - creg)
            w = np.ldexp(1.0, 2 * (cols - creg))
        if b.min() < _NORMAL or w.min() < _NORMAL or not np.all(np.isfinite(w)):
            spread = int(max(top - scaling.row.min(), 2 * (cols.max() - cols.min())))
            raise InputError(
                f"the {what} are too unevenly scaled for the max-margin program: its rows or "
                f"columns span a factor 2^{spread} (~1e{spread * math.log10(2):.0f}), and the "
                "scaled program's right-hand side or weights would leave float64's normal range")
        if col_fraction == 1.0:
            Aq, Eq = scaling.A, scaling.E
        else:
            # the original matrices are recovered from the equilibrated ones exactly
            Aq = _scale(scaling.A, np.zeros_like(scaling.row), col - scaling.col)
            Eq = (_scale(scaling.E, np.zeros_like(scaling.eq), col - scaling.col)
                  if scaling.E is not None else None)
            ok = np.all(np.isfinite(_entries(Aq))) and np.array_equal(
                _entries(_scale(Aq, np.zeros_like(scaling.row), scaling.col - col)),
                _entries(scaling.A))
            if not ok:
                raise InputError(f"the {what} cannot be rescaled exactly for the max-margin "
                                 f"program ({scaling.describe()})")
        return _Scaled(scaling, n_free, Aq, Eq, col, b, sqrt_w, top, creg, col_fraction)

    def reweighted(self, f: float, what: str) -> "_Scaled":
        """The same program with the weights multiplied by a power of four that brings the
        objective value ``f`` to [1, 4): Clarabel's relative gap governs only objectives
        above 1, so a smaller one would be solved to an absolute gap (OBJECTIVE_FLOOR)."""
        k = int(math.ceil(-math.log2(f) / 2.0))
        return _Scaled.build(self.scaling, self.n_free, what, self.col_fraction, self.creg - k)

    def scaled_objective(self, z) -> float:
        p = z.size
        return 0.5 * float(np.sum((self.sqrt_w * z[: p - self.n_free]) ** 2))

    @property
    def w(self) -> np.ndarray:
        """omega on all coordinates (0 on the free ones)."""
        return np.concatenate([self.sqrt_w ** 2, np.zeros(self.n_free)])

    def _shifts(self):
        s = self.scaling
        lam_shift = self.top + 2 * self.creg
        return self.col + self.top, lam_shift + s.row, lam_shift + s.eq

    def to_original(self, z, lam_h, mu_h):
        su, sl, se = self._shifts()
        with np.errstate(over="ignore", under="ignore"):  # checked by exact()
            u = np.ldexp(z, su)
            lam = np.ldexp(lam_h, sl)
            mu = np.ldexp(mu_h, se) if self.E is not None else np.zeros(0)
        return u, lam, mu

    def exact(self, z, lam_h, mu_h) -> bool:
        """Whether the map back to the original coordinates is exact (no over/underflow)."""
        su, sl, se = self._shifts()
        u, lam, mu = self.to_original(z, lam_h, mu_h)
        with np.errstate(over="ignore", under="ignore"):
            ok = (np.all(np.isfinite(u)) and np.all(np.isfinite(lam))
                  and np.array_equal(np.ldexp(u, -su), z)
                  and np.array_equal(np.ldexp(lam, -sl), lam_h))
            if self.E is not None:
                ok = ok and np.all(np.isfinite(mu)) and np.array_equal(np.ldexp(mu, -se), mu_h)
        return bool(ok)

    def objective(self, z) -> float:
        """1/2 ||u_reg||^2 = 2^(2 (top + creg)) * 1/2 sum omega z_reg^2, without overflow."""
        core = self.scaled_objective(z)
        try:
            return math.ldexp(core, 2 * (self.top + self.creg)) if core > 0 else 0.0
        except OverflowError:
            return math.inf


def solve_min_norm(A, E=None, n_free: int = 0, *, settings: SolverSettings = DEFAULT_SETTINGS,
                   working_set: bool | None = None, what: str = "data",
                   solver: str = "auto") -> MinNormSolution:
    """Solve and certify the min-norm program; raise NotSeparableError if infeasible.

    ``solver``: "auto" (DAQP's active-set solve first, :func:`_solve_daqp`, then Clarabel's
    formulations if DAQP is not installed, the program has unregularised coordinates, or
    DAQP's point is not certified), "daqp" (DAQP
    only) or "clarabel" (Clarabel's formulations only: the independent cross-check). The
    scaled program is tried in the formulations of COL_FRACTIONS (all exact rescalings of
    the same program) until one is certified; every answer passes the same KKT check on all
    rows. The first failure asks the separability certificate: non-separable data raise
    NotSeparableError whatever the solver's status, and separable data go on to the next
    formulation; SolverFailure when none certifies.

    BLAS runs on one thread here (SOLVE_THREADS), whatever the caller's setting.
    """
    with threadpool_limits(limits=SOLVE_THREADS, user_api="blas"):
        return _solve_min_norm(A, E, n_free, settings, working_set, what, solver)


def _solve_min_norm(A, E, n_free, settings, working_set, what, solver) -> MinNormSolution:
    check_settings(settings)
    if working_set is not None and not isinstance(working_set, (bool, np.bool_)):
        raise InputError(f"working_set must be True, False or None; got {working_set!r}")
    if solver not in SOLVERS:
        raise InputError(f"solver must be one of {SOLVERS}; got {solver!r}")
    A = _canonical(A)
    E = _canonical(E) if E is not None else None
    R, p = A.shape
    scaling = equilibrate(A, E)
    if working_set is None:
        working_set = R * p >= 50_000 and R > 3 * p
    failures, decided = [], None
    loose = _loosened(settings)
    attempts = []
    if solver != "clarabel":
        if _daqp() is not None and n_free == 0:
            attempts.append(("DAQP", COL_FRACTIONS[0], settings, None))
        elif solver == "daqp":
            raise InputError("solver='daqp' needs the daqp package (pip install daqp)"
                             if n_free == 0 else "solver='daqp' solves programs without "
                             "unregularised coordinates (no bias); use 'auto' or 'clarabel'")
    if solver != "daqp":
        attempts += [("CLARABEL", f, settings, None) for f in COL_FRACTIONS]
        attempts += [("CLARABEL", COL_FRACTIONS[0], settings, extra)
                     for extra in FALLBACK_CLARABEL]
        if loose != settings:
            attempts += [("CLARABEL", f, loose, None) for f in COL_FRACTIONS]
    for name, fraction, tried, extra in attempts:
        try:
            prog = _Scaled.build(scaling, n_free, what, fraction)
        except InputError:
            if fraction == COL_FRACTIONS[0]:
                raise
            continue  # that formulation does not fit float64; the others were tried
        if name == "DAQP":
            out = _solve_daqp(A, E, n_free, prog, working_set, what)
        else:
            out = _solve_scaled(A, E, n_free, prog, tried, working_set, what, extra)
        if isinstance(out, MinNormSolution):
            return out
        if (name, fraction, tried, extra) != attempts[0]:
            how = [f"the columns {fraction:g}-scaled"]
            how += [f"tolerances {tried.tol_gap_rel:g}"] if tried is loose else []
            how += [f"Clarabel's options {extra}"] if extra else []
            out = f"with {' and '.join(how)}, {out}"
        failures.append(out)
        if decided is None:
            try:
                cert = certify_separable(A, E, n_free, settings)
            except SolverFailure as exc:
                decided = f"and {exc}"
            else:
                if not cert.separable:
                    raise NotSeparableError(cert, what)
                decided = "the data are certified separable"
    raise SolverFailure(f"{'; '.join(failures)}; {decided} ({scaling.describe()})")


def _loosened(settings: SolverSettings) -> SolverSettings:
    """The caller's settings with each tolerance raised to at least LOOSE_TOLERANCE (the
    iteration cap is kept, so a deliberately short solve stays short)."""
    return SolverSettings(max(settings.tol_gap_abs, LOOSE_TOLERANCE),
                          max(settings.tol_gap_rel, LOOSE_TOLERANCE),
                          max(settings.tol_feas, LOOSE_TOLERANCE), settings.max_iter)


def _solve_scaled(A, E, n_free, prog: "_Scaled", settings, working_set: bool, what: str,
                  extra: dict | None = None):
    """One formulation: the certified solution, or the reason it failed (a string)."""
    Ah, Eh = prog.A, prog.E
    R = Ah.shape[0]
    rows = _initial_rows(prog, n_free) if working_set else np.arange(R)
    rounds, reweights = 0, 0
    while True:
        rounds += 1
        try:
            z, status = _solve_cvxpy(Ah[rows], prog.b[rows], Eh, prog.sqrt_w, n_free, settings,
                                     extra)
        except SolverFailure as exc:
            return str(exc)
        if z is None:
            return (f"Clarabel ended with status {status!r} on a {len(rows)}-row max-margin "
                    "program; the result is not trusted")
        violated = np.flatnonzero(_vec(Ah @ z) < prog.b * (1.0 - KKT_RESIDUAL.atol))
        new = np.setdiff1d(violated, rows)
        if new.size:
            rows = np.union1d(rows, new)
            continue
        try:
            return _certify(A, E, n_free, prog, z, rows, rounds, status, what)
        except SolverFailure as exc:
            f = prog.scaled_objective(z)
            if reweights < OBJECTIVE_RESCALES and 0.0 < f < OBJECTIVE_FLOOR:
                reweights += 1
                prog = prog.reweighted(f, what)
                continue
            # Clarabel can call a badly scaled infeasible program optimal: the caller asks
            # the separability certificate
            return str(exc)


def _daqp():
    """The daqp module, or None where it is not installed (Clarabel then solves alone)."""
    try:
        import daqp
    except ImportError:
        return None
    return daqp


def _solve_daqp(A, E, n_free, prog: "_Scaled", working_set: bool, what: str):
    """DAQP's dual active-set solve of the scaled program: the certified solution, or the
    reason it failed (a string; the caller then tries Clarabel).

    DAQP solves min 1/2 z^T W z s.t. A' z >= 1, E_hat z = 0 with A' = A_hat / b (rows scaled
    by powers of two, exact, so DAQP's absolute tolerance is a relative margin), exactly on
    its final active set. With a working set, the first rows are the DAQP_INITIAL * p lowest
    margins under the mean direction A'^T 1, and every round adds the DAQP_ADD * p most
    violated rows, warm-started from the previous multipliers, until no row is violated;
    the point then goes through the same refinement and KKT check on every row as
    Clarabel's (:func:`_certify`).
    """
    daqp = _daqp()
    Ah, Eh, b = prog.A, prog.E, prog.b
    R, p = Ah.shape
    H = np.diag(prog.w)  # positive definite: solve_min_norm calls this only without n_free
    E_rows = _dense(Eh) if Eh is not None else np.zeros((0, p))
    m = E_rows.shape[0]
    if working_set and R > DAQP_INITIAL * p:
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            mean = _vec(Ah.T @ (1.0 / b))
            score = _vec(Ah @ mean) / b
        score = np.where(np.isfinite(score), score, -np.inf)
        rows = np.sort(np.argsort(score, kind="stable")[: DAQP_INITIAL * p])
    else:
        rows = np.arange(R)
    lam_prev = None
    rounds = 0
    while True:
        rounds += 1
        sub = _dense(Ah[rows]) / b[rows, None]  # exact: b is a power of two
        M = np.ascontiguousarray(np.vstack([sub, E_rows]))
        upper = np.concatenate([np.full(rows.size, DAQP_INF), np.zeros(m)])
        lower = np.concatenate([np.ones(rows.size), np.zeros(m)])
        sense = np.concatenate([np.zeros(rows.size, np.intc), np.full(m, 5, np.intc)])
        kwargs = dict(primal_tol=DAQP_PRIMAL_TOL, iter_limit=DAQP_ITERATIONS)
        if lam_prev is not None:
            kwargs["dual_start"] = lam_prev
        x, _, flag, info = daqp.solve(H, np.zeros(p), M, upper, lower, sense, **kwargs)
        if flag != 1:
            return (f"DAQP ended with exit flag {flag} on a {rows.size}-row max-margin "
                    "program; the result is not trusted")
        z = _vec(x)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            margin = _vec(Ah @ z) / b
        if not np.all(np.isfinite(margin)):
            return "DAQP's point has non-finite margins; the result is not trusted"
        margin[rows] = np.inf
        violated = np.flatnonzero(margin < 1.0 - DAQP_VIOLATED)
        if not violated.size:
            break
        if violated.size > DAQP_ADD * p:
            violated = violated[np.argpartition(margin[violated], DAQP_ADD * p)[: DAQP_ADD * p]]
        lam_all = np.zeros(R)
        lam_all[rows] = _vec(info["lam"])[: rows.size]
        rows = np.union1d(rows, violated)
        lam_prev = np.concatenate([lam_all[rows], _vec(info["lam"])[-m:] if m else []])
    try:
        return _certify(A, E, n_free, prog, z, rows, rounds, "optimal", what,
                        solver=("DAQP", version("daqp")))
    except SolverFailure as exc:
        return f"DAQP: {exc}"


def _solve_cvxpy(Ab, bb, Eh, sqrt_w, n_free: int, settings: SolverSettings, extra=None):
    p = Ab.shape[1]
    z = cp.Variable(p)
    reg = z if n_free == 0 else z[: p - n_free]
    cons = [Ab @ z >= bb]
    if Eh is not None:
        cons.append(Eh @ z == 0.0)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(cp.multiply(sqrt_w, reg))), cons)
    with warnings.catch_warnings():
        # An inaccurate or failed solve is reported through the status, which we check.
        warnings.simplefilter("ignore")
        try:
            prob.solve(solver=cp.CLARABEL, **settings.kwargs(), **(extra or {}))
        except cp.SolverError as exc:
            raise SolverFailure(f"Clarabel failed on the max-margin program: {exc}") from exc
        except (ValueError, TypeError, AttributeError) as exc:
            if not extra:
                raise
            # an optional fallback this Clarabel build does not offer is a failed attempt
            raise SolverFailure(f"Clarabel refused the settings {extra}: {exc}") from exc
    if prob.status == cp.OPTIMAL and z.value is not None:
        return _vec(z.value), prob.status
    return None, prob.status


def _multipliers(A_act, E, g: np.ndarray):
    """Nonnegative lambda on the active rows and free mu minimising ||g - A_act^T lam -
    E^T mu||_2 (g: the objective's gradient in the same coordinates)."""
    blocks = [_dense(A_act).T] + ([_dense(E).T] if E is not None else [])
    K = np.hstack(blocks)
    k_act = A_act.shape[0]
    if K.shape[1] == 0:
        return np.zeros(0), np.zeros(0)
    lb = np.concatenate([np.zeros(k_act), np.full(K.shape[1] - k_act, -np.inf)])
    res = scipy.optimize.lsq_linear(K, g, bounds=(lb, np.inf), method="bvls",
                                    tol=1e-15, lsmr_tol="auto")
    return res.x[:k_act], res.x[k_act:]


def _symmetric_equilibration(K: np.ndarray) -> np.ndarray:
    """Power-of-two exponents e with diag(2^e) K diag(2^e) balanced (symmetric Ruiz)."""
    e = np.zeros(K.shape[0], np.int64)
    absK = np.abs(K)
    for _ in range(RUIZ_SWEEPS):
        S = np.ldexp(absK, e[:, None] + e[None, :])
        de = _exponent(np.max(S, axis=1, initial=0.0)) // 2
        if not de.any():
            break
        e = e - de
    return e


def _refine(prog: _Scaled, act: np.ndarray):
    """Solve the equality-constrained KKT system on rows ``act`` of the scaled program,
    W z = M^T nu, M z = [b_act; 0] (W = diag omega, M = [A_q,act; E_q]); returns
    (z, lambda_act, mu).

    Without free coordinates this is the least-norm problem of y = W^(1/2) z on
    M W^(-1/2) (an exact power-of-two column scaling), solved by a truncated SVD with one
    step of iterative refinement, and nu with M W^(-1/2)^T nu = y from the same SVD: cost
    O(rows p^2), however many rows are active. With free coordinates (omega = 0 there) the
    full KKT matrix [W, -M^T; M, 0] is solved instead, after a symmetric power-of-two
    equilibration (the weights can span 1e16 where the columns' scales differ by 1e8).
    """
    p = prog.col.size
    M = _dense(prog.A[act])
    if prog.E is not None:
        M = np.vstack([M, _dense(prog.E)])
    q = M.shape[0]
    rhs = np.concatenate([prog.b[act], np.zeros(q - act.size)])
    if prog.n_free == 0:
        inv_sqrt_w = np.ldexp(1.0, prog.creg - prog.col)  # exact: omega^(-1/2)
        Mw = M * inv_sqrt_w
        U, sv, Vt = scipy.linalg.svd(Mw, full_matrices=False, lapack_driver="gesdd")
        keep = sv > sv[0] * max(Mw.shape) * _U if sv.size else sv > 0
        inv = np.where(keep, 1.0 / np.where(keep, sv, 1.0), 0.0)
        y = Vt.T @ (inv * (U.T @ rhs))
        y = y + Vt.T @ (inv * (U.T @ (rhs - Mw @ y)))
        nu = U @ (inv * (Vt @ y))
        return y * inv_sqrt_w, nu[: act.size], nu[act.size:]
    K = np.block([[np.diag(prog.w), -M.T], [M, np.zeros((q, q))]])
    full = np.concatenate([np.zeros(p), rhs])
    e = _symmetric_equilibration(K)
    Ks = np.ldexp(K, e[:, None] + e[None, :])
    U, sv, Vt = scipy.linalg.svd(Ks, full_matrices=False, lapack_driver="gesdd")
    keep = sv > sv[0] * max(K.shape) * _U
    inv = np.where(keep, 1.0 / np.where(keep, sv, 1.0), 0.0)

    def apply(r):  # x = D (D K D)^+ D r
        return np.ldexp(Vt.T @ (inv * (U.T @ np.ldexp(r, e))), e)

    x = apply(full)
    x = x + apply(full - K @ x)
    return x[:p], x[p: p + act.size], x[p + act.size:]


def _active_set_path(prog: _Scaled, z0: np.ndarray, act: np.ndarray):
    """The active-set refinement: from the solver's (feasible) point, a primal active-set
    walk on the scaled program; yields (z, lambda_act, mu, rows) at each point that is the
    equality-constrained optimum of its working set.

    Each step solves the KKT system on the working set (:func:`_refine`) and moves toward
    its solution as far as the other rows allow; a blocking row joins the set, and at the
    working set's optimum the row with the most negative multiplier leaves it. The first
    step's solution is yielded whatever the other rows say (the plain refinement on the
    solver's active set, less its rows that depend on the others: :func:`_independent_rows`),
    and the caller stops the walk at the first certified point: where
    the solver's point is accurate that is the first. Where the columns' scales differ by
    1e8 the solver leaves nearly free coordinates far from their optimum, its slacks name
    the wrong rows, and the walk reaches the optimum anyway.
    """
    Ah, b = prog.A, prog.b
    z = z0.copy()
    work = [int(r) for r in _independent_rows(prog, act, z0)]
    for step_no in range(ACTIVE_SET_ROUNDS):
        if not work:
            return
        rows = np.array(sorted(set(work)), dtype=np.int64)
        z_eq, lam_a, mu = _refine(prog, rows)
        if step_no == 0:
            yield z_eq, lam_a, mu, rows  # the refinement on the solver's own active set
        d = z_eq - z
        slack = np.maximum(_vec(Ah @ z) / b - 1.0, 0.0)
        step = _vec(Ah @ d) / b
        other = np.ones(b.size, dtype=bool)
        other[rows] = False
        blocking = np.flatnonzero(other & (step < 0.0))
        if blocking.size:
            ratios = slack[blocking] / -step[blocking]
            i = int(np.argmin(ratios))
            if ratios[i] < 1.0:
                z = z + ratios[i] * d
                work = list(rows) + [int(blocking[i])]
                continue
        z = z_eq
        if step_no:
            yield z_eq, lam_a, mu, rows
        if not lam_a.size or lam_a.min() >= -KKT_RESIDUAL.atol * np.abs(lam_a).max():
            return
        work = [int(r) for r in rows if r != rows[int(np.argmin(lam_a))]]


def _independent_rows(prog: _Scaled, act: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The rows of ``act`` that start the active-set walk: tightest first (by their margin
    at ``z``), each kept when it is linearly independent of the equality rows and of the
    rows kept before it (its component outside their span exceeds the cutoff of
    :func:`_refine`'s truncated SVD, on rows of unit norm).

    The solver's slacks name every row within ``ACTIVE_SLACK`` of its margin; where more
    rows lie that near it than the active face needs (four in three dimensions, one of them
    7e-7 off the margin: found by the property tests), the equality system on all of them
    has no solution, its least-squares point misses rows by the offset, and no multiplier
    is negative for the walk to drop one. A working set of independent rows has a solution.
    """
    if act.size == 0:
        return act
    order = act[np.argsort(_vec(prog.A[act] @ z) / prog.b[act], kind="stable")]
    rows = _dense(prog.A[order])
    fixed = _dense(prog.E) if prog.E is not None else np.zeros((0, rows.shape[1]))
    cutoff = max(rows.shape[0] + fixed.shape[0], rows.shape[1]) * _U
    basis = np.zeros((0, rows.shape[1]))
    kept = []
    for i, row in enumerate(np.vstack([fixed, rows])):
        if basis.shape[0] == basis.shape[1]:
            break  # the kept rows span the space: every further row depends on them
        norm = np.linalg.norm(row)
        if norm == 0.0:
            continue
        v = row / norm
        for _ in range(2):  # Gram-Schmidt twice is enough (Kahan-Parlett)
            v = v - basis.T @ (basis @ v)
        residual = np.linalg.norm(v)
        if residual > cutoff:
            basis = np.vstack([basis, v / residual])
            if i >= fixed.shape[0]:
                kept.append(order[i - fixed.shape[0]])
    return np.array(kept, dtype=np.int64)


def _certify(A, E, n_free, prog: _Scaled, z_raw, rows, rounds, status,
             what="data", solver: tuple[str, str] | None = None) -> MinNormSolution:
    """Refine on the active set; map candidates back; accept the best-certified point.

    The multipliers are never the solver's: they come from the refined KKT solve or are
    refitted here (nonnegative least squares on the rows found active), so the residual
    check (in the original coordinates, on every row) is independent of Clarabel.
    """
    s = prog.scaling
    Ah, Eh = prog.A, prog.E
    margin_rel = _vec(Ah @ z_raw) / prog.b  # = a_r u for the candidate (dimensionless)
    w = prog.w

    def fitted(z, act):
        lam_a, mu = _multipliers(Ah[act], Eh, w * z)
        lam = np.zeros(Ah.shape[0])
        lam[act] = lam_a
        return lam, (mu if Eh is not None else np.zeros(0))

    scored = []

    def score(z, lam_h, mu_h, refined):
        if prog.exact(z, lam_h, mu_h):
            u, lam, mu = prog.to_original(z, lam_h, mu_h)
            scored.append((residuals(A, E, u, lam, mu, n_free, s), z, lam_h, mu_h, refined))

    act = np.flatnonzero(margin_rel <= 1.0 + ACTIVE_SLACK)
    score(z_raw, *fitted(z_raw, act), False)
    for z_ref, lam_a, mu_ref, act in _active_set_path(prog, z_raw, act):
        lam = np.zeros(Ah.shape[0])
        lam[act] = lam_a
        score(z_ref, lam, mu_ref if Eh is not None else np.zeros(0), True)
        score(z_ref, *fitted(z_ref, act), True)
        if min((c[0].worst for c in scored), default=math.inf) <= KKT_RESIDUAL.atol:
            break  # certified: the walk goes on only while nothing is
    if not scored:
        raise InputError(
            f"the {what}'s scale puts the max-margin solution or its multipliers outside "
            f"float64's range (row exponents {int(s.row.min())}..{int(s.row.max())}, column "
            f"exponents {int(s.col.min())}..{int(s.col.max())} of the exact power-of-two "
            "rescaling); the direction is unchanged by a uniform rescaling of the data, so "
            "rescale them nearer to 1 (separability is decided at any scale)")
    _, z, lam_h, mu_h, refined = min(scored, key=lambda c: c[0].worst)
    u, lam, mu = prog.to_original(z, lam_h, mu_h)
    res = accept_kkt(A, E, u, lam, mu, n_free, scaling=s)
    objective = prog.objective(z)
    if not (math.isfinite(objective) and objective >= _NORMAL):
        raise InputError(
            f"the {what}'s scale puts the max-margin objective 1/2 ||w||^2 outside float64's "
            "range (it would be 0 or inf); the direction is unchanged by a uniform rescaling, "
            "so rescale the data nearer to 1")
    active = np.flatnonzero(_vec(A @ u) <= 1.0 + KKT_RESIDUAL.atol)
    name, solver_version = solver if solver is not None else ("CLARABEL", version("clarabel"))
    return MinNormSolution(
        u=u, lam=lam, mu=mu, objective=objective, residuals=res, active=active,
        solver=name, solver_version=solver_version, status=status, refined=refined,
        rounds=rounds, rows_solved=int(len(rows)), scaling=s)


def _initial_rows(prog: _Scaled, n_free: int) -> np.ndarray:
    """Rows with the lowest margins under a short dual-momentum run (3p of them), on the
    scaled rows a_hat_r / b_hat_r (the original constraints, columns rescaled)."""
    from sim.gd import run  # local: the working set is the only user of sim here

    R, p = prog.A.shape
    Ar = _dense(prog.A)[:, : p - n_free] if n_free else _dense(prog.A)
    Ar = Ar / prog.b[:, None]
    nz = np.flatnonzero(np.any(Ar != 0, axis=1))
    k = min(R, 3 * p)
    if nz.size == 0:
        return np.arange(k)
    Ar = Ar / np.max(np.abs(Ar[nz]))
    traj = run(Ar[nz], np.ones(nz.size), method="momentum", loss="exponential", steps=200,
               checkpoints_per_decade=1)
    score = np.full(R, -np.inf)
    score[nz] = Ar[nz] @ traj.u
    return np.sort(np.argsort(score, kind="stable")[:k])
