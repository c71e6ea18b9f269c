"""Gradient descent on linear models with exponentially tailed losses (the one implementation).

A linear model's losses depend on the parameters u only through margins, arranged as an
(n, r) matrix M (rows = samples, columns = the margins of that sample):

* binary (:class:`BinaryMargins`): r = 1, M[i, 0] = y_i <x_i, w>;
* multiclass (:class:`MulticlassMargins`): r = k, M[i, c] = s_{i, y_i} - s_{i, c} with
  logits s = X W^T, and M[i, y_i] = +inf (that entry carries no loss).

Per-sample losses, with S_i = logsumexp_c(-M[i, c]):

* ``exponential``: l_i = exp(S_i)  (sum of exp(-margin));
* ``logistic`` (binary) / ``cross_entropy`` (multiclass): l_i = log(1 + exp(S_i)).

Both are computed in log space, together with the log-weights log w_ic = log(-dl_i/dM_ic),
so that the gradient -grad L = (1/n) sum_ic w_ic a_ic and the normalised gradient
-grad L / L are formed without ever exponentiating a raw margin; the naive form
underflows to 0/0 within about 10^4 normalised steps.

Update rules (all float64 numpy, closed-form gradients, no autograd; torch only for Adam's
update, on a view of the same memory):

* ``gd``: u += eta * (-grad L), constant eta (the Soudry et al. setting; eta <= 1/beta);
* ``ngd``: u += eta * (-grad L / L), i.e. gradient flow on log L re-timed;
* ``momentum``: momentum on the dual (primal form of Ji, Srebro & Telgarsky 2021, as
  reconstructed in the project's performance notes): q = normalised weights,
  g <- t/(t+1) (g + A^T q), u += eta (g + A^T q), with eta = 1 / max_r ||a_r||^2;
* ``adam``: full-batch Adam on the plain gradient (a negative control: it is not
  l2-biased when eps -> 0).

References
----------
Soudry, Hoffer, Nacson, Gunasekar, Srebro. The Implicit Bias of Gradient Descent on
Separable Data. JMLR 19(70), 2018 (arXiv 1710.10345).
Ji, Srebro, Telgarsky. Fast Margin Maximization via Dual Acceleration. ICML 2021
(arXiv 2107.00595).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.special
import torch

from sim import errors
from sim.errors import InputError
from sim.train import (
    History,
    OptimConfig,
    TrainConfig,
    optimizer_step,
    stop_when,
    train,
)

LOSSES = ("logistic", "exponential", "cross_entropy")
METHODS = ("gd", "ngd", "momentum", "adam")
# What squares X: the smoothness constant ||Z||^2 / n and the step sizes 1 / R^2.
_SCALE_WHAT = "its squared norms (the smoothness constant and the step sizes 1/R^2)"


class BinaryMargins:
    """Margins y_i <x_i, w> of a homogeneous linear classifier; parameters u = w (d,)."""

    def __init__(self, X, y):
        X = errors.as_matrix("X", X)
        y = errors.binary_labels("y", y, X.shape[0])
        errors.nonzero_rows("X", X)
        errors.check_scale("X", X, what=_SCALE_WHAT)
        self.Z = np.ascontiguousarray(y[:, None] * X)  # (n, d)
        # a view, not a copy: both products of a step then read the same memory (a second
        # copy of Z costs more in cache misses than a transposed product, measured)
        self.ZT = self.Z.T  # (d, n)
        self.n, self.n_params = self.Z.shape
        self.row_norm_max = float(np.linalg.norm(self.Z, axis=1).max())

    def margins(self, u: np.ndarray) -> np.ndarray:
        return (self.Z @ u)[:, None]  # (n, 1)

    def pullback(self, weights: np.ndarray) -> np.ndarray:
        """sum_i weights[i, 0] z_i, the direction that increases margins."""
        return self.ZT @ weights.reshape(-1)  # (d,)

    def ascend_(self, u: np.ndarray, weights: np.ndarray, alpha: float) -> None:
        """u += alpha * pullback(weights), in place."""
        v = self.ZT @ weights.reshape(-1)
        v *= alpha
        u += v

    def smoothness(self) -> float:
        """beta = lambda_max(Z^T Z) / (4 n): the logistic loss is beta-smooth."""
        return float(np.linalg.norm(self.Z, 2) ** 2) / (4 * self.n)


class MulticlassMargins:
    """Margins s_{i,y_i} - s_{i,c} of a linear softmax classifier; u = vec(W), W (k, d)."""

    def __init__(self, X, y, n_classes: int):
        X = errors.as_matrix("X", X)
        y = errors.class_labels("y", y, X.shape[0], n_classes)
        errors.nonzero_rows("X", X)
        errors.check_scale("X", X, what=_SCALE_WHAT)
        self.X = np.ascontiguousarray(X)  # (n, d)
        self.y = np.asarray(y, dtype=np.int64)
        self.k = int(n_classes)
        self.n, self.d = X.shape
        self.n_params = self.k * self.d
        self.mask = np.zeros((self.n, self.k), dtype=bool)
        self.mask[np.arange(self.n), self.y] = True
        self.onehot = self.mask.astype(np.float64)  # (n, k)
        # ||x_i (e_y - e_c)|| = sqrt(2) ||x_i||
        self.row_norm_max = math.sqrt(2.0) * float(np.linalg.norm(self.X, axis=1).max())

    def margins(self, u: np.ndarray) -> np.ndarray:
        S = self.X @ u.reshape(self.k, self.d).T  # (n, k) logits
        M = S[np.arange(self.n), self.y][:, None] - S
        M[self.mask] = math.inf
        return M

    def pullback(self, weights: np.ndarray) -> np.ndarray:
        """sum_{i,c} weights[i,c] x_i (e_{y_i} - e_c), flattened like u."""
        w = np.where(self.mask, 0.0, weights)
        coef = self.onehot * w.sum(1, keepdims=True) - w  # (n, k)
        return (coef.T @ self.X).reshape(-1)

    def ascend_(self, u: np.ndarray, weights: np.ndarray, alpha: float) -> None:
        """u += alpha * pullback(weights), in place."""
        v = self.pullback(weights)
        v *= alpha
        u += v

    def smoothness(self) -> float:
        """beta = lambda_max(X^T X) / (2 n) bounds the cross-entropy Hessian (softmax <= 1/2)."""
        return float(np.linalg.norm(self.X, 2) ** 2) / (2 * self.n)


def _logsumexp_rows(A: np.ndarray) -> np.ndarray:
    """log sum_c exp(A[i, c]) per row, shifted by the row maximum (rows with a finite entry)."""
    top = A.max(axis=1)
    with np.errstate(invalid="ignore"):
        shifted = np.exp(A - top[:, None])
    return top + np.log(shifted.sum(axis=1))


def log_weights(M: np.ndarray, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (log w (n, r), log l (n,)) for margins M; see the module docstring."""
    M = np.asarray(M, dtype=np.float64)
    # S_i = logsumexp_c(-M_ic); for binary margins (r = 1) it is -M itself.
    S = -M[:, 0] if M.shape[1] == 1 else _logsumexp_rows(-M)
    if loss == "exponential":
        return -M, S
    # log w = logsigmoid(S) - S - M = -softplus(S) - M.  log l = log softplus(S), which is
    # S to within e^S / 2 (relative 1e-15) below S = -30, where softplus itself would
    # underflow to 0 beyond S = -745.
    sp = np.logaddexp(0.0, S)
    with np.errstate(divide="ignore"):  # log(0) on the entries the S branch replaces
        return -M - sp[:, None], np.where(S < -30.0, S, np.log(sp))


