"""Small transformers trained on exchangeable sequences encode the posterior: probes of
their last-position embeddings against the exact targets, with controls.

References
----------
Zhang et al. 2024, What Should Embeddings Embed?, arXiv 2406.03707; spec
embeddings_embed 2.1, 3.1-3.3, 5 (items 3, 8-10, 14) and claims 11-16.

Notes
-----
Tags: every claim here is [EMP] with the spec's proposed thresholds (the paper's own
figures are qualitative overlays). Runs: one transformer per family (``_runs``), trained
once per process at the CPU scale (T = 32, so the embedding has seen n = 32 observations;
d_model 32, 2 layers) and shared by the claims. Probes: closed-form ridge on standardised
embeddings, the penalty chosen on a validation split, R^2 reported on a separate test
split (spec 5.8); an MLP probe where the claim names one. Witnesses: the symbolic
statement is Prop. 3 (the predictive determines the statistic, so an optimal embedding
holds it); the reference is the best affine map from the exact sufficient statistic to each
target (the "linear ceiling" of spec 2.1, at our n); the simulation is the trained
transformer (the authors' architecture, spec 3.1). Controls: the authors' random-init
control (the trained model's own starting point, untrained), targets shuffled across
sequences, and a memorising embedding (the raw tokens), each of which must fail the check it
controls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from sim import streams
from sim.bayes.exchangeable import NormalGamma
from sim.errors import InputError
from sim.probes import Split, mlp_probe, ridge_probe
from theorems import figures
from theorems.base import Claim, Measurement, SolveResult, Theorem
from theorems.tolerances import Threshold
from theorems.zhang2024._runs import EXCHANGEABLE, run
from theorems.zhang2024.exchangeable import ng_memorisation_floor, prop3_symbolic

PAPER = "Zhang et al. 2024 (arXiv 2406.03707), as formalised in the spec"
# Trained-transformer claims are judged on the median of three seeds (spec embeddings_embed
# 6.5): no verdict rests on one trained model, and the median sits outside the run-to-run noise
# that one seed's value carries
SEEDS = (0, 1, 2)
STATISTIC = "median"
TAG = "[EMP, proposed thresholds]"
NAMES = {"bb": ("E[p]", "E[p^2]", "E[p^3]", "E[p^4]"),
         "ng": ("E[ln tau]", "E[tau]", "E[tau mu]", "E[tau mu^2]"),
         "eg": ("log E[lam]", "log E[lam^2]", "log E[lam^3]", "log E[lam^4]")}
SHUFFLED_R2 = Threshold("shuffled_target_r2", 0.05, why=(
    "control: targets permuted across sequences carry no information, so a probe that is "
    "not leaking must score R^2 <= 0 up to the test split's noise (about 1/sqrt(1000))"))


def _family(name: str) -> str:
    return "ng" if name == "ng_nll" else name


def targets(family: str, run_, data: str = "id") -> tuple[np.ndarray, np.ndarray]:
    """(moments, statistic) of the probe sequences: the exact posterior moments (Gamma-
    Exponential: their logs, spec claim 13) and the sufficient statistic (Beta-Bernoulli
    k/n; Normal-Gamma (x-bar, s); Gamma-Exponential log x-bar)."""
    lat = run_.latent[data]
    prior, x = lat["prior"], lat["x"]
    mom, stat = prior.moments(x), prior.sufficient_statistic(x)
    if _family(family) == "eg":
        return np.log(mom), np.log(stat)
    return mom, stat


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
              "(128 nodes per axis on a 60-nat window): they agree to 1e-13 or better for "
              "n = 1 to 499 under the ID and OOD priors of every family (measured)")
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
    """The targets of the shared run of ``family`` (trains it once per process)."""
    r = run(family, seed)
    mom, stat = targets(family, r)
    return ProbeTargets(family, r.latent["id"]["prior"], r.latent["id"]["x"], mom, stat, r.split)


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


def probe_r2(family: str, which: str = "trained", data: str = "id", seed: int = 0,
             target: str = "moments"):
    """Ridge probe of the last-position embedding; returns (ProbeResult, targets)."""
    r = run(family, seed)
    mom, stat = targets(family, r, data)
    Y = mom if target == "moments" else stat
    return ridge_probe(r.embedding(which, data), Y, r.split), Y


def _r2s(res) -> list:
    return [round(float(v), 4) for v in res.per_target["r2"]]


def _shuffled(family: str, seed: int) -> float:
    r = run(family, seed)
    mom, _ = targets(family, r)
    perm = np.random.default_rng(seed).permutation(len(mom))
    return float(ridge_probe(r.embedding(), mom[perm], r.split).scores["r2"])


def _panels(names, Y, res, sp, tag):
    return [(f"{tag} {n}: R2 {v:.3f}", Y[sp.test, i], res.predictions[:, i])
            for i, (n, v) in enumerate(zip(names, res.per_target["r2"]))]


# --- claim 11: Beta-Bernoulli -----------------------------------------------------------------

def measure_bb(seed: int) -> Measurement:
    r = run("bb", seed)
    res, Y = probe_r2("bb", seed=seed)
    rnd, _ = probe_r2("bb", "random", seed=seed)
    _, stat = targets("bb", r)
    margin = res.per_target["r2"][2:] - rnd.per_target["r2"][2:]
    return Measurement(
        {"r2_E_p": float(res.per_target["r2"][0]), "r2_E_p2": float(res.per_target["r2"][1]),
         "higher_moments_minus_random": float(margin.min()),
         "shuffled_target_r2": _shuffled("bb", seed)},
        {**r.details, "r2_trained": _r2s(res), "r2_random_init": _r2s(rnd),
         "linear_ceiling_from_k/n": [
             round(float(v), 4) for v in ceiling_r2(stat, Y, r.split)]},
        curves={"panels": _panels(NAMES["bb"], Y, res, r.split, "ID")})


# --- claim 12: Normal-Gamma, MSE and Gaussian-NLL training -------------------------------------

def measure_ng(seed: int) -> Measurement:
    out, details, panels = {}, {}, []
    for fam in ("ng", "ng_nll"):
        r = run(fam, seed)
        mom, stat = targets(fam, r)
        Y = np.column_stack([stat, mom])  # x-bar, s, E ln tau, E tau, E tau mu, E tau mu^2
        res = ridge_probe(r.embedding(), Y, r.split)
        r2 = res.per_target["r2"]
        details[f"{fam}_r2 (x-bar, s, moments)"] = _r2s(res)
        details[f"{fam}_run"] = r.details
        if fam == "ng":
            out["mse_r2_xbar"] = float(r2[0])
            ceil = ceiling_r2(stat, mom, r.split)
            details["linear_ceiling_moments_from_(x-bar, s)"] = [round(float(v), 4) for v in ceil]
            rnd = ridge_probe(r.embedding("random"), Y, r.split)
            details["random_init_r2"] = _r2s(rnd)
        else:
            out["nll_r2_xbar"] = float(r2[0])
            out["nll_r2_E_ln_tau"] = float(r2[2])
            out["nll_min_r2_s_and_other_moments"] = float(np.min(r2[[1, 3, 4, 5]]))
            # scikit-learn's stopping rule (tol 1e-4, 10 epochs): 1.3 s; the strict rule
            # (1e-6, 50 epochs) took 17 s for a min R^2 of 0.990 against 0.982 (seed 0)
            mlp = mlp_probe(r.embedding(), Y, r.split, hidden=(128,), alphas=(1e-3,), seed=seed,
                            tol=1e-4, patience=10)
            out["nll_mlp_min_r2"] = float(mlp.per_target["r2"].min())
            details["ng_nll_mlp_r2"] = _r2s(mlp)
        panels += _panels(("x-bar", "s") + NAMES["ng"], Y, res, r.split,
                          "MSE" if fam == "ng" else "NLL")
    return Measurement(out, details, curves={"panels": panels})


# --- claim 13: Gamma-Exponential ----------------------------------------------------------------

def measure_eg(seed: int) -> Measurement:
    r = run("eg", seed)
    res, Y = probe_r2("eg", seed=seed)
    raw = r.latent["id"]["prior"].moments(r.latent["id"]["x"])[r.split.test]
    rho = [stats.spearmanr(raw[:, i], res.predictions[:, i]).statistic for i in range(4)]
    rnd, _ = probe_r2("eg", "random", seed=seed)
    return Measurement({"min_r2_log_moments": float(res.per_target["r2"].min())},
                       {**r.details, "r2_log_moments": _r2s(res),
                        "spearman_raw_moments": [round(float(v), 4) for v in rho],
                        "random_init_r2_log_moments": _r2s(rnd)},
                       curves={"panels": _panels(NAMES["eg"], Y, res, r.split, "ID")})


# --- claim 14: out of distribution -------------------------------------------------------------

FIRST = {"bb": ("moments", 0, "E[p]"), "ng": ("statistic", 0, "x-bar"),
         "eg": ("moments", 0, "log E[lam]")}


def measure_ood(seed: int) -> Measurement:
    gaps, margins, details, panels = [], [], {}, []
    for fam, (target, j, name) in FIRST.items():
        r = run(fam, seed)
        res = {}
        for which in ("trained", "random"):
            for data in ("id", "ood"):
                pr, Y = probe_r2(fam, which, data, seed, target)
                res[which, data] = (float(pr.per_target["r2"][j]), pr, Y)
        details[f"{fam}: {name} R2 (trained ID, trained OOD, random OOD)"] = [
            round(res["trained", "id"][0], 4), round(res["trained", "ood"][0], 4),
            round(res["random", "ood"][0], 4)]
        # transfer (reported, spec 5.9): the ID probe applied to OOD embeddings
        details[f"{fam}: ID probe transferred to OOD, R2"] = round(_transfer(r, target, j, fam), 4)
        gaps.append(res["trained", "id"][0] - res["trained", "ood"][0])
        margins.append(res["trained", "ood"][0] - res["random", "ood"][0])
        for data in ("id", "ood"):
            _, pr, Y = res["trained", data]
            panels.append((f"{fam} {data.upper()} {name}: R2 {pr.per_target['r2'][j]:.3f}",
                           Y[r.split.test, j], pr.predictions[:, j]))
    return Measurement({"max_id_minus_ood_r2": float(max(gaps)),
                        "min_ood_margin_over_random": float(min(margins))}, details,
                       curves={"panels": panels})


def _transfer(r, target: str, j: int, fam: str) -> float:
    """Test R^2 on OOD rows of the probe fitted (and its penalty chosen) on ID rows: the
    same ridge probe on the ID and OOD embeddings stacked, split ID-train / ID-val / OOD-test."""
    Y = [(m if target == "moments" else s).reshape(len(m), -1)[:, j]
         for m, s in (targets(fam, r, "id"), targets(fam, r, "ood"))]
    H = np.vstack([r.embedding("trained", "id"), r.embedding("trained", "ood")])
    n = len(Y[0])
    sp = Split(r.split.train, r.split.val, n + r.split.test)
    return float(ridge_probe(H, np.concatenate(Y), sp).scores["r2"])


# --- claim 15: no token memorisation -------------------------------------------------------------

def memorisation(H: np.ndarray, x: np.ndarray, sp: Split, n: int) -> dict:
    """Probe x_1..x_10 from embeddings H that have seen n >= 10 tokens: per-token test MSE
    over the exact floor (n-1)/n beta0/(alpha0-1), and the correlation of the predictions
    with x-bar_n and with x_i - x-bar_n."""
    ng = NormalGamma.in_distribution()
    floor = ng_memorisation_floor(ng, n)
    res = ridge_probe(H, x[:, :10], sp)
    pred, true = res.predictions, x[sp.test, :10]
    xbar = x[sp.test, :n].mean(1)
    mse = ((pred - true) ** 2).mean(0)
    rho_bar = [stats.pearsonr(pred[:, i], xbar).statistic for i in range(10)]
    rho_res = [stats.pearsonr(pred[:, i], true[:, i] - xbar).statistic for i in range(10)]
    return {"mse_over_floor": mse / floor, "rho_xbar": np.array(rho_bar),
            "rho_residual": np.abs(rho_res), "floor": floor, "pred": pred, "true": true}


def measure_memorisation(seed: int) -> Measurement:
    """Judged at the last position (n = T observations, the authors' recommended position,
    targets the first 10 tokens); position 10 (whose input is x_10 itself) and the
    random-init control are reported."""
    r = run("ng", seed)
    x = r.latent["id"]["x"]
    T = x.shape[1]
    details = {**r.details}
    last = memorisation(r.embedding(position=-1), x, r.split, T)
    for key, m in ((f"position {T}", last),
                   ("position 10 (reported)", memorisation(r.embedding(position=9), x, r.split, 10)),
                   (f"random init, position {T} (reported)",
                    memorisation(r.embedding("random", position=-1), x, r.split, T))):
        details[f"{key}: MSE/floor per token"] = [round(float(v), 3) for v in m["mse_over_floor"]]
        details[f"{key}: rho with x-bar per token"] = [round(float(v), 3) for v in m["rho_xbar"]]
        details[f"{key}: floor"] = round(m["floor"], 4)
    out = {"min_mse_over_floor": float(last["mse_over_floor"].min()),
           "min_rho_with_xbar": float(last["rho_xbar"].min()),
           "max_abs_rho_with_residual": float(last["rho_residual"].max())}
    panels = [(f"x_{i + 1}: MSE/floor {last['mse_over_floor'][i]:.2f}", last["true"][:, i],
               last["pred"][:, i]) for i in range(10)]
    return Measurement(out, details, curves={"panels": panels})


def memorising_control(seed: int = 0) -> dict:
    """Negative control: an 'embedding' that holds the tokens themselves (the first 32
    observations, standardised) breaks the floor."""
    r = run("ng", seed)
    x = r.latent["id"]["x"]
    return memorisation(x + 0.0, x, r.split, x.shape[1])


# --- claim 16: trained versus random init -----------------------------------------------------

def _mean_unexplained(res) -> float:
    """Mean over targets of the test MSE in units of the target's variance (1 - R^2)."""
    return float(np.mean(1.0 - res.per_target["r2"]))


