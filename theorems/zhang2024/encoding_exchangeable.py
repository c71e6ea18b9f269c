"""Small transformers trained on exchangeable sequences encode the posterior: probes of
their last-position embeddings against the exact targets, with controls and baselines.

References
----------
Zhang et al. 2024, What Should Embeddings Embed?, arXiv 2406.03707; spec
embeddings_embed 2.1, 3.1-3.3, 5 (items 3, 8-10, 14), 6.2, 6.4 and claims 11-16 (with
section 6.2's 11u, 11r, 14r, 16r and 16b).

Notes
-----
Tags: every claim here is [EMP] with the spec's proposed thresholds (the paper's own
figures are qualitative overlays). Section 6.2 keeps the section-4 statements that compare
the trained model with the untrained control as refutations (11r, 14r, 16r: an untrained
causal transformer already holds smooth functions of token averages), and adds 11u (the
control's own encoding) and 16b (a control that does separate training from architecture).

Runs: one transformer per family from the runs wing (:mod:`theorems.zhang2024.runs`: the
authors' architecture, sized by the current scale), shared by the claims; the probe reads
the last position, which has seen n = T observations. Every probe is fitted once per run
through :func:`theorems.zhang2024.probing.fit`, to the run's own exact targets
(``Run.targets``: the four posterior moments, Gamma-Exponential's as logs, and the
sufficient statistic). Probes: closed-form ridge on standardised features, the penalty
chosen on a validation split, R^2 reported on a separate test split (spec 5.8); an MLP probe
where the claim names one.

Baselines (spec 6.4): every claim reports, in its details under "baselines", the same probe
fitted to each source of :data:`probing.SOURCES`: the trained embedding, the untrained
control (the run's own starting point, the authors' random-init control), the exact
sufficient statistic (the ceiling: what a probe reaches if the embedding *is* the
statistic) and the current token alone (what needs no model).

Witnesses: the symbolic statement is Prop. 3 (the predictive determines the statistic, so
an optimal embedding holds it); the reference is the best affine map from the exact
sufficient statistic to each target (the linear ceiling of spec 2.1) with the targets
certified by quadrature; the simulation is the trained transformer. Controls: targets
shuffled across sequences, a memorising embedding (the raw tokens), and an embedding that
has not seen the later observations, each of which must fail the check it controls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from sim import streams
from sim.bayes import BetaBernoulli, GammaExponential, NormalGamma
from sim.errors import InputError
from sim.probes import Split, ridge_probe
from theorems import figures
from theorems.base import Claim, Measurement, SolveResult, Theorem
from theorems.tolerances import Threshold
from theorems.zhang2024 import probing, runs
from theorems.zhang2024.exchangeable import ng_memorisation_floor, prop3_symbolic
# re-exported: the other encoding modules read the shared seeds and tags from here
from theorems.zhang2024.probing import PAPER, SEEDS, STATISTIC, TAG

__all__ = ["EXCHANGEABLE", "ExchangeableEncoding", "PAPER", "ProbeTargets", "SEEDS",
           "STATISTIC", "TAG", "memorisation", "quadrature_moments", "target_residual"]

EXCHANGEABLE = {"bb": BetaBernoulli, "ng": NormalGamma, "ng_nll": NormalGamma,
                "eg": GammaExponential}  # family name -> prior class
NAMES = {"bb": ("E[p]", "E[p^2]", "E[p^3]", "E[p^4]"),
         "ng": ("E[ln tau]", "E[tau]", "E[tau mu]", "E[tau mu^2]"),
         "ng_nll": ("E[ln tau]", "E[tau]", "E[tau mu]", "E[tau mu^2]"),
         "eg": ("log E[lam]", "log E[lam^2]", "log E[lam^3]", "log E[lam^4]")}
MEMORISED = 10  # the tokens x_1..x_10 probed for memorisation (the authors' ten panels)

# --- criteria shared by the claims and the negative controls ------------------------------------

R2_E_P = Threshold("r2_E_p", 0.95, upper=False, why="spec claim 11 (the ceiling from k/n is 1)")
SHUFFLED_R2 = Threshold("shuffled_target_r2", 0.05, why=(
    "control: targets permuted across sequences carry no information, so a probe that is "
    "not leaking scores R^2 <= 0 up to the test split's noise (about 1/sqrt(n_test))"))
NLL_E_LN_TAU = Threshold("nll_r2_E_ln_tau", 0.85, upper=False, why="spec claim 12")
AT_FLOOR = 0.8  # spec claim 15: per-token test MSE >= 0.8x the exact floor of claim 9


def _family(name: str) -> str:
    return "ng" if name == "ng_nll" else name


# --- the reference: the probes' exact targets, re-derived by quadrature -------------------------

# The reference certifies the targets the probes are fitted to: for CHECK_ROWS probe rows
# (evenly spaced) it integrates prior x likelihood numerically, from the tokens, and compares
# with the closed-form targets. Gauss-Legendre on the window where the log density is within
# WINDOW_NATS of its mode (found on a coarse grid of the transformed parameter: logit p, ln
# lambda, ln tau), in log space.
CHECK_ROWS = 64
GL_NODES = 128  # Gauss-Legendre nodes per axis
WINDOW_NATS = 60.0  # outside the window the density is below e^-60 of its peak: negligible
COARSE = np.linspace(-40.0, 40.0, 8001)  # where the mode is looked for (step 0.01)
TARGET_QUADRATURE = 1e-9  # |target - quadrature| / max(1, |quadrature|)
TARGET_WHY = ("closed-form targets against Gauss-Legendre quadrature of prior x likelihood "
              "(128 nodes per axis on a 60-nat window): two independent computations of the "
              "same integrals agree to float64 rounding well inside this bound, for every "
              "family, prior and n tested (tests/theorems)")
CORRUPT_ROWS, CORRUPT_LENGTH = 60, 8  # the planted-error data of corrupt(): no training


@dataclass(frozen=True)
class ProbeTargets:
    """What the reference certifies, apart from any trained model: the probe sequences
    ``x`` (S, n) of ``family`` under ``prior``, the targets fitted to them (``moments``: the
    four posterior moments; Gamma-Exponential: their logs), the sufficient ``statistic`` and
    the probe ``split``."""

    family: str
    prior: Any
    x: np.ndarray
    moments: np.ndarray
    statistic: np.ndarray
    split: Split


def probe_targets(family: str, seed: int) -> ProbeTargets:
    """The targets of the run of ``family`` for ``seed`` at the current scale (trains it
    once per process)."""
    r = runs.run(family, seed)
    t = r.targets("id")
    return ProbeTargets(family, r.latent["id"]["prior"], r.latent["id"]["x"], t["moments"],
                        t["statistic"], r.split)


def _window(log_w: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``log_w`` (S, G) on ``grid`` (G,), the interval (one grid step wider each
    side) where it is within WINDOW_NATS of its maximum."""
    near = log_w >= log_w.max(1, keepdims=True) - WINDOW_NATS
    first = np.argmax(near, axis=1)
    last = grid.size - 1 - np.argmax(near[:, ::-1], axis=1)
    if (first == 0).any() or (last == grid.size - 1).any():
        raise InputError("the posterior's mass reaches the edge of the quadrature grid "
                         f"[{grid[0]:g}, {grid[-1]:g}] (transformed parameter)")
    return grid[first - 1], grid[last + 1]