def _ratio_exp(log_num: np.ndarray, log_den: np.ndarray) -> np.ndarray:
    """exp(log_num) / sum(exp(log_den)), shifted by max(log_den) so nothing under- or overflows."""
    c = log_den.max()
    q = np.exp(log_num - c)
    q /= np.exp(log_den - c).sum()
    return q


# The normalised weights of binary margins without logarithms where that is exact or as
# accurate. At margins >= LATE_MARGIN everywhere, -m - log(1 + e^-m) rounds to -m and
# log(1 + e^-m) to the S < -30 branch's e^S: the weights are softmax(-m) bit for bit (as
# for the exponential loss at every margin). Below EARLY_MARGIN (smallest margin) and above
# -OVERFLOW_MARGIN, e^-m is a normal float for every point that carries weight, so
# w = t / (1 + t), l = log1p(t) with t = e^-m are each a few ulps from the log-space values
# (tested), at a third of the cost. Between them, and beyond, the log-space form.
LATE_MARGIN = 40.0
EARLY_MARGIN = 30.0
OVERFLOW_MARGIN = 700.0  # e^700 < 1e305: no overflow in t, 1 + t or the sum of log1p(t)


def _normalised_binary(S: np.ndarray, loss: str) -> np.ndarray | None:
    """-grad-L / L's per-sample weights for S = -margins (n,), as :func:`log_weights` and
    :func:`_ratio_exp` give them, computed without their logarithms; None where only the
    log-space form is accurate (see LATE_MARGIN)."""
    c = S.max()  # -(smallest margin)
    if loss == "exponential" or -c >= LATE_MARGIN:
        q = S - c
        np.exp(q, out=q)
        q /= q.sum()
        return q
    if not -OVERFLOW_MARGIN < -c < EARLY_MARGIN:
        return None
    t = np.exp(S)
    den = np.log1p(t).sum()
    q = t / (t + 1.0)
    q /= den
    return q


