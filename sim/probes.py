"""Probes that read a target out of embeddings, with a train / validation / test split.

Spec embeddings_embed 3.2 and 5 item 8: the released code selects its probe epoch on the
test split; here every choice (the ridge penalty, the MLP's size and penalty, the softmax
probe's penalty) is made on a separate validation split, and the test split is touched
once, to report.

* :func:`ridge_probe`: standardised features, closed-form ridge (scikit-learn), penalty chosen
  by validation mean R²; reports per-target R² on the test split.
* :func:`softmax_probe`: a linear map to a distribution (belief states, hypothesis posteriors,
  topic mixtures) fitted to soft targets by cross-entropy with an l2 penalty (L-BFGS, float64);
  reports mean KL(target || probe), mean L2, the spec's "L2" (the squared distance
  sum_k (q_k - t_k)^2, spec 3.2) as ``sq_l2``, argmax accuracy and TV (½ L1), and the code's
  "TV" (the L_inf distance, spec 5 item 7) separately.
* :func:`mlp_probe`: a one-hidden-layer MLP regressor (scikit-learn), size and penalty chosen
  by validation R².
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize
from scipy.special import log_softmax
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from sim import errors
from sim._npz import save_npz
from sim.errors import InputError, as_matrix, positive_int

__all__ = ["ALPHAS", "MIN_PART", "ProbeResult", "SIMPLEX_TOL", "Split", "mlp_probe", "ridge_probe",
           "softmax_probe", "split"]

ALPHAS = (1e-6, 1e-4, 1e-2, 1.0, 1e2)  # ridge / softmax penalties tried on validation
# Rows each part of a split needs: standardising on train needs a spread, and R^2 (and any
# score worth choosing or reporting on) is undefined on a single validation or test row.
MIN_PART = 2
# |row sum - 1| allowed for target distributions (float64 normalisation is exact to ~1e-15).
SIMPLEX_TOL = 1e-9
# MLPRegressor's random_state must lie in [0, 2^32 - 1].
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Split:
    """Disjoint index arrays into the rows of the embeddings and targets."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def check(self, n: int) -> None:
        """Raise unless the parts are disjoint 1-D integer index arrays into [0, n), each with
        at least MIN_PART rows."""
        n = errors.count("n", n, minimum=0)
        parts = []
        for name, p in (("train", self.train), ("val", self.val), ("test", self.test)):
            arr = np.asarray(p)
            if arr.ndim != 1:
                raise InputError(f"split.{name} must be a 1-D array of row indices; got shape {arr.shape}")
            if arr.size and not np.issubdtype(arr.dtype, np.integer):
                raise errors.InputTypeError(f"split.{name} must hold integer row indices; got dtype {arr.dtype}")
            parts.append(arr)
        if any(p.size == 0 for p in parts):
            raise InputError("train, validation and test splits must all be non-empty")
        for name, p in zip(("train", "val", "test"), parts):
            if p.size < MIN_PART:
                raise InputError(f"split.{name} has {p.size} row; each part needs at least {MIN_PART} "
                                 "(R^2 and standardisation are undefined on one row)")
        allidx = np.concatenate(parts)
        if allidx.min() < 0 or allidx.max() >= n:
            raise InputError(f"split indices must lie in [0, {n})")
        if np.unique(allidx).size != allidx.size:
            raise InputError("train, validation and test splits overlap")


def split(n: int, n_val: int, n_test: int) -> Split:
    """The first n - n_val - n_test rows train, the next n_val validate, the last n_test test
    (the spec's protocol: transformer data first, then probe-train, then probe-test)."""
    n = errors.count("n", n)
    n_val, n_test = errors.count("n_val", n_val), errors.count("n_test", n_test)
    if min(n_val, n_test, n - n_val - n_test) < MIN_PART:
        raise InputError(f"cannot split {n} rows into train, {n_val} validation and {n_test} test "
                         f"(each part needs at least {MIN_PART} rows)")
    idx = np.arange(n)
    return Split(idx[: n - n_val - n_test], idx[n - n_val - n_test: n - n_test], idx[n - n_test:])