def measure_random_init(seed: int) -> Measurement:
    ratios, details = {}, {}
    for fam in ("bb", "ng_nll", "ng", "eg"):
        tr, _ = probe_r2(fam, seed=seed)
        rnd, _ = probe_r2(fam, "random", seed=seed)
        ratios[fam] = _mean_unexplained(tr) / _mean_unexplained(rnd)
        details[f"{fam}: normalised MSE (trained, random init)"] = [
            round(_mean_unexplained(x), 4) for x in (tr, rnd)]
        details[f"{fam}: trained / random"] = round(ratios[fam], 3)
    return Measurement({"bb_mse_ratio": ratios["bb"], "ng_nll_mse_ratio": ratios["ng_nll"]},
                       details)


def overlay_figure(name: str, title: str):
    def draw(evidence, folder) -> list:
        paths = []
        for seed, m in zip(evidence.seeds, evidence.per_seed):
            if m.curves.get("panels"):
                paths.append(figures.overlays(folder / f"zhang2024_{name}_seed{seed}.png",
                                              m.curves["panels"], title=f"{title} (seed {seed})"))
        return paths
    return draw


class ExchangeableEncoding(Theorem):
    """Transformers trained on exchangeable data embed the posterior's statistics."""

    paper = "zhang2024"
    slug = "exchangeable_encoding"
    title = "Trained transformers encode the sufficient statistics of exchangeable data"
    citation = "Zhang et al. 2024, arXiv 2406.03707; spec embeddings_embed 3.3, claims 11-16"
    trains = True  # the shared transformer runs (_runs)

    def statement(self):
        return prop3_symbolic()

    def example(self, seed: int = 0):
        return "bb", seed

    def reference(self, instance):
        """The linear ceiling (test R^2 of the best affine map from the exact statistic to
        each target), with the targets certified by quadrature (:func:`target_residual`).
        ``instance`` is ``(family, seed)`` (the shared run's probe data; trains it once) or
        a :class:`ProbeTargets`, possibly with planted candidate targets."""
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
        res, _ = probe_r2(fam, seed=s)
        return {"r2": res.per_target["r2"], "alpha": res.choice["alpha"]}

    def compare(self, instance, seed: int = 0) -> dict:
        """How far the trained embedding's probe falls below the linear ceiling (>= 0 when
        the ceiling is not beaten)."""
        ceil = self.reference(instance).value
        r2 = self.simulate(instance, seed)["r2"]
        return {"ceiling_minus_probe_r2": float(max(0.0, np.max(ceil - r2)))}

    def claims(self) -> tuple[Claim, ...]:
        pid = self.id
        return (
            Claim(id=f"{pid}.beta_bernoulli", spec="embeddings_embed:11", paper=PAPER,
                  reference="spec 3.3, claim 11", kind="simulation", seeds=SEEDS, statistic=STATISTIC, budget_s=25.0,
                  measure=measure_bb, figure=overlay_figure("claim11_bb_moments",
                                                            "Beta-Bernoulli: probe vs posterior moments"),
                  statement=f"{TAG} Beta-Bernoulli, ID, last position (n = 32), ridge probe: "
                  "E[p] with R^2 >= 0.95 and E[p^2] >= 0.85; E[p^3], E[p^4] beat the random-"
                  "init control; a probe of shuffled targets finds nothing.",
                  criteria=(Threshold("r2_E_p", 0.95, upper=False, why="spec claim 11 (ceiling 1.00)"),
                            Threshold("r2_E_p2", 0.85, upper=False, why="spec claim 11 (ceiling 0.91 at n=499)"),
                            Threshold("higher_moments_minus_random", 0.0, upper=False, why=(
                                "spec claim 11: higher moments need only beat random init")),
                            SHUFFLED_R2),
                  expect="fail", expect_reason=(
                      "E[p] and E[p^2] are read well, but the untrained control holds E[p^3] "
                      "and E[p^4] at least as well: with n fixed every moment is a function of "
                      "k alone, and a random network's last-position embedding already holds "
                      "smooth functions of a token average (spec embeddings_embed 6.2)")),
            Claim(id=f"{pid}.normal_gamma", spec="embeddings_embed:12", paper=PAPER,
                  reference="spec 3.3, claim 12, Remark S", kind="simulation", seeds=SEEDS, statistic=STATISTIC,
                  budget_s=60.0, measure=measure_ng,
                  figure=overlay_figure("claim12_ng", "Normal-Gamma: (x-bar, s) and moments, "
                                        "MSE- and NLL-trained"),
                  statement=f"{TAG} Normal-Gamma, ID, ridge probe. MSE training (the authors'): "
                  "x-bar with R^2 >= 0.95, the only statistic the MSE optimum needs (Remark S; "
                  "s and the moments are reported). Gaussian-NLL training, where the theory "
                  "requires the variance: x-bar >= 0.95, E[ln tau] >= 0.85, s, E[tau], "
                  "E[tau mu], E[tau mu^2] >= 0.6, and with an MLP probe every target >= 0.85.",
                  criteria=(Threshold("mse_r2_xbar", 0.95, upper=False, why="spec claim 12"),
                            Threshold("nll_r2_xbar", 0.95, upper=False, why="spec claim 12"),
                            Threshold("nll_r2_E_ln_tau", 0.85, upper=False, why="spec claim 12"),
                            Threshold("nll_min_r2_s_and_other_moments", 0.6, upper=False,
                                      why="spec claim 12"),
                            Threshold("nll_mlp_min_r2", 0.85, upper=False, why="spec claim 12 (MLP)"))),
            Claim(id=f"{pid}.gamma_exponential", spec="embeddings_embed:13", paper=PAPER,
                  reference="spec 2.1(c), claim 13", kind="simulation", seeds=SEEDS, statistic=STATISTIC,
                  budget_s=25.0, measure=measure_eg,
                  figure=overlay_figure("claim13_eg", "Gamma-Exponential: probe vs log moments"),
                  statement=f"{TAG} Gamma-Exponential, ID, MSE training: a ridge probe on log "
                  "targets recovers log E[lam^m], m = 1..4, with R^2 >= 0.9 (raw targets are "
                  "heavy-tailed; their Spearman correlations are reported).",
                  criteria=(Threshold("min_r2_log_moments", 0.9, upper=False, why="spec claim 13"),)),
            Claim(id=f"{pid}.out_of_distribution", spec="embeddings_embed:14", paper=PAPER,
                  reference="spec 3.3 (OOD), claim 14, 5.9", kind="control", seeds=SEEDS, statistic=STATISTIC,
                  budget_s=15.0, measure=measure_ood,
                  figure=overlay_figure("claim14_ood", "first moment / statistic, ID and OOD"),
                  statement=f"{TAG} Frozen ID-trained transformers, probe refit on OOD "
                  "embeddings (BB E[p]; NG x-bar; EG log E[lam]): OOD R^2 within 0.15 of ID "
                  "and above the random-init control's OOD R^2. The ID probe transferred to "
                  "OOD (a stricter, non-paper test) is reported.",
                  criteria=(Threshold("max_id_minus_ood_r2", 0.15, why="spec claim 14"),
                            Threshold("min_ood_margin_over_random", 0.0, upper=False,
                                      why="spec claim 14: above the random-init OOD R^2")),
                  expect="fail", expect_reason=(
                      "OOD R^2 stays within 0.15 of ID, but the untrained control's OOD R^2 is "
                      "higher for Beta-Bernoulli and Gamma-Exponential: random initialisation is "
                      "not a control for token-average statistics (spec embeddings_embed 6.2)")),
            Claim(id=f"{pid}.no_memorisation", spec="embeddings_embed:15", paper=PAPER,
                  reference="spec 3.3 (memorisation), claims 9 and 15, 5.10", kind="control",
                  seeds=SEEDS, statistic=STATISTIC, budget_s=40.0,
                  measure=measure_memorisation,
                  figure=overlay_figure("claim15_memorisation",
                                        "Normal-Gamma: probing tokens x_1..x_10 (last position)"),
                  statement=f"{TAG} Normal-Gamma (MSE-trained): probing the tokens x_1..x_10 "
                  "from the last-position embedding (n = 32, the authors' recommended position) "
                  "gives per-token test MSE >= 0.8x the exact floor of claim 9; the predictions "
                  "follow x-bar (rho >= 0.9), not x_i - x-bar (|rho| <= 0.2). Reported: the "
                  "embedding at position 10, whose own input is x_10 (readable there by "
                  "construction), and the untrained control.",
                  criteria=(Threshold("min_mse_over_floor", 0.8, upper=False, why="spec claim 15"),
                            Threshold("min_rho_with_xbar", 0.9, upper=False, why="spec claim 15"),
                            Threshold("max_abs_rho_with_residual", 0.2, why="spec claim 15")),
                  expect="fail", expect_reason=(
                      "the probe's predictions follow x-bar and its per-token MSE stays near the "
                      "exact floor, but on most trained models the earliest tokens are read "
                      "beyond x-bar: the residual correlation exceeds 0.2 on the median seed, the "
                      "first positions taking extra attention")),
            Claim(id=f"{pid}.beats_random_init", spec="embeddings_embed:16", paper=PAPER,
                  reference="spec claim 16, Remark S", kind="control", seeds=SEEDS, statistic=STATISTIC,
                  budget_s=5.0, measure=measure_random_init,
                  statement=f"{TAG} Probe MSE on the four posterior moments (mean, in units of "
                  "each target's variance) is at most 0.5x the random-init control's, judged "
                  "on the likelihood-trained models, whose optimum needs the moments: Beta-"
                  "Bernoulli (cross-entropy) and Normal-Gamma (Gaussian NLL). The MSE-trained "
                  "Normal-Gamma and Gamma-Exponential (Remark S: only the mean is needed) are "
                  "reported.",
                  criteria=(Threshold("bb_mse_ratio", 0.5, why="spec claim 16"),
                            Threshold("ng_nll_mse_ratio", 0.5, why="spec claim 16")),
                  expect="fail", expect_reason=(
                      "the Normal-Gamma (NLL) model meets 0.5x the untrained control, but the "
                      "Beta-Bernoulli one does not: the untrained network already encodes k/n, "
                      "the spec's own caution (spec embeddings_embed 6.2)")),
        )

    def negative_controls(self) -> dict:
        def shuffled() -> bool:  # claim 11's R^2 >= 0.95 fails on targets with no signal
            return _shuffled("bb", 0) < 0.95

        def memorising() -> bool:  # claim 15's floor check fails for the tokens themselves
            return memorising_control(0)["mse_over_floor"].min() < 0.8

        def unseen_data() -> bool:  # claim 12's E[ln tau] >= 0.85 fails for an embedding
            r = run("ng_nll", 0)      # that has seen only x_1..x_10 of the 32 observations
            mom, _ = targets("ng_nll", r)
            return ridge_probe(r.embedding(position=9), mom, r.split).per_target["r2"][0] < 0.85

        return {"Beta-Bernoulli targets shuffled across sequences": shuffled,
                "an embedding that holds the tokens (memorises) breaks the floor": memorising,
                "the embedding has not seen x_11..x_32 (Normal-Gamma E[ln tau])": unseen_data}
