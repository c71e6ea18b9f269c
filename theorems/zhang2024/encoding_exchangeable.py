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

import numpy as np
from scipy import stats

from sim.bayes.exchangeable import BetaBernoulli, NormalGamma
from sim.probes import Split, mlp_probe, ridge_probe
from theorems import figures
from theorems.base import Claim, Measurement, SolveResult, Theorem
from theorems.tolerances import Threshold
from theorems.zhang2024._runs import run
from theorems.zhang2024.exchangeable import ng_memorisation_floor, prop3_symbolic

PAPER = "Zhang et al. 2024 (arXiv 2406.03707), as formalised in the spec"
SEEDS = (0,)  # one trained transformer per family in the default run (PERFORMANCE.md 5)
# Claim 15 only needs the Normal-Gamma (MSE) model (16 s per seed), so it is judged on three:
# over seeds 0-4 its per-seed minimum MSE/floor was 0.84, 0.73, 0.89, 0.89, 0.92 (measured)
MEMORISATION_SEEDS = (0, 1, 2)
TAG = "[EMP, proposed thresholds]"
CPU = "Measured at the CPU scale, seed 0, the authors' architecture: "
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

    def statement(self):
        return prop3_symbolic()

    def example(self, seed: int = 0):
        return "bb", seed

    def reference(self, instance):
        fam, seed = instance
        r = run(fam, seed)
        mom, stat = targets(fam, r)
        ceil = ceiling_r2(stat, mom, r.split)
        exact = BetaBernoulli.in_distribution().moments(r.latent["id"]["x"])
        return SolveResult(value=ceil, residual=float(np.abs(np.log(exact) - np.log(mom)).max()),
                           tol=1e-12, why="the oracle's moments recomputed: rounding only")

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
                  reference="spec 3.3, claim 11", kind="simulation", seeds=SEEDS, budget_s=25.0,
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
                  xfail_reason=(CPU + "E[p] 0.997 and E[p^2] 0.987 pass, but the "
                                "untrained control holds E[p^3], E[p^4] better (R^2 0.988, 0.977 "
                                "against 0.964, 0.925). Both beat the linear ceiling from k/n "
                                "(0.794, 0.657): with n fixed every moment is a function of k "
                                "alone, and a random network's embedding already holds such "
                                "functions. Over seeds 0-4 the trained E[p^4] R^2 is 0.92, 0.89, "
                                "0.96, 0.87, 0.96 against the control's 0.98, 0.96, 0.95, 0.98, "
                                "0.99: the claim holds at seed 2 alone (by 0.002); at the authors' "
                                "size (T 500, d_model 128, 3 layers, 8 heads) the control holds "
                                "E[p^2..4] with R^2 0.9999, 0.9997, 0.9985 (seed 0, untrained), "
                                "which leaves a trained model almost no room")),
            Claim(id=f"{pid}.normal_gamma", spec="embeddings_embed:12", paper=PAPER,
                  reference="spec 3.3, claim 12, Remark S", kind="simulation", seeds=SEEDS,
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
                  reference="spec 2.1(c), claim 13", kind="simulation", seeds=SEEDS,
                  budget_s=25.0, measure=measure_eg,
                  figure=overlay_figure("claim13_eg", "Gamma-Exponential: probe vs log moments"),
                  statement=f"{TAG} Gamma-Exponential, ID, MSE training: a ridge probe on log "
                  "targets recovers log E[lam^m], m = 1..4, with R^2 >= 0.9 (raw targets are "
                  "heavy-tailed; their Spearman correlations are reported).",
                  criteria=(Threshold("min_r2_log_moments", 0.9, upper=False, why="spec claim 13"),)),
            Claim(id=f"{pid}.out_of_distribution", spec="embeddings_embed:14", paper=PAPER,
                  reference="spec 3.3 (OOD), claim 14, 5.9", kind="control", seeds=SEEDS,
                  budget_s=15.0, measure=measure_ood,
                  figure=overlay_figure("claim14_ood", "first moment / statistic, ID and OOD"),
                  statement=f"{TAG} Frozen ID-trained transformers, probe refit on OOD "
                  "embeddings (BB E[p]; NG x-bar; EG log E[lam]): OOD R^2 within 0.15 of ID "
                  "and above the random-init control's OOD R^2. The ID probe transferred to "
                  "OOD (a stricter, non-paper test) is reported.",
                  criteria=(Threshold("max_id_minus_ood_r2", 0.15, why="spec claim 14"),
                            Threshold("min_ood_margin_over_random", 0.0, upper=False,
                                      why="spec claim 14: above the random-init OOD R^2")),
                  xfail_reason=(CPU + "OOD R^2 stays within 0.15 of ID (it falls by 0.006 "
                                "for BB, 0.052 for NG x-bar and 0.126 for EG), but the untrained "
                                "control's OOD R^2 is higher for BB (0.9995 vs 0.9915) and EG "
                                "(0.987 vs 0.862), lower for NG (0.898)")),
            Claim(id=f"{pid}.no_memorisation", spec="embeddings_embed:15", paper=PAPER,
                  reference="spec 3.3 (memorisation), claims 9 and 15, 5.10", kind="control",
                  seeds=MEMORISATION_SEEDS, statistic="median", budget_s=40.0,
                  measure=measure_memorisation,
                  figure=overlay_figure("claim15_memorisation",
                                        "Normal-Gamma: probing tokens x_1..x_10 (last position)"),
                  statement=f"{TAG} Normal-Gamma (MSE-trained): probing the tokens x_1..x_10 "
                  "from the last-position embedding (n = 32, the authors' recommended position) "
                  "gives per-token test MSE >= 0.8x the exact floor of claim 9; the predictions "
                  "follow x-bar (rho >= 0.9), not x_i - x-bar (|rho| <= 0.2). Reported: the "
                  "embedding at position 10, whose own input is x_10 (readable there by "
                  "construction), and the untrained control. Judged on the median of three "
                  "trained models (seeds 0-2): one model in five reads x_1 below the floor "
                  "(seed 1: 0.73x, measured), the first position taking extra attention.",
                  criteria=(Threshold("min_mse_over_floor", 0.8, upper=False, why="spec claim 15"),
                            Threshold("min_rho_with_xbar", 0.9, upper=False, why="spec claim 15"),
                            Threshold("max_abs_rho_with_residual", 0.2, why="spec claim 15"))),
            Claim(id=f"{pid}.beats_random_init", spec="embeddings_embed:16", paper=PAPER,
                  reference="spec claim 16, Remark S", kind="control", seeds=SEEDS,
                  budget_s=5.0, measure=measure_random_init,
                  statement=f"{TAG} Probe MSE on the four posterior moments (mean, in units of "
                  "each target's variance) is at most 0.5x the random-init control's, judged "
                  "on the likelihood-trained models, whose optimum needs the moments: Beta-"
                  "Bernoulli (cross-entropy) and Normal-Gamma (Gaussian NLL). The MSE-trained "
                  "Normal-Gamma and Gamma-Exponential (Remark S: only the mean is needed) are "
                  "reported.",
                  criteria=(Threshold("bb_mse_ratio", 0.5, why="spec claim 16"),
                            Threshold("ng_nll_mse_ratio", 0.5, why="spec claim 16")),
                  xfail_reason=(CPU + "Normal-Gamma (NLL) 0.20x the untrained control "
                                "passes; Beta-Bernoulli fails at 3.2x (normalised MSE 0.032 vs "
                                "0.010): the untrained network already encodes k/n, the spec's "
                                "own caution. At the authors' size the untrained network's "
                                "normalised MSE on E[p^1..4] is about 0.0005 (seed 0), so 0.5x "
                                "of it asks for a near-exact trained probe")),
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