@dataclass(frozen=True)
class ProbeResult:
    """What a probe reports on the test split; ``choice`` is what validation selected."""

    kind: str
    choice: dict
    scores: dict  # statistic name -> float (means over targets)
    per_target: dict = field(default_factory=dict)  # statistic name -> array over targets
    predictions: np.ndarray | None = None  # on the test split, float64

    def save(self, file) -> None:
        """Write the result to ``file`` (a path or binary file) as an ``.npz`` archive that
        :meth:`load` reads back exactly: arrays bit for bit, and each value of ``choice``
        and ``scores`` with its type (a plain or NumPy scalar, or a string)."""
        meta = {"kind": self.kind, "choice": _tagged("choice", self.choice),
                "scores": _tagged("scores", self.scores), "per_target": sorted(self.per_target),
                "predictions": self.predictions is not None}
        arrays = {f"per_target_{i}": np.asarray(self.per_target[k])
                  for i, k in enumerate(meta["per_target"])}
        if self.predictions is not None:
            arrays["predictions"] = np.asarray(self.predictions)
        save_npz(file, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, file) -> "ProbeResult":
        """The result :meth:`save` wrote to ``file``; no pickles are read."""
        with np.load(file, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            per_target = {k: z[f"per_target_{i}"] for i, k in enumerate(meta["per_target"])}
            predictions = z["predictions"] if meta["predictions"] else None
        return cls(meta["kind"], _untagged(meta["choice"]), _untagged(meta["scores"]),
                   per_target, predictions)


_SCALARS = (bool, int, float, str)


def _tagged(name: str, values: dict) -> list:
    """``values`` as [key, type, value] triples, so that a NumPy scalar comes back as one."""
    out = []
    for k, v in values.items():
        if isinstance(v, np.generic) and v.dtype.kind in "biuf":
            out.append([k, v.dtype.str, v.item()])
        elif type(v) in _SCALARS:
            out.append([k, type(v).__name__, v])
        else:
            raise errors.InputTypeError(f"a probe result's {name}[{k!r}] must be a number or a "
                                        f"string to be saved; got {type(v).__name__}")
    return out


def _untagged(triples: list) -> dict:
    plain = {t.__name__: t for t in _SCALARS}
    return {k: plain[t](v) if t in plain else np.dtype(t).type(v) for k, t, v in triples}


def _inputs(H, Y, sp: Split, target_name: str = "targets", *, r2: bool = True):
    """Validated (H, Y): finite real arrays whose columns can be standardised (squared), a
    valid split; with ``r2`` (scored by R^2) no target column may be constant on the
    validation or test rows, where R^2 is undefined."""
    H = as_matrix("embeddings", H, min_rows=3 * MIN_PART)
    errors.check_scale("embeddings", H, axis=0, what="their squares (to standardise each column)")
    Y = errors.as_array(target_name, Y, finite=False)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[0] != H.shape[0] or Y.shape[1] == 0:
        raise InputError(f"{target_name} must have one row per embedding ({H.shape[0]}); got shape {Y.shape}")
    if not np.all(np.isfinite(Y)):
        raise InputError(f"{target_name} hold NaN or infinite entries")
    errors.instance("split", sp, Split)
    sp.check(H.shape[0])
    if not np.ptp(H[sp.train], axis=0).any():
        raise InputError(f"embeddings are constant on the train split (every column; the first row is "
                         f"{np.array2string(H[sp.train[0]][:4], precision=3)}...): a probe has nothing to "
                         "read; an offset far above the spread (e.g. 1e30 + x) rounds the spread away")
    if r2:
        errors.check_scale(target_name, Y, axis=0, what="their squares (R^2 and standardising)")
        for part in ("val", "test"):
            idx = getattr(sp, part)
            flat = np.ptp(Y[idx], axis=0) == 0
            if flat.any():
                j = int(np.flatnonzero(flat)[0])
                raise InputError(f"{target_name} column {j} is constant on the {part} split "
                                 f"({Y[idx[0], j]!r}): R^2 is undefined there")
    return H, Y


def _penalties(alphas, name: str = "alphas") -> list[float]:
    """The penalties to try, as floats: a non-empty sequence of positive finite numbers."""
    if isinstance(alphas, (str, bytes)) or not hasattr(alphas, "__iter__"):
        raise errors.InputTypeError(f"{name} must be a sequence of numbers; got {alphas!r}")
    out = [errors.positive_float(f"{name}[{i}]", a) for i, a in enumerate(alphas)]
    if not out:
        raise InputError(f"{name} must be a non-empty sequence of positive finite penalties; got {alphas!r}")
    return out


def _sizes(hidden) -> list[int]:
    """The hidden-layer widths to try: a non-empty sequence of positive integers."""
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise errors.InputTypeError(f"hidden must be a sequence of layer widths; got {hidden!r}")
    out = [errors.positive_int(f"hidden[{i}]", h) for i, h in enumerate(hidden)]
    if not out:
        raise InputError("hidden must be a non-empty sequence of layer widths; got an empty one")
    return out


def ridge_probe(H, Y, sp: Split, *, alphas=ALPHAS) -> ProbeResult:
    """Linear probe: standardise on train, ridge for each penalty, keep the best validation
    mean R², report test R² per target."""
    H, Y = _inputs(H, Y, sp)
    scaler = StandardScaler().fit(H[sp.train])
    Z = scaler.transform(H)
    best = None
    for a in _penalties(alphas):
        model = Ridge(alpha=a).fit(Z[sp.train], Y[sp.train])
        val = float(np.mean(r2_score(Y[sp.val], model.predict(Z[sp.val]), multioutput="raw_values")))
        if best is None or val > best[0]:
            best = (val, float(a), model)
    val, a, model = best
    pred = model.predict(Z[sp.test]).reshape(len(sp.test), -1)
    r2 = r2_score(Y[sp.test], pred, multioutput="raw_values")
    return ProbeResult("ridge", {"alpha": a, "val_r2": val}, {"r2": float(np.mean(r2))},
                       {"r2": np.asarray(r2)}, pred)


def mlp_probe(H, Y, sp: Split, *, hidden=(64, 256), alphas=(1e-4, 1e-2), seed: int = 0,
              max_iter: int = 2000, tol: float = 1e-6, patience: int = 50) -> ProbeResult:
    """One-hidden-layer MLP on standardised inputs and targets; size and penalty by validation.

    Adam stops once the training loss has not improved by ``tol`` for ``patience`` epochs
    (scikit-learn's ``n_iter_no_change``); reaching ``max_iter`` first is a
    ``ConvergenceWarning``, which the test configuration turns into an error."""
    H, Y = _inputs(H, Y, sp)
    hidden, penalties = _sizes(hidden), _penalties(alphas)
    seed = errors.count("seed", seed, minimum=0, maximum=MAX_SEED)
    max_iter, patience = positive_int("max_iter", max_iter), positive_int("patience", patience)
    tol = errors.nonnegative_float("tol", tol)
    xs = StandardScaler().fit(H[sp.train])
    ys = StandardScaler().fit(Y[sp.train])
    Z, T = xs.transform(H), ys.transform(Y)
    best = None
    for h in hidden:
        for a in penalties:
            m = MLPRegressor(hidden_layer_sizes=(int(h),), alpha=a, max_iter=max_iter,
                             random_state=seed, n_iter_no_change=patience,
                             tol=float(tol))
            m.fit(Z[sp.train], T[sp.train] if T.shape[1] > 1 else T[sp.train, 0])
            pv = ys.inverse_transform(m.predict(Z[sp.val]).reshape(len(sp.val), -1))
            val = float(np.mean(r2_score(Y[sp.val], pv, multioutput="raw_values")))
            if best is None or val > best[0]:
                best = (val, {"hidden": int(h), "alpha": float(a), "val_r2": val}, m)
    _, choice, m = best
    pred = ys.inverse_transform(m.predict(Z[sp.test]).reshape(len(sp.test), -1))
    r2 = r2_score(Y[sp.test], pred, multioutput="raw_values")
    return ProbeResult("mlp", choice, {"r2": float(np.mean(r2))}, {"r2": np.asarray(r2)}, pred)


def _softmax_fit(Z: np.ndarray, P: np.ndarray, alpha: float, maxiter: int = 5000,
                 start: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """(W, L-BFGS iterations); W (d + 1, k) minimises
    mean_i CE(P_i, softmax([Z_i, 1] W)) + alpha/2 ||W[:-1]||^2, from ``start`` (zeros if None).

    The cross-entropy is evaluated as sum_i r_i lse_i - <W, X^T P> with r_i = sum_k P_ik, so
    each evaluation costs one product X W, one exponential and one product X^T Q."""
    n, d = Z.shape
    k = P.shape[1]
    X = np.column_stack([Z, np.ones(n)])
    XtP = X.T @ P
    r = P.sum(1)

    def f(w):
        W = w.reshape(d + 1, k)
        S = X @ W
        m = S.max(1)
        S -= m[:, None]
        np.exp(S, out=S)
        s = S.sum(1)
        loss = (r @ (np.log(s) + m) - np.vdot(W, XtP)) / n + 0.5 * alpha * np.sum(W[:-1] ** 2)
        S *= (r / s)[:, None]  # r_i softmax(X_i W)
        G = (X.T @ S - XtP) / n
        G[:-1] += alpha * W[:-1]
        return loss, G.ravel()

    w0 = np.zeros((d + 1) * k) if start is None else np.asarray(start, dtype=np.float64).ravel()
    res = optimize.minimize(f, w0, jac=True, method="L-BFGS-B",
                            options={"maxiter": maxiter, "gtol": 1e-10})
    return res.x.reshape(d + 1, k), int(res.nit)


def _distribution_scores(P: np.ndarray, logq: np.ndarray) -> dict:
    q = np.exp(logq)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(P > 0, P * (np.log(np.where(P > 0, P, 1.0)) - logq), 0.0).sum(1)
    return {"kl": float(kl.mean()), "l2": float(np.linalg.norm(P - q, axis=1).mean()),
            "sq_l2": float(((P - q) ** 2).sum(1).mean()),
            "tv": float(0.5 * np.abs(P - q).sum(1).mean()),
            "linf": float(np.abs(P - q).max(1).mean()),
            "accuracy": float(np.mean(P.argmax(1) == q.argmax(1)))}


def softmax_probe(H, P, sp: Split, *, alphas=ALPHAS, maxiter: int = 5000) -> ProbeResult:
    """Linear probe to a distribution (rows of P on the simplex), penalty by validation KL.

    ``maxiter`` caps L-BFGS's iterations per penalty (the 784-way hypothesis posterior costs
    about 0.1 s per iteration); the iterations used are reported in ``choice``."""
    maxiter = positive_int("maxiter", maxiter)
    H, P = _inputs(H, P, sp, "target distributions", r2=False)
    if (P < 0).any() or np.abs(P.sum(1) - 1).max() > SIMPLEX_TOL:
        raise InputError(f"target distributions must be non-negative rows summing to 1 (tolerance {SIMPLEX_TOL:g})")
    if P.shape[1] < 2:
        raise InputError("target distributions need at least 2 outcomes")
    scaler = StandardScaler().fit(H[sp.train])
    Z = np.column_stack([scaler.transform(H), np.ones(H.shape[0])])
    best, W = None, None
    for a in sorted(_penalties(alphas), reverse=True):  # warm-started path
        W, nit = _softmax_fit(Z[sp.train, :-1], P[sp.train], a, maxiter, start=W)
        val = _distribution_scores(P[sp.val], log_softmax(Z[sp.val] @ W, axis=1))["kl"]
        if best is None or val < best[0]:
            best = (val, a, W, nit)
    val, a, W, nit = best
    logq = log_softmax(Z[sp.test] @ W, axis=1)
    return ProbeResult("softmax", {"alpha": a, "val_kl": val, "iterations": nit},
                       _distribution_scores(P[sp.test], logq), {}, np.exp(logq))