def _plain_weights(M: np.ndarray, loss: str) -> np.ndarray:
    """w = -dl/dM directly (no log space): for constant-step gd underflow to 0 is harmless.

    Overwrites M (a fresh margins array) to save an allocation on the hot path.
    """
    if loss == "exponential":
        return np.exp(np.negative(M, out=M), out=M)
    if M.shape[1] == 1:
        # sigmoid(-m) = 1 / (1 + e^m), in place; e^m overflows to inf for m > 709, giving
        # the weight 0 it underflows to anyway (run() silences that overflow)
        np.exp(M, out=M)
        M += 1.0
        return np.reciprocal(M, out=M)
    lse = _logsumexp_rows(-M)
    with np.errstate(invalid="ignore"):
        soft = np.exp(-M - lse[:, None])  # softmax(-M) over each row
    return soft * scipy.special.expit(lse)[:, None]


def _model(X, y, loss: str, n_classes: int | None):
    if loss not in LOSSES:
        raise InputError(f"loss must be one of {LOSSES}; got {loss!r}")
    if n_classes is None:
        if loss == "cross_entropy":
            raise InputError("loss='cross_entropy' needs n_classes (multiclass labels 0..k-1)")
        return BinaryMargins(X, y)
    if loss == "logistic":
        raise InputError("loss='logistic' is binary; use 'cross_entropy' with n_classes")
    return MulticlassMargins(X, y, n_classes)


@dataclass
class Trajectory:
    """The result of :func:`run`: final parameters and records at log-spaced checkpoints.

    Recorded per checkpoint: ``direction`` u / ||u||, ``norm`` ||u||, ``log_loss`` log L(u),
    ``normalized_margin`` min margin / ||u||, and with a reference ``cos`` and ``one_minus_cos``
    (computed as ||u/||u|| - r||^2 / 2, accurate below 1e-16 where 1 - cos is not).
    """

    u: np.ndarray
    history: History
    method: str
    loss: str
    lr: float

    @property
    def direction(self) -> np.ndarray:
        """u / ||u||; an InputError while u is still the zero vector (no direction yet)."""
        return errors.unit("u", self.u)