def _nodes(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes (S, N) and weights (S, N) on [lo, hi] per row."""
    t, w = np.polynomial.legendre.leggauss(GL_NODES)
    half = (hi - lo)[:, None] / 2
    return (lo + hi)[:, None] / 2 + half * t, half * w


def _expectations(log_w: np.ndarray, weights: np.ndarray, fns: list) -> np.ndarray:
    """E[f] under the density exp(log_w) (unnormalised, log space) for each f(S, N) in fns."""
    p = weights * np.exp(log_w - log_w.max(axis=-1, keepdims=True))
    z = p.sum(-1)
    return np.stack([(p * f).sum(-1) / z for f in fns], axis=1)


def quadrature_moments(family: str, prior, x) -> np.ndarray:
    """The four posterior moments of each row of ``x`` (S, n) by quadrature of the prior
    density times the likelihood of the tokens, independent of the conjugate closed forms:
    Beta-Bernoulli E[p^m]; Gamma-Exponential E[lam^m]; Normal-Gamma E[ln tau], E[tau],
    E[tau mu], E[tau mu^2]."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = x.shape[1]
    fam = _family(family)
    if fam == "bb":  # theta = logit p; the density carries the Jacobian p (1 - p)
        k = x.sum(1, keepdims=True)  # the likelihood prod_i p^x_i (1 - p)^(1 - x_i)

        def log_w(t):
            lp, lq = -np.logaddexp(0, -t), -np.logaddexp(0, t)  # log p, log (1 - p)
            return (prior.a0 - 1 + k + 1) * lp + (prior.b0 - 1 + n - k + 1) * lq
        lo, hi = _window(log_w(COARSE[None, :]), COARSE)
        t, w = _nodes(lo, hi)
        p = special.expit(t)
        return _expectations(log_w(t), w, [p**m for m in range(1, 5)])
    if fam == "eg":  # u = ln lam; the density carries the Jacobian lam
        s = x.sum(1, keepdims=True)

        def log_w(u):
            return (prior.a0 - 1 + 1 + n) * u - (prior.b0 + s) * np.exp(u)
        lo, hi = _window(log_w(COARSE[None, :]), COARSE)
        u, w = _nodes(lo, hi)
        lam = np.exp(u)
        return _expectations(log_w(u), w, [lam**m for m in range(1, 5)])
    if fam != "ng":
        raise InputError(f"unknown exchangeable family {family!r}")
    # (mu, u = ln tau): tau^(alpha0 - 1/2 + n/2) e^(-beta0 tau) e^(-tau Q(mu) / 2), Q(mu) =
    # lam0 (mu - mu0)^2 + sum_i (x_i - mu)^2; Jacobian tau. The mu window, for each u, is
    # centred where Q is least and holds WINDOW_NATS of tau Q / 2.
    s1, s2 = x.sum(1, keepdims=True), (x**2).sum(1, keepdims=True)
    mu0, lam0, a0, b0 = prior.mu0, prior.lam0, prior.alpha0, prior.beta0
    centre = (lam0 * mu0 + s1) / (lam0 + n)

    def q(mu):
        return lam0 * (mu - mu0) ** 2 + s2 - 2 * mu * s1 + n * mu**2

    def log_w(mu, u):
        return (a0 - 0.5 + 0.5 * n + 1) * u - b0 * np.exp(u) - 0.5 * np.exp(u) * q(mu)
    lo, hi = _window(log_w(centre, COARSE[None, :]), COARSE)
    u, wu = _nodes(lo, hi)  # (S, N)
    tau = np.exp(u)
    half = np.sqrt(2 * WINDOW_NATS / (tau * (lam0 + n)))  # (S, N)
    t, wt = np.polynomial.legendre.leggauss(GL_NODES)
    mu = centre[:, :, None] + half[:, :, None] * t  # (S, N, N)
    lw = log_w(mu.reshape(len(x), -1), np.repeat(u, GL_NODES, axis=1)).reshape(mu.shape)
    weights = wu[:, :, None] * half[:, :, None] * wt
    tau3 = tau[:, :, None] * np.ones_like(mu)
    flat = lambda a: a.reshape(len(x), -1)  # noqa: E731
    return _expectations(flat(lw), flat(weights),
                         [flat(np.log(tau3)), flat(tau3), flat(tau3 * mu), flat(tau3 * mu**2)])


def target_residual(t: ProbeTargets, moments: np.ndarray) -> float:
    """max |target - quadrature| / max(1, |quadrature|) over CHECK_ROWS evenly spaced rows
    (targets in the family's units: Gamma-Exponential's are logs)."""
    rows = np.unique(np.linspace(0, len(t.x) - 1, min(CHECK_ROWS, len(t.x))).astype(int))
    quad = quadrature_moments(t.family, t.prior, t.x[rows])
    got = np.asarray(moments, dtype=np.float64)[rows]
    if _family(t.family) == "eg":
        got = np.exp(got)
    return float(np.max(np.abs(got - quad) / np.maximum(1.0, np.abs(quad))))


def ceiling_r2(stat: np.ndarray, Y: np.ndarray, sp: Split) -> np.ndarray:
    """Test R^2 of the best affine map from the exact statistic to each target (fitted on
    the probe's training rows): what a probe reaches if the embedding is the statistic."""
    return ridge_probe(np.column_stack([stat]), Y, sp, alphas=(1e-8,)).per_target["r2"]


# --- probes: every fit goes through probing.fit, memoised on the run ----------------------------

def _ridge(r: runs.Run, target: str, source: str = "trained", data: str = "id",
           position: int = -1, Y: np.ndarray | None = None):
    """The ridge probe from ``source`` to the run's target ``target`` of ``data`` (or to
    ``Y``, named ``target``)."""
    Y = r.targets(data)[target] if Y is None else Y
    return probing.fit(r, "ridge", target, Y, source, data=data, position=position)


def _r2s(res, j=None) -> list | float:
    r2 = res.per_target["r2"]
    return round(float(r2[j]), 4) if j is not None else [round(float(v), 4) for v in r2]


def _by_source(r: runs.Run, target: str, data: str = "id", Y=None, j=None) -> dict:
    """The test R^2 (per target, or of target ``j``) of the same ridge probe from every
    source of spec 6.4: trained, untrained, the exact statistic (the ceiling), the current
    token."""
    return {src: _r2s(_ridge(r, target, src, data, Y=Y), j) for src in probing.SOURCES}


def _shuffled(family: str, seed: int) -> float:
    """Mean test R^2 of the ridge probe to the moments permuted across sequences."""
    r = runs.run(family, seed)
    mom = r.targets()["moments"]
    perm = streams(seed).noise.permutation(len(mom))
    return float(_ridge(r, f"moments shuffled (seed {seed})", Y=mom[perm]).scores["r2"])


def _panels(names, Y, res, sp, tag):
    return [(f"{tag} {n}: R2 {v:.3f}", Y[sp.test, i], res.predictions[:, i])
            for i, (n, v) in enumerate(zip(names, res.per_target["r2"]))]


# --- claims 11, 11u, 11r: Beta-Bernoulli --------------------------------------------------------

def _bb(seed: int):
    r = runs.run("bb", seed)
    return r, _ridge(r, "moments"), _ridge(r, "moments", "untrained")


def _bb_details(r: runs.Run) -> dict:
    return {**r.details, "baselines": {
        "moments R2 (E[p], E[p^2], E[p^3], E[p^4])": _by_source(r, "moments")}}


def measure_bb(seed: int) -> Measurement:
    r, tr, _ = _bb(seed)
    r2 = tr.per_target["r2"]
    return Measurement({"r2_E_p": float(r2[0]), "r2_E_p2": float(r2[1]),
                        "min_r2_E_p3_E_p4": float(r2[2:].min()),
                        "shuffled_target_r2": _shuffled("bb", seed)}, _bb_details(r),
                       curves={"panels": _panels(NAMES["bb"], r.targets()["moments"], tr,
                                                 r.split, "ID")})


def measure_bb_untrained(seed: int) -> Measurement:
    r, _, un = _bb(seed)
    r2 = un.per_target["r2"]
    return Measurement({"untrained_r2_E_p": float(r2[0]), "untrained_r2_E_p2": float(r2[1])},
                       _bb_details(r))


def measure_bb_margin(seed: int) -> Measurement:
    r, tr, un = _bb(seed)
    margin = tr.per_target["r2"][2:] - un.per_target["r2"][2:]
    return Measurement({"higher_moments_minus_untrained": float(margin.min())},
                       {**_bb_details(r), "trained minus untrained R2 (E[p^3], E[p^4])":
                        [round(float(v), 4) for v in margin]})


# --- claim 12: Normal-Gamma, MSE and Gaussian-NLL training -------------------------------------

NG_ALL = "x-bar, s, moments"  # the probe target of claim 12: the statistic, then the moments


def _ng_all(r: runs.Run) -> np.ndarray:
    t = r.targets()
    return np.column_stack([t["statistic"], t["moments"]])


def measure_ng(seed: int) -> Measurement:
    out, details, baselines, panels = {}, {}, {}, []
    for fam in ("ng", "ng_nll"):
        r = runs.run(fam, seed)
        Y = _ng_all(r)
        res = _ridge(r, NG_ALL, Y=Y)
        r2 = res.per_target["r2"]
        details[f"{fam}_run"] = r.details
        baselines[f"{fam}: R2 ({NG_ALL})"] = _by_source(r, NG_ALL, Y=Y)
        if fam == "ng":
            out["mse_r2_xbar"] = float(r2[0])
        else:
            out["nll_r2_xbar"] = float(r2[0])
            out[NLL_E_LN_TAU.statistic] = float(r2[2])
            out["nll_min_r2_s_and_other_moments"] = float(np.min(r2[[1, 3, 4, 5]]))
            # scikit-learn's stopping rule (tol 1e-4, 10 epochs without improvement); a
            # stricter rule costs far more time for a small gain
            mlp = probing.fit(r, "mlp", NG_ALL, Y, hidden=(128,), alphas=(1e-3,), seed=seed,
                              tol=1e-4, patience=10)
            out["nll_mlp_min_r2"] = float(mlp.per_target["r2"].min())
            details["ng_nll_mlp_r2"] = _r2s(mlp)
        panels += _panels(("x-bar", "s") + NAMES["ng"], Y, res, r.split,
                          "MSE" if fam == "ng" else "NLL")
    return Measurement(out, {**details, "baselines": baselines}, curves={"panels": panels})


# --- claim 13: Gamma-Exponential ----------------------------------------------------------------

def measure_eg(seed: int) -> Measurement:
    r = runs.run("eg", seed)
    res = _ridge(r, "moments")
    raw = r.targets()["raw_moments"][r.split.test]
    rho = [stats.spearmanr(raw[:, i], res.predictions[:, i]).statistic for i in range(4)]
    return Measurement(
        {"min_r2_log_moments": float(res.per_target["r2"].min())},
        {**r.details, "spearman_raw_moments": [round(float(v), 4) for v in rho],
         "baselines": {"log moments R2": _by_source(r, "moments")}},
        curves={"panels": _panels(NAMES["eg"], r.targets()["moments"], res, r.split, "ID")})


# --- claims 14, 14r: out of distribution ---------------------------------------------------------

FIRST = {"bb": ("moments", 0, "E[p]"), "ng": ("statistic", 0, "x-bar"),
         "ng_nll": ("statistic", 0, "x-bar"), "eg": ("moments", 0, "log E[lam]")}
OOD_GAP_JUDGED = ("bb", "ng", "eg")  # claim 14: the authors' models; ng_nll's gap is reported
OOD_MARGIN_JUDGED = ("bb", "eg")  # claim 14r; Normal-Gamma's margins are reported (spec 6.2)


def _column(r: runs.Run, target: str, data: str, j: int) -> np.ndarray:
    Y = r.targets(data)[target]
    return np.reshape(Y, (len(Y), -1))[:, j]


def _ood(fam: str, seed: int) -> tuple[runs.Run, dict]:
    """The first moment's (statistic's) test R^2 per source and dataset, and the OOD
    baselines, for the run of ``fam``."""
    r = runs.run(fam, seed)
    target, j, _ = FIRST[fam]
    return r, {data: _by_source(r, target, data, j=j) for data in ("id", "ood")}


def _ood_details(fams, seed: int) -> tuple[dict, dict]:
    details, baselines = {}, {}
    for fam in fams:
        r, r2 = _ood(fam, seed)
        name = FIRST[fam][2]
        details[f"{fam}: {name} R2 (trained ID, trained OOD, untrained OOD)"] = [
            r2["id"]["trained"], r2["ood"]["trained"], r2["ood"]["untrained"]]
        # transfer (reported, spec 5.9): the ID probe applied to OOD embeddings
        details[f"{fam}: ID probe transferred to OOD, R2"] = round(_transfer(r, fam), 4)
        baselines[f"{fam}: {name} R2, OOD"] = r2["ood"]
        details[f"{fam}_run"] = r.details
    return details, baselines


def measure_ood(seed: int) -> Measurement:
    gaps, panels = {}, []
    for fam in FIRST:
        r, r2 = _ood(fam, seed)
        target, j, name = FIRST[fam]
        gaps[fam] = r2["id"]["trained"] - r2["ood"]["trained"]
        for data in ("id", "ood"):
            res = _ridge(r, target, data=data)
            panels.append((f"{fam} {data.upper()} {name}: R2 {res.per_target['r2'][j]:.3f}",
                           _column(r, target, data, j)[r.split.test], res.predictions[:, j]))
    details, baselines = _ood_details(FIRST, seed)
    details["ID minus OOD R2 per model (bb, ng, eg judged)"] = {
        f: round(float(g), 4) for f, g in gaps.items()}
    return Measurement({"max_id_minus_ood_r2": float(max(gaps[f] for f in OOD_GAP_JUDGED))},
                       {**details, "baselines": baselines}, curves={"panels": panels})


def measure_ood_untrained(seed: int) -> Measurement:
    margins = {}
    for fam in FIRST:
        _, r2 = _ood(fam, seed)
        margins[fam] = r2["ood"]["trained"] - r2["ood"]["untrained"]
    details, baselines = _ood_details(FIRST, seed)
    details["trained minus untrained OOD R2 per model (bb, eg judged)"] = {
        f: round(float(m), 4) for f, m in margins.items()}
    return Measurement(
        {"min_ood_margin_over_untrained": float(min(margins[f] for f in OOD_MARGIN_JUDGED))},
        {**details, "baselines": baselines})


def _transfer(r: runs.Run, fam: str) -> float:
    """Test R^2 on OOD rows of the probe fitted (and its penalty chosen) on ID rows: the
    ridge probe on the ID and OOD embeddings stacked, split ID-train / ID-val / OOD-test
    (memoised on the run; not a probe of one dataset, so not a :func:`probing.fit`)."""
    target, j, _ = FIRST[fam]

    def fit() -> float:
        Y = [_column(r, target, d, j) for d in ("id", "ood")]
        H = np.vstack([r.embedding("trained", d) for d in ("id", "ood")])
        sp = Split(r.split.train, r.split.val, len(Y[0]) + r.split.test)
        return float(ridge_probe(H, np.concatenate(Y), sp).scores["r2"])
    return r.memo(("transfer ID -> OOD", target, j), fit)


# --- claims 15, 16b: token memorisation ----------------------------------------------------------

def memorisation(pred: np.ndarray, x: np.ndarray, sp: Split, n: int, floor: float) -> dict:
    """From a probe's test predictions ``pred`` (rows of ``sp.test``) of the tokens
    x_1..x_10 of ``x``, made from features that have seen n >= 10 tokens: per-token test MSE
    over the exact ``floor`` of claim 9, and the correlation of the predictions with x-bar_n
    and with x_i - x-bar_n."""
    true = x[sp.test, :MEMORISED]
    xbar = x[sp.test, :n].mean(1)
    mse = ((pred - true) ** 2).mean(0)
    rho_bar = [stats.pearsonr(pred[:, i], xbar).statistic for i in range(MEMORISED)]
    rho_res = [stats.pearsonr(pred[:, i], true[:, i] - xbar).statistic for i in range(MEMORISED)]
    return {"mse_over_floor": mse / floor, "rho_xbar": np.array(rho_bar),
            "rho_residual": np.abs(rho_res), "floor": floor, "pred": pred, "true": true}


def _tokens(r: runs.Run, source: str, position: int = -1) -> dict:
    """:func:`memorisation` of the ridge probe from ``source`` at ``position`` to the
    tokens x_1..x_10 of the run's ID probe sequences."""
    x = r.latent["id"]["x"]
    n = x.shape[1] + position + 1 if position < 0 else position + 1
    res = probing.fit(r, "ridge", f"tokens x_1..x_{MEMORISED}", x[:, :MEMORISED], source,
                      position=position)
    return memorisation(res.predictions, x, r.split, n,
                        ng_memorisation_floor(r.latent["id"]["prior"], n))


def _rounded(v, digits: int = 3) -> list:
    return [round(float(a), digits) for a in v]


def _token_details(r: runs.Run) -> dict:
    """The floor, and per-token MSE / floor from every source at the last position."""
    T = r.latent["id"]["x"].shape[1]
    return {**r.details, f"floor at n = {T}": round(_tokens(r, "trained")["floor"], 4),
            "baselines": {"MSE/floor per token x_1..x_10": {
                src: _rounded(_tokens(r, src)["mse_over_floor"]) for src in probing.SOURCES}}}


def _token_panels(m: dict, tag: str) -> list:
    return [(f"{tag} x_{i + 1}: MSE/floor {m['mse_over_floor'][i]:.2f}", m["true"][:, i],
             m["pred"][:, i]) for i in range(MEMORISED)]


def measure_memorisation(seed: int) -> Measurement:
    """Judged at the last position (n = T observations, the authors' recommended position,
    targets the first 10 tokens); position 10 (whose input is x_10 itself) and the
    untrained control are reported."""
    r = runs.run("ng", seed)
    T = r.latent["id"]["x"].shape[1]
    details = _token_details(r)
    last = _tokens(r, "trained")
    for key, m in ((f"position {T}", last),
                   ("position 10 (reported)", _tokens(r, "trained", position=9)),
                   (f"untrained, position {T} (reported)", _tokens(r, "untrained"))):
        details[f"{key}: MSE/floor per token"] = _rounded(m["mse_over_floor"])
        details[f"{key}: rho with x-bar per token"] = _rounded(m["rho_xbar"])
        details[f"{key}: |rho| with x_i - x-bar per token"] = _rounded(m["rho_residual"])
    out = {"min_mse_over_floor": float(last["mse_over_floor"].min()),
           "min_rho_with_xbar": float(last["rho_xbar"].min()),
           "max_abs_rho_with_residual": float(last["rho_residual"].max())}
    return Measurement(out, details, curves={"panels": _token_panels(last, "trained")})


def memorising_control(seed: int = 0) -> dict:
    """Negative control: an 'embedding' that holds the tokens themselves (all T
    observations) breaks the floor."""
    r = runs.run("ng", seed)
    x = r.latent["id"]["x"]
    res = ridge_probe(x + 0.0, x[:, :MEMORISED], r.split)
    return memorisation(res.predictions, x, r.split, x.shape[1],
                        ng_memorisation_floor(r.latent["id"]["prior"], x.shape[1]))


def measure_untrained_tokens(seed: int) -> Measurement:
    """Claim 16b: the same token probe on the trained model and on its untrained starting
    point, from the last-position embedding of the same sequences."""
    r = runs.run("ng", seed)
    tr, un = _tokens(r, "trained"), _tokens(r, "untrained")
    return Measurement(
        {"trained_min_mse_over_floor": float(tr["mse_over_floor"].min()),
         "untrained_min_mse_over_floor": float(un["mse_over_floor"].min())},
        {**_token_details(r),
         "untrained: median token MSE/floor": round(float(np.median(un["mse_over_floor"])), 3),
         "untrained: |rho| with x_i - x-bar per token": _rounded(un["rho_residual"])},
        curves={"panels": _token_panels(un, "untrained")})


# --- claims 16, 16r: trained versus the untrained control ----------------------------------------

def _unexplained(res) -> float:
    """Mean over targets of the test MSE in units of the target's variance (1 - R^2)."""
    return float(np.mean(1.0 - res.per_target["r2"]))


def _mse_ratios(fams, seed: int) -> tuple[dict, dict]:
    """Per family, trained / untrained normalised probe MSE on the four moments, with every
    source's normalised MSE as the baselines."""
    ratios, baselines = {}, {}
    for fam in fams:
        r = runs.run(fam, seed)
        mse = {src: _unexplained(_ridge(r, "moments", src)) for src in probing.SOURCES}
        ratios[fam] = mse["trained"] / mse["untrained"]
        baselines[f"{fam}: normalised moment MSE (mean 1 - R2)"] = {
            s: round(v, 4) for s, v in mse.items()}
    return ratios, baselines


def measure_random_init(seed: int) -> Measurement:
    """Judged: the Gaussian-NLL Normal-Gamma model (every moment needs SS); reported: the
    MSE-trained Normal-Gamma and Gamma-Exponential models (Remark S)."""
    ratios, baselines = _mse_ratios(("ng_nll", "ng", "eg"), seed)
    return Measurement({"ng_nll_mse_ratio": ratios["ng_nll"]},
                       {**runs.run("ng_nll", seed).details,
                        "trained / untrained": {f: round(v, 3) for f, v in ratios.items()},
                        "baselines": baselines})


def measure_random_init_bb(seed: int) -> Measurement:
    ratios, baselines = _mse_ratios(("bb",), seed)
    return Measurement({"bb_mse_ratio": ratios["bb"]},
                       {**runs.run("bb", seed).details, "baselines": baselines})


def overlay_figure(name: str, title: str):
    def draw(evidence, folder) -> list:
        paths = []
        for seed, m in zip(evidence.seeds, evidence.per_seed):
            if m.curves.get("panels"):
                paths.append(figures.overlays(folder / f"zhang2024_{name}_seed{seed}.png",
                                              m.curves["panels"], title=f"{title} (seed {seed})"))
        return paths
    return draw


def _describe(*fams: str) -> str:
    scale = runs.current_scale()
    return "; ".join(runs.FAMILIES[f].describe(scale) for f in fams)


def _T(fam: str) -> int:
    return runs.FAMILIES[fam].length(runs.current_scale())


BASELINES = ("Reported beside it (spec 6.4): the same probe from the untrained control, from "
             "the exact sufficient statistic (the ceiling) and from the current token alone.")
UNTRAINED_WHY = ("spec 6.2: an untrained causal transformer's last-position embedding already "
                 "holds smooth functions of a token average, and with n fixed every Beta-"
                 "Bernoulli moment is a function of k alone")


class ExchangeableEncoding(Theorem):
    """Transformers trained on exchangeable data embed the posterior's statistics."""

    paper = "zhang2024"
    slug = "exchangeable_encoding"
    title = "Trained transformers encode the sufficient statistics of exchangeable data"
    citation = ("Zhang et al. 2024, arXiv 2406.03707; spec embeddings_embed 3.3, 6.2, 6.4, "
                "claims 11-16")
    trains = True  # the runs wing's transformer runs

    def statement(self):
        return prop3_symbolic()

    def example(self, seed: int = 0):
        return "bb", seed

    def reference(self, instance):
        """The linear ceiling (test R^2 of the best affine map from the exact statistic to
        each target), with the targets certified by quadrature (:func:`target_residual`).
        ``instance`` is ``(family, seed)`` (the run's probe data; trains it once) or a
        :class:`ProbeTargets`, possibly with planted candidate targets."""
        data, moments = self.unwrap(instance)
        if not isinstance(data, ProbeTargets):
            data = probe_targets(*data)
        moments = data.moments if moments is None else np.asarray(moments, dtype=np.float64)
        return SolveResult(value=ceiling_r2(data.statistic, moments, data.split),
                           residual=target_residual(data, moments), tol=TARGET_QUADRATURE,
                           why=TARGET_WHY)

    def corrupt(self, instance):
        """Targets one token off: the moments after x_1..x_{n-1} fitted to sequences of n
        tokens (fresh sequences of the family's ID prior, no training)."""
        fam, seed = instance
        prior = EXCHANGEABLE[fam].in_distribution()
        x = prior.sample(CORRUPT_ROWS, CORRUPT_LENGTH, streams(seed).data)[1]
        mom, stat, early = prior.moments(x), prior.sufficient_statistic(x), prior.moments(x[:, :-1])
        if _family(fam) == "eg":
            mom, stat, early = np.log(mom), np.log(stat), np.log(early)
        idx = np.arange(CORRUPT_ROWS)
        data = ProbeTargets(fam, prior, x, mom, stat, Split(idx[:40], idx[40:50], idx[50:]))
        return self.Corrupted(data, early, planted="the moments of x_1..x_{n-1}: one token off")

    def simulate(self, instance, seed: int = 0) -> dict:
        fam, s = instance
        res = _ridge(runs.run(fam, s), "moments")
        return {"r2": res.per_target["r2"], "alpha": res.choice["alpha"]}

    def compare(self, instance, seed: int = 0) -> dict:
        """How far the trained embedding's probe falls below the linear ceiling (>= 0 when
        the ceiling is not beaten)."""
        ceil = self.reference(instance).value
        r2 = self.simulate(instance, seed)["r2"]
        return {"ceiling_minus_probe_r2": float(max(0.0, np.max(ceil - r2)))}

    def claims(self) -> tuple[Claim, ...]:
        return self._bb_claims() + self._other_claims() + self._control_claims()

    def _claim(self, aspect: str, spec: str, statistic: str = STATISTIC, **kw) -> Claim:
        return Claim(id=f"{self.id}.{aspect}", spec=f"embeddings_embed:{spec}", paper=PAPER,
                     seeds=SEEDS, statistic=statistic, **kw)

    def _bb_claims(self) -> tuple[Claim, ...]:
        bb, n = _describe("bb"), _T("bb")
        return (
            self._claim("beta_bernoulli", "11", reference="spec 3.3, claims 11 and 6.2",
                        kind="simulation", budget_s=25.0, measure=measure_bb,
                        prepare=probing.needs("bb"),
                        figure=overlay_figure("claim11_bb_moments",
                                              "Beta-Bernoulli: probe vs posterior moments"),
                        statement=f"{TAG} {bb}. ID, last position (n = {n}), ridge probe of the "
                        "trained embedding: E[p] with R^2 >= 0.95, E[p^2] >= 0.85, E[p^3] and "
                        "E[p^4] >= 0.8; a probe of shuffled targets finds nothing. " + BASELINES,
                        criteria=(R2_E_P,
                                  Threshold("r2_E_p2", 0.85, upper=False, why="spec claim 11"),
                                  Threshold("min_r2_E_p3_E_p4", 0.8, upper=False,
                                            why="spec 6.2, claim 11 restated"),
                                  SHUFFLED_R2)),
            self._claim("untrained_beta_bernoulli", "11u", reference="spec 6.2 (claim 11u)",
                        kind="control", budget_s=5.0, measure=measure_bb_untrained,
                        prepare=probing.needs("bb"),
                        statement=f"{TAG} [finding] {bb}. The untrained control (the run's own "
                        "starting point) already encodes the first two moments: its ridge probe "
                        f"at the last position (n = {n}) holds E[p] with R^2 >= 0.95 and E[p^2] "
                        ">= 0.85, so random initialisation cannot separate training from "
                        "architecture for token-average statistics. " + BASELINES,
                        criteria=(Threshold("untrained_r2_E_p", 0.95, upper=False,
                                            why=UNTRAINED_WHY),
                                  Threshold("untrained_r2_E_p2", 0.85, upper=False,
                                            why=UNTRAINED_WHY))),
            self._claim("beta_bernoulli_beats_untrained", "11r",
                        reference="spec claim 11 (section 4 form), 6.2 (11r)", kind="control",
                        budget_s=5.0, measure=measure_bb_margin, prepare=probing.needs("bb"),
                        statement=f"{TAG} [section-4 statement, kept as a refutation] {bb}. The "
                        "trained model's ridge-probe R^2 on E[p^3] and E[p^4] exceeds the "
                        "untrained control's. " + BASELINES,
                        criteria=(Threshold("higher_moments_minus_untrained", 0.0, upper=False,
                                            why="spec claim 11: higher moments beat random "
                                            "init"),),
                        expect="fail", expect_reason=(
                            "the untrained control holds E[p^3] and E[p^4] at least as well as "
                            "the trained model: with n fixed every moment is a function of k "
                            "alone, and a random causal transformer's last-position embedding "
                            "already holds smooth functions of a token average (spec 6.2)")),
        )

    def _other_claims(self) -> tuple[Claim, ...]:
        return (
            self._claim("normal_gamma", "12", reference="spec 3.3, claim 12, Remark S",
                        kind="simulation", budget_s=60.0, measure=measure_ng,
                        prepare=probing.needs("ng", "ng_nll"),
                        figure=overlay_figure("claim12_ng", "Normal-Gamma: (x-bar, s) and "
                                              "moments, MSE- and NLL-trained"),
                        statement=f"{TAG} {_describe('ng', 'ng_nll')}. ID, last position, ridge "
                        "probe. MSE training (the authors'): x-bar with R^2 >= 0.95, the only "
                        "statistic the MSE optimum needs (Remark S; s and the moments are "
                        "reported). Gaussian-NLL training, where the theory requires the "
                        "variance: x-bar >= 0.95, E[ln tau] >= 0.85, s, E[tau], E[tau mu], "
                        "E[tau mu^2] >= 0.6, and with an MLP probe every target >= 0.85. "
                        + BASELINES,
                        criteria=(Threshold("mse_r2_xbar", 0.95, upper=False, why="spec claim 12"),
                                  Threshold("nll_r2_xbar", 0.95, upper=False, why="spec claim 12"),
                                  NLL_E_LN_TAU,
                                  Threshold("nll_min_r2_s_and_other_moments", 0.6, upper=False,
                                            why="spec claim 12"),
                                  Threshold("nll_mlp_min_r2", 0.85, upper=False,
                                            why="spec claim 12 (MLP)"))),
            self._claim("gamma_exponential", "13", reference="spec 2.1(c), claim 13",
                        kind="simulation", budget_s=25.0, measure=measure_eg,
                        prepare=probing.needs("eg"),
                        figure=overlay_figure("claim13_eg", "Gamma-Exponential: probe vs log "
                                              "moments"),
                        statement=f"{TAG} {_describe('eg')}. ID, last position: a ridge probe on "
                        "log targets recovers log E[lam^m], m = 1..4, with R^2 >= 0.9 (raw "
                        "targets are heavy-tailed; their Spearman correlations are reported). "
                        + BASELINES,
                        criteria=(Threshold("min_r2_log_moments", 0.9, upper=False,
                                            why="spec claim 13"),)),
            self._claim("out_of_distribution", "14", reference="spec 3.3 (OOD), claim 14, 5.9, 6.2",
                        kind="simulation", budget_s=15.0, measure=measure_ood,
                        prepare=probing.needs(*FIRST),
                        figure=overlay_figure("claim14_ood", "first moment / statistic, ID and "
                                              "OOD"),
                        statement=f"{TAG} {_describe(*FIRST)}. Frozen ID-trained transformers, "
                        "ridge probe refit on OOD embeddings (BB E[p]; NG x-bar; EG log E[lam]): "
                        "for every model of the authors' protocol (BB, NG and EG, as in section 4) "
                        "the OOD R^2 is within 0.15 of the ID R^2. Reported: the same gap for the "
                        "Gaussian-NLL Normal-Gamma model, and the ID probe transferred to OOD (a "
                        "stricter, non-paper test). " + BASELINES,
                        criteria=(Threshold("max_id_minus_ood_r2", 0.15, why="spec claim 14"),)),
            self._claim("ood_beats_untrained", "14r",
                        reference="spec claim 14 (section 4 form), 6.2 (14r)", kind="control",
                        budget_s=5.0, measure=measure_ood_untrained,
                        prepare=probing.needs(*FIRST),
                        statement=f"{TAG} [section-4 statement, kept as a refutation] "
                        f"{_describe('bb', 'eg')}. The trained model's OOD R^2 (BB E[p], EG log "
                        "E[lam], probe refit on OOD embeddings) is above the untrained "
                        "control's OOD R^2; Normal-Gamma's margins are reported. " + BASELINES,
                        criteria=(Threshold("min_ood_margin_over_untrained", 0.0, upper=False,
                                            why="spec claim 14: above the random-init OOD R^2"),),
                        expect="fail", expect_reason=(
                            "the untrained control's OOD R^2 is at least the trained model's for "
                            "Beta-Bernoulli or Gamma-Exponential: both targets are smooth "
                            "functions of a token average, which a random causal transformer "
                            "already holds, also for parameters training never saw (spec 6.2)")),
            self._claim("no_memorisation", "15",
                        reference="spec 3.3 (memorisation), claims 9 and 15, 5.10",
                        kind="control", budget_s=40.0, measure=measure_memorisation,
                        prepare=probing.needs("ng"),
                        figure=overlay_figure("claim15_memorisation", "Normal-Gamma: probing "
                                              "tokens x_1..x_10 (last position)"),
                        statement=f"{TAG} {_describe('ng')}. Probing the tokens x_1..x_10 from "
                        f"the last-position embedding (n = {_T('ng')}, the authors' recommended "
                        "position) gives per-token test MSE >= 0.8x the exact floor of claim 9; "
                        "the predictions follow x-bar (rho >= 0.9), not x_i - x-bar (|rho| <= "
                        "0.2). Reported: the embedding at position 10, whose own input is x_10 "
                        "(readable there by construction), and the untrained control. "
                        + BASELINES,
                        criteria=(Threshold("min_mse_over_floor", AT_FLOOR, upper=False,
                                            why="spec claim 15"),
                                  Threshold("min_rho_with_xbar", 0.9, upper=False,
                                            why="spec claim 15"),
                                  Threshold("max_abs_rho_with_residual", 0.2,
                                            why="spec claim 15")),
                        # spec 6.5: the median seed's value sits inside the spread that
                        # float32 rounding alone gives one seed (the median's verdict changed
                        # between two machines); the confidence bound is the stable statistic
                        statistic="mean_bound",
                        expect="fail", expect_reason=(
                            "judged on the one-sided 95% confidence bound of the seed mean, not "
                            "the median (spec 6.5): the median seed's residual correlation sits "
                            "at the 0.2 bound, within what float32 rounding alone (another "
                            "kernel set or CPU vendor, the same seed) moves it, so the median's "
                            "verdict changed between machines. On the bound the statement is not "
                            "established: the seeds' spread puts it on the wrong side. The "
                            "probe's predictions follow x-bar and its per-token MSE stays near "
                            "the exact floor on most seeds; the excess is on the first token, "
                            "which the untrained control also reads beyond x-bar (reported), so "
                            "it comes with the architecture's first position, not with "
                            "training")),
        )

    def _control_claims(self) -> tuple[Claim, ...]:
        ng_floor = Threshold("trained_min_mse_over_floor", AT_FLOOR, upper=False,
                             why="spec 6.2 (16b): claim 15's floor criterion, trained model")
        return (
            self._claim("beats_random_init", "16", reference="spec claim 16, 6.2, Remark S",
                        kind="control", budget_s=5.0, measure=measure_random_init,
                        prepare=probing.needs("ng_nll", "ng", "eg"),
                        statement=f"{TAG} {_describe('ng_nll')}. The likelihood-trained "
                        "Normal-Gamma model's ridge-probe MSE on the posterior moments, which "
                        "all need SS (mean over E[ln tau], E[tau], E[tau mu], E[tau mu^2], in "
                        "units of each target's variance), is at most 0.5x the untrained "
                        "control's. The MSE-trained Normal-Gamma and Gamma-Exponential models "
                        "(Remark S: only the mean is needed) are reported. " + BASELINES,
                        criteria=(Threshold("ng_nll_mse_ratio", 0.5, why="spec claim 16, 6.2"),)),
            self._claim("beta_bernoulli_beats_random_init", "16r",
                        reference="spec claim 16 (section 4 form), 6.2 (16r)", kind="control",
                        budget_s=5.0, measure=measure_random_init_bb,
                        prepare=probing.needs("bb"),
                        statement=f"{TAG} [section-4 statement, kept as a refutation] "
                        f"{_describe('bb')}. The trained model's ridge-probe MSE on the four "
                        "posterior moments (mean, in units of each target's variance) is at "
                        "most 0.5x the untrained control's. " + BASELINES,
                        criteria=(Threshold("bb_mse_ratio", 0.5, why="spec claim 16"),),
                        expect="fail", expect_reason=(
                            "the untrained network already encodes k/n and every smooth "
                            "function of it, so training cannot halve its probe MSE on the "
                            "moments: the spec's own caution (spec 6.2)")),
            self._claim("untrained_keeps_tokens", "16b", reference="spec 6.2 (claim 16b), claims "
                        "9 and 15", kind="control", budget_s=10.0,
                        measure=measure_untrained_tokens, prepare=probing.needs("ng"),
                        figure=overlay_figure("claim16b_untrained_tokens", "Normal-Gamma, "
                                              "untrained control: probing tokens x_1..x_10"),
                        statement=f"{TAG} [proposed by spec 6.2, stated before it was measured] "
                        f"{_describe('ng')}. A ridge probe of the tokens x_1..x_10 from the "
                        f"last-position embedding (n = {_T('ng')}) stays at the exact "
                        "memorisation floor of claim 9 under the trained model (every token's "
                        "test MSE >= 0.8x the floor, as claim 15), while under the untrained "
                        "control, on the same seeds and sequences, the same probe goes below "
                        "0.8x the floor for some token (random features keep tokens). "
                        + BASELINES,
                        criteria=(ng_floor,
                                  Threshold("untrained_min_mse_over_floor", AT_FLOOR, why=(
                                      "spec 6.2 (16b): the same criterion fails under the "
                                      "untrained control")))),
        )

    def negative_controls(self) -> dict:
        def shuffled() -> bool:  # claim 11's E[p] criterion fails on targets with no signal
            return not R2_E_P.accepts(_shuffled("bb", 0))

        def memorising() -> bool:  # claim 15's floor check fails for the tokens themselves
            return memorising_control(0)["mse_over_floor"].min() < AT_FLOOR

        def unseen_data() -> bool:  # claim 12's E[ln tau] criterion fails for an embedding
            r = runs.run("ng_nll", 0)  # that has seen only x_1..x_10 of the T observations
            return not NLL_E_LN_TAU.accepts(_r2s(_ridge(r, "moments", position=9), 0))

        return {"Beta-Bernoulli targets shuffled across sequences": shuffled,
                "an embedding that holds the tokens (memorises) breaks the floor": memorising,
                "the embedding has not seen x_11..x_T (Normal-Gamma E[ln tau])": unseen_data}