def run(X, y, *, method: str = "ngd", loss: str = "logistic", n_classes: int | None = None,
        steps: int = 10_000, lr: float | None = None, init=None, reference=None,
        tol: float | None = None, checkpoints_per_decade: int = 10,
        adam_betas: tuple[float, float] = (0.9, 0.999), adam_eps: float = 0.0,
        callbacks=()) -> Trajectory:
    """Run one gradient method from ``init`` (default zero) on separable data.

    Parameters
    ----------
    X, y : arrays
        Features (n, d) and labels: +-1 for binary, 0..k-1 with ``n_classes`` for multiclass.
    method : {"gd", "ngd", "momentum", "adam"}
    loss : {"logistic", "exponential", "cross_entropy"}
    lr : float, optional
        Step size. Defaults: gd 1/beta (logistic / cross-entropy smoothness); ngd 10/R^2;
        momentum 1/R^2 with R = max_r ||a_r||; adam 1e-2. Exponential-loss gd needs an
        explicit lr (the loss is not globally smooth).
    reference : array, optional
        A direction (same shape as u) to record ``cos`` against.
    tol : float, optional
        Stop once 1 - cos <= tol (needs ``reference``); checked at checkpoints only.
    callbacks : sequence of :class:`sim.train.Callback`
        Further stopping rules on the records (see :func:`sim.train.train`).
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}; got {method!r}")
    callbacks = errors.functions("callbacks", callbacks)
    model = _model(X, y, loss, n_classes)
    p = model.n_params
    if init is None:
        u = np.zeros(p)
    else:
        init = errors.as_vector("init", init, length=p)
        errors.check_scale("init", init, what="its squared norm")
        u = init.copy()
    ref = None
    if reference is not None:
        ref = errors.unit("reference", errors.as_vector("reference", reference, length=p))
    if tol is not None:
        if ref is None:
            raise InputError("tol stops on 1 - cos to a reference; pass reference as well")
        errors.positive_float("tol", tol)
    if lr is None:
        lr = _default_lr(method, loss, model)
        if not 0 < lr < math.inf:
            raise InputError(f"the default step size for method={method!r} is {lr!r} for this X; "
                             "rescale X or pass lr")
    else:
        lr = errors.positive_float("lr", lr)
    step = _stepper(method, loss, model, u, lr, adam_betas, adam_eps)
    log_n = math.log(model.n)

    def observe(t: int) -> dict:
        M = model.margins(u)
        norm = float(np.linalg.norm(u))
        _, log_l = log_weights(M, loss)
        rec = {"norm": norm, "log_loss": float(scipy.special.logsumexp(log_l)) - log_n,
               "normalized_margin": float(M.min()) / norm if norm > 0 else 0.0,
               "direction": u / norm if norm > 0 else np.zeros(p)}
        if ref is not None:
            gap = float(np.linalg.norm(u / norm - ref)) ** 2 / 2 if norm > 0 else 1.0
            rec["one_minus_cos"] = gap
            rec["cos"] = 1.0 - gap
        return rec

    callbacks = list(callbacks) + ([stop_when("one_minus_cos", tol)] if tol is not None else [])
    config = TrainConfig(steps=steps, checkpoints_per_decade=checkpoints_per_decade)
    # the Adam step updates a torch view of u; plain weights' e^m may overflow (to weight 0)
    with torch.inference_mode(), np.errstate(over="ignore"):
        history = train(step, config, observe, callbacks)
    return Trajectory(u=u.copy(), history=history, method=method, loss=loss, lr=lr)


def _default_lr(method: str, loss: str, model) -> float:
    if method == "gd":
        if loss == "exponential":
            raise InputError("exponential-loss gd has no global smoothness constant; pass lr")
        return 1.0 / model.smoothness()
    if method == "ngd":
        return 10.0 / model.row_norm_max**2
    if method == "momentum":
        return 1.0 / model.row_norm_max**2
    return 1e-2


def _stepper(method, loss, model, u, lr, betas, eps):
    """Return step(t) updating u in place by the chosen rule."""
    n = model.n

    def neg_grad() -> np.ndarray:
        return model.pullback(_plain_weights(model.margins(u), loss)) / n

    if method == "gd":
        def step(t: int) -> None:
            model.ascend_(u, _plain_weights(model.margins(u), loss), lr / n)
        return step

    if method == "ngd":
        binary = isinstance(model, BinaryMargins)

        def step(t: int) -> None:
            M = model.margins(u)
            q = _normalised_binary(-M[:, 0], loss) if binary else None
            if q is None:
                q = _ratio_exp(*log_weights(M, loss))
            model.ascend_(u, q, lr)
        return step

    if method == "momentum":
        g = np.zeros_like(u)

        def step(t: int) -> None:
            log_w, _ = log_weights(model.margins(u), loss)
            dq = model.pullback(_ratio_exp(log_w, log_w))
            np.add(g, dq, out=g)  # in place: g and u belong to the enclosing run
            np.multiply(g, (t - 1) / t, out=g)
            np.add(u, lr * (g + dq), out=u)
        return step

    adam = OptimConfig("adam", lr=lr, betas=betas, eps=eps)
    # torch's Adam on a view that shares u's memory
    return optimizer_step([torch.from_numpy(u)], adam,
                          grad_fn=lambda: [torch.from_numpy(-neg_grad())])


def fit_inverse_angle(history: History, t_min: int, t_max: int) -> dict:
    """Fit 1/theta_t = a ln t + c over checkpoints t in [t_min, t_max] (least squares).

    theta_t is the angle to the reference, from the recorded ``one_minus_cos``. Returns the
    slope, intercept, R^2 and the number of points used.
    """
    errors.instance("history", history, History)
    if not errors.positive_float("t_min", t_min) < errors.positive_float("t_max", t_max):
        raise InputError(f"the fit window [t_min, t_max] = [{t_min}, {t_max}] is empty or a point; "
                         "t_min must be below t_max")
    t = np.asarray(history.steps, dtype=np.float64)
    keep = (t >= t_min) & (t <= t_max)
    if keep.sum() < 3:
        raise InputError(f"fewer than 3 checkpoints in [{t_min}, {t_max}]; run longer")
    theta = 2.0 * np.arcsin(np.sqrt(history.column("one_minus_cos")[keep] / 2.0))
    if not (theta > 0).all():
        i = int(np.flatnonzero(~(theta > 0))[0])
        raise InputError(f"the angle to the reference is {float(theta[i])!r} at step {int(t[keep][i])}: "
                         "1/theta is undefined; fit a window that ends before exact alignment")
    x, z = np.log(t[keep]), 1.0 / theta
    a, c = np.polyfit(x, z, 1)
    resid = z - (a * x + c)
    r2 = 1.0 - float(resid @ resid) / float(((z - z.mean()) ** 2).sum())
    return {"slope": float(a), "intercept": float(c), "r2": r2, "points": int(keep.sum())}
