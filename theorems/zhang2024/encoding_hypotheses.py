"""Small transformers trained on rectangle-game points encode what next-token training
guarantees of the hypothesis posterior: the predictive mean under MSE, the 49 one-step cell
masses under cross-entropy, the bounding box; not, at the CPU scale, the 784-way posterior.

References
----------
Zhang et al. 2024, What Should Embeddings Embed?, arXiv 2406.03707; spec embeddings_embed
1.4 (Remarks R and S), 1.7, 2.3, 3.5, 5 (items 2, 3, 5), 6.3, 6.4 and claims 24a, 24b,
24c, 24r.

Notes
-----
Tags: [EMP] with the spec's proposed thresholds. Two models per seed, trained on the same
points of the easy grid (:mod:`theorems.zhang2024.runs`): ``rect_points``, raw points under
MSE (the authors' setup; its optimum is the predictive mean, Remark S) and ``rect``, each
point fed as its grid cell's token under cross-entropy (spec 5.3's likelihood variant; on the
easy grid every rectangle is a union of cells, so the cells keep the whole posterior, and
the optimum holds the 49 one-step cell masses, Remark R). Probes read the last-position
embedding, their penalty (and the MLP's size) chosen on a validation split and scored on a
separate test split (spec 5.8):

* 24a: ridge to the predictive mean (2-D), test R^2.
* 24b: a linear softmax probe to the 49 cell masses (KL(target || probe) and L1, the mean
  of sum_c |m_c - q_c|); and the *posterior reconstruction*: the 784-way linear softmax
  probe (:data:`POSTERIOR_PROBE`) from the embedding, against the same probe from the exact
  log cell masses (``Run.statistic``, the theory's ceiling: all a cross-entropy optimum is
  guaranteed to hold, linearly), each scored by MAP agreement (the probe's argmax equals the
  exact posterior's argmax, the MAP hypothesis, on the test rows).
* 24c: an MLP (:data:`BOX_PROBE`) to the bounding box as four cell indices (the cells of
  min x1, max x1, min x2, max x2: with n, the posterior's sufficient statistic on the easy
  grid), from either model; the *implied posterior* (:func:`implied_posterior`) rounds each
  predicted index to the nearest integer, clips it to the grid's cells, orders each axis's
  pair, and is the exact posterior of n points whose cells span that box; scored by its MAP
  agreement with the exact posterior.
* 24r: the section 4 statement, the 784-way probe of 24b judged on its own (MAP >= 0.8,
  KL <= 0.5); refuted at the CPU scale, re-judged by the paper tier.

Every claim reports the same probe from the untrained network (the authors' control), from
the exact statistic (the log cell masses) and from the current token alone (the last point:
its cell one-hot for ``rect``, its coordinates for ``rect_points``), spec 6.4. Witnesses:
the exact ranks (:func:`~theorems.zhang2024.hypotheses.rank_statement`), the posterior
targets checked against the per-point likelihood product, the trained probes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim import streams
from sim.bayes import RectangleGame
from sim.errors import InputError
from theorems import figures
from theorems.base import Claim, Measurement, SolveResult, Theorem
from theorems.tolerances import Threshold
from theorems.zhang2024 import probing, runs
from theorems.zhang2024.hypotheses import EXACT as POSTERIOR_EXACT
from theorems.zhang2024.hypotheses import brute_force_posterior, rank_statement
from theorems.zhang2024.probing import PAPER, SEEDS, STATISTIC, TAG

CELLS, POINTS = "rect", "rect_points"  # the two runs of a seed (runs.FAMILIES)
# The 784-way probe: one penalty and L-BFGS capped at 200 iterations (its cost: 784 outputs);
# every source gets the same probe, so the ceiling and the baselines are fitted alike.
POSTERIOR_PROBE = {"alphas": (1e-3,), "maxiter": 200}
# The box probe: the authors' MLP probe width (spec 3.2: 128 -> 128 -> out; their wider
# hypothesis probe costs more than the default run affords), one penalty; Adam stops once the
# training loss has not improved by 1e-4 for 10 epochs (the probe's defaults, 1e-6 over 50
# epochs, run to their iteration cap on these targets).
BOX_PROBE = {"hidden": (128,), "alphas": (1e-3,), "tol": 1e-4, "patience": 10}
HEATMAP_ROWS = 4  # test sequences drawn in 24b's figure
CHECK_ROWS = 64  # probe rows (evenly spaced) whose targets the reference re-derives
CORRUPT_ROWS = 60  # sequences of the planted-error data of corrupt(): drawn, never trained on


# --- the bounding box and its implied posterior (24c) -----------------------------------------

def cell_box(game: RectangleGame, box) -> np.ndarray:
    """The cells of a bounding box ``(min x1, max x1, min x2, max x2)`` as four cell indices
    in ``[0, size - 2]`` (float64), with :func:`runs.cell_tokens`'s convention: a coordinate
    on a grid line (probability 0) is in the cell above it, the grid's last line in the last
    cell. On the easy grid (axis 0, 1, ..., 7) cell indices pass through unchanged."""
    box = game.boxes(box)
    last = len(game.axis) - 2
    return np.clip(np.searchsorted(game.axis, box, side="right") - 1, 0, last).astype(np.float64)


def implied_posterior(game: RectangleGame, n: int, predicted) -> np.ndarray:
    """The exact posterior (S, H) implied by predicted cell-index boxes (S, 4): each index
    rounded to the nearest integer and clipped to ``[0, size - 2]``, each axis's pair put in
    order (low, high), and the posterior of ``n`` points whose cells span that box (computed
    from the box of the cells' midpoints: on a grid whose rectangles are unions of cells the
    posterior depends on the points only through their cells)."""
    pred = np.asarray(predicted, dtype=np.float64)
    if pred.ndim != 2 or pred.shape[1] != 4:
        raise InputError(f"predicted boxes must have shape (S, 4); got {pred.shape}")
    if not np.isfinite(pred).all():
        raise InputError("predicted boxes hold NaN or infinite entries")
    idx = np.clip(np.rint(pred), 0, len(game.axis) - 2).astype(np.int64)
    idx = np.column_stack([np.minimum(idx[:, 0], idx[:, 1]), np.maximum(idx[:, 0], idx[:, 1]),
                           np.minimum(idx[:, 2], idx[:, 3]), np.maximum(idx[:, 2], idx[:, 3])])
    axis = np.asarray(game.axis)
    mid = (axis[:-1] + axis[1:]) / 2
    return np.exp(game.log_posterior_from_box(n, mid[idx]))


def map_agreement(posterior, exact) -> float:
    """The fraction of rows whose argmax (MAP hypothesis) is the exact posterior's."""
    return float(np.mean(np.argmax(posterior, 1) == np.argmax(exact, 1)))


# --- probes -----------------------------------------------------------------------------------

def posterior_probe(r: runs.Run, source: str = "trained"):
    """The 784-way softmax probe from ``source`` to the exact posterior (memoised on the run)."""
    return probing.fit(r, "softmax", "posterior", r.targets()["posterior"], source,
                       **POSTERIOR_PROBE)


def cells_probe(r: runs.Run, source: str = "trained"):
    """The 49-way softmax probe from ``source`` to the exact cell masses."""
    return probing.fit(r, "softmax", "cells", r.targets()["cells"], source)


def box_probe(r: runs.Run, source: str = "trained"):
    """The MLP from ``source`` to the bounding box's cell indices, and its implied
    posterior's MAP agreement on the test rows."""
    g, T = r.latent["id"]["model"], r.targets()
    cb = r.memo("cell box", lambda: cell_box(g, T["box"]))
    res = probing.fit(r, "mlp", "cell box", cb, source, **BOX_PROBE)
    n = r.inputs["id"].shape[1]
    agreement = r.memo(("implied MAP agreement", source), lambda: map_agreement(
        implied_posterior(g, n, res.predictions), T["posterior"][r.split.test]))
    return res, agreement


def _l1(res) -> float:
    return 2.0 * float(res.scores["tv"])  # the probe reports TV = 1/2 L1


def _cells_scores(res) -> dict:
    return {"kl": round(float(res.scores["kl"]), 4), "l1": round(_l1(res), 4),
            "sq_l2": round(float(res.scores["sq_l2"]), 4)}


def _spread(r: runs.Run) -> list:
    maxp = r.targets()["posterior"][r.split.test].max(1)
    return [round(float(maxp.mean()), 4), round(float(maxp.std()), 4)]


# --- the claims' measurements -----------------------------------------------------------------

def measure_mean(seed: int) -> Measurement:
    """24a: the MSE model's predictive mean, by ridge."""
    r = runs.run(POINTS, seed)
    Y = r.targets()["mean"]
    res = probing.fit(r, "ridge", "mean", Y)
    return Measurement({"r2": float(res.scores["r2"])}, {
        **r.details, "mean R^2 per coordinate": [round(float(v), 4) for v in res.per_target["r2"]],
        **probing.baseline_details(r, "ridge", "mean", Y)})


def measure_cells(seed: int) -> Measurement:
    """24b: the cross-entropy model's 49 cell masses, and its posterior reconstruction
    against the ceiling's."""
    r = runs.run(CELLS, seed)
    cells = cells_probe(r)
    emb, ceiling = posterior_probe(r), posterior_probe(r, "statistic")
    acc, top = float(emb.scores["accuracy"]), float(ceiling.scores["accuracy"])
    ratio = acc / top if top > 0 else float("nan")
    details = {**r.details, "max posterior (mean, std) on test rows": _spread(r),
               "posterior reconstruction MAP agreement from the embedding, from the log cell "
               "masses": [round(acc, 4), round(top, 4)],
               **{f"cell masses from {s} (KL, L1, sq-L2)":
                  list(_cells_scores(cells_probe(r, s)).values()) for s in probing.SOURCES}}
    te = r.split.test[:HEATMAP_ROWS]
    curves = {"exact": r.targets()["cells"][te], "probe": cells.predictions[:HEATMAP_ROWS],
              "tokens": r.inputs["id"][te], "size": len(r.latent["id"]["model"].axis) - 1}
    return Measurement({"cells_kl": float(cells.scores["kl"]), "cells_l1": _l1(cells),
                        "reconstruction_ratio": ratio}, details, curves=curves,
                       inconclusive="" if top > 0 else
                       "the ceiling's posterior reconstruction agrees with no MAP")


def measure_box(seed: int) -> Measurement:
    """24c: the bounding box from either model's embedding, by MLP, through its implied
    posterior."""
    values, details = {}, {}
    for family in (CELLS, POINTS):
        r = runs.run(family, seed)
        details[f"{family}: run"] = r.details
        for s in probing.SOURCES:
            res, agreement = box_probe(r, s)
            details[f"{family}: box from {s} (R^2, implied-posterior MAP agreement)"] = [
                round(float(res.scores["r2"]), 4), round(agreement, 4)]
            if s == "trained":
                values[f"map_{family}"] = agreement
    return Measurement(values, details)


def measure_posterior(seed: int) -> Measurement:
    """24r: the 784-way posterior probe of the cross-entropy model on its own."""
    r = runs.run(CELLS, seed)
    g, post, te = r.latent["id"]["model"], r.targets()["posterior"], r.split.test
    res = posterior_probe(r)
    details = {**r.details, "max posterior (mean, std) on test rows": _spread(r),
               **{f"posterior from {s}": probing.scores(posterior_probe(r, s),
                                                        ("accuracy", "kl", "sq_l2"))
                  for s in probing.SOURCES}}
    H = r.embedding()[te]
    H = H - H.mean(0)
    xy = H @ np.linalg.svd(H, full_matrices=False)[2][:2].T
    axis = np.asarray(g.axis)
    box = g.index[post[te].argmax(1)]
    lo, hi = axis[box[:, [0, 2]]], axis[box[:, [1, 3]]]
    colourings = [("MAP centre x", (lo[:, 0] + hi[:, 0]) / 2),
                  ("MAP centre y", (lo[:, 1] + hi[:, 1]) / 2), ("MAP height", hi[:, 1] - lo[:, 1])]
    return Measurement({"map_accuracy": float(res.scores["accuracy"]),
                        "kl": float(res.scores["kl"])}, details,
                       curves={"xy": xy, "colourings": colourings})


# --- figures ----------------------------------------------------------------------------------

def cells_figure(evidence, folder) -> list:
    """Per seed: for a few test sequences, the exact 7 x 7 cell masses beside the probe's,
    with the cells the sequence observed marked."""
    paths = []
    for seed, m in zip(evidence.seeds, evidence.per_seed):
        if not m.curves:
            continue
        size, panels, marks = m.curves["size"], [], []
        for i, (exact, probe, tokens) in enumerate(zip(m.curves["exact"], m.curves["probe"],
                                                       m.curves["tokens"])):
            seen = np.column_stack([tokens // size, tokens % size])  # (cx, cy) per point
            # cell c = cx * size + cy: reshape to [cx, cy], transpose so x runs across
            panels += [(f"sequence {i}: exact", exact.reshape(size, size).T),
                       (f"sequence {i}: probe", probe.reshape(size, size).T)]
            marks += [seen, seen]
        paths.append(figures.heatmaps(
            folder / f"zhang2024_claim24b_cell_masses_seed{seed}.png", panels, marks=marks,
            ncols=2, xlabel="x cell", ylabel="y cell",
            title=f"Rectangle game (grid tokens): one-step cell masses, seed {seed}"))
    return paths


def pca_figure(evidence, folder) -> list:
    return [figures.scatters(folder / f"zhang2024_claim24r_hypothesis_pca_seed{seed}.png",
                             m.curves["xy"], m.curves["colourings"],
                             title=f"Rectangle game (grid tokens): PCA of last-position "
                                   f"embeddings, seed {seed}")
            for seed, m in zip(evidence.seeds, evidence.per_seed) if m.curves]


# --- the theorem ------------------------------------------------------------------------------

def check_rows(n: int) -> np.ndarray:
    """At most CHECK_ROWS row indices, evenly spaced over ``n`` rows."""
    return np.unique(np.linspace(0, n - 1, min(CHECK_ROWS, n)).astype(int))


@dataclass(frozen=True)
class PosteriorTargets:
    """The rectangle reference's data apart from any trained model: the ``game``, the probe
    points ``x`` (S, T, 2) and the hypothesis posteriors (S, 784) the targets come from."""

    game: Any
    x: np.ndarray
    posterior: np.ndarray


class HypothesisEncoding(Theorem):
    """Transformers trained on rectangle-game points embed what their loss guarantees of the
    hypothesis posterior."""

    paper = "zhang2024"
    slug = "hypothesis_encoding"
    title = ("Trained transformers encode what next-token training guarantees of the rectangle "
             "posterior")
    citation = "Zhang et al. 2024, arXiv 2406.03707; spec embeddings_embed 3.5, 6.3, claims 24a-24r"
    trains = True  # the shared transformer runs (theorems.zhang2024.runs)

    def statement(self):
        return rank_statement()

    def example(self, seed: int = 0):
        return seed

    def reference(self, instance):
        """The exact posterior's cell masses (the probes' targets), with the posterior
        checked on CHECK_ROWS rows against the per-point likelihood product
        (:func:`~theorems.zhang2024.hypotheses.brute_force_posterior`). ``instance`` is a
        seed (the ``rect`` run's probe data; trains it once) or a :class:`PosteriorTargets`,
        possibly with a planted candidate posterior."""
        data, post = self.unwrap(instance)
        if not isinstance(data, PosteriorTargets):
            r = runs.run(CELLS, data)
            data = PosteriorTargets(r.latent["id"]["model"], r.latent["id"]["x"],
                                    r.targets()["posterior"])
        post = data.posterior if post is None else np.asarray(post, dtype=np.float64)
        residual = max(float(np.abs(post[i] - brute_force_posterior(data.game, data.x[i])).max())
                       for i in check_rows(len(data.x)))
        return SolveResult(value=data.game.cell_masses(post), residual=residual,
                           tol=POSTERIOR_EXACT, why="per-point likelihood product vs the "
                           "bounding-box oracle, float64: rounding only")

    def corrupt(self, instance):
        """The posterior after the first T - 1 points (one point off), on fresh sequences
        of the easy game (no training)."""
        game = RectangleGame.easy()
        _, x = game.sample(CORRUPT_ROWS, runs.current_scale().rect_length, streams(instance).data)
        return self.Corrupted(PosteriorTargets(game, x, game.posterior(x)),
                              game.posterior(x[:, :-1]), planted="the posterior of x_1..x_{T-1}")

    def simulate(self, instance, seed: int = 0) -> dict:
        p = cells_probe(runs.run(CELLS, instance))
        return {"cells_kl": float(p.scores["kl"]), "cells_l1": _l1(p)}

    def compare(self, instance, seed: int = 0) -> dict:
        """KL of the trained embedding's cell-mass probe above the untrained control's
        (0 when training helps)."""
        r = runs.run(CELLS, instance)
        return {"trained_minus_untrained_cells_kl": max(
            0.0, cells_probe(r).scores["kl"] - cells_probe(r, "untrained").scores["kl"])}

    def claims(self) -> tuple[Claim, ...]:
        pid, scale = self.id, runs.current_scale()
        # Expectations by scale: the CPU scale refutes 24b, 24c and 24r (kept as findings,
        # expect "fail"); the spec leaves the authors' size open, so the paper tier re-judges
        # every statement as proposed (expect "pass"), since the findings may be the small,
        # briefly trained models'. 24a is expected to hold at both.
        refuted = (lambda reason: {}) if scale.name == "paper" else (
            lambda reason: {"expect": "fail", "expect_reason": reason})
        cells, points = (runs.FAMILIES[f].describe(scale) for f in (CELLS, POINTS))
        base = ("Reported beside it: the same probe from the untrained network, from the exact "
                "statistic (the log cell masses) and from the current token alone.")
        # budgets: the probes' cost over the three seeds, beyond the runs' shared training
        common = dict(paper=PAPER, kind="simulation", seeds=SEEDS, statistic=STATISTIC)
        return (
            Claim(id=f"{pid}.predictive_mean", spec="embeddings_embed:24a",
                  reference="spec 1.4 Remark S, 3.5, 6.3 claim 24a", **common,
                  budget_s=3.0, measure=measure_mean, prepare=probing.needs(POINTS),
                  statement=f"{TAG} {points}: a ridge probe from the last-position embedding "
                  "recovers the predictive mean E[x_{T+1} | x_{1:T}] (2-D; the MSE optimum, "
                  f"Remark S) with test R^2 >= 0.9. {base}",
                  criteria=(Threshold("r2", 0.9, upper=False, why="spec 6.3 claim 24a"),)),
            Claim(id=f"{pid}.cell_masses", spec="embeddings_embed:24b",
                  reference="spec 1.4 Remark R, 5 item 3, 6.3 claim 24b", **common,
                  budget_s=30.0, measure=measure_cells, figure=cells_figure,
                  prepare=probing.needs(CELLS),
                  statement=f"{TAG} {cells}: a linear softmax probe from the last-position "
                  "embedding recovers the 49 one-step cell masses (the cross-entropy optimum, "
                  "Remark R) with KL(target || probe) <= 0.1 nats and L1 <= 0.2; and its "
                  "posterior reconstruction (the 784-way linear softmax probe from the "
                  "embedding, scored by MAP agreement with the exact posterior) reaches >= 0.9x "
                  "the MAP agreement of the same probe from the exact log cell masses (the "
                  f"theory's ceiling). {base}",
                  criteria=(Threshold("cells_kl", 0.1, why="spec 6.3 claim 24b"),
                            Threshold("cells_l1", 0.2, why="spec 6.3 claim 24b"),
                            Threshold("reconstruction_ratio", 0.9, upper=False,
                                      why="spec 6.3 claim 24b: the embedding may hold no more "
                                      "than the cell masses, and should hold nearly all of it")),
                  **refuted(
                      "the CPU-scale model is not at the cross-entropy optimum Remark R is about: "
                      "its embedding's cell-mass probe is far better than the untrained "
                      "control's and the current token's but far short of the exact log cell "
                      "masses, from which the same probe reproduces the cell masses almost "
                      "exactly; the KL and L1 criteria fail by a wide margin, while the "
                      "reconstruction ratio sits near its bound")),
            Claim(id=f"{pid}.bounding_box", spec="embeddings_embed:24c",
                  reference="spec 2.3, 6.3 claim 24c", **common,
                  budget_s=25.0, measure=measure_box, prepare=probing.needs(CELLS, POINTS),
                  statement=f"{TAG} Both models, {cells}; and {points}: an MLP probe from the "
                  "last-position embedding of each recovers the bounding box (as four cell "
                  "indices; with n the posterior's sufficient statistic) so that the implied "
                  "posterior (the exact posterior of n points spanning the predicted box, each "
                  "index rounded to the nearest cell and clipped to the grid) agrees with the "
                  f"exact posterior's MAP on >= 0.8 of the test sequences, for each model. {base}",
                  criteria=tuple(Threshold(f"map_{f}", 0.8, upper=False, why="spec 6.3 claim 24c")
                                 for f in (CELLS, POINTS)),
                  **refuted(
                      "at the CPU scale both embeddings hold the box only approximately: the probe "
                      "reads each edge closely (its R^2 near the ceiling's) but not to the exact "
                      "cell often enough for all four edges to be right at once on the proposed "
                      "share of test sequences, while the same probe from the exact log cell "
                      "masses recovers the box almost always")),
            Claim(id=f"{pid}.posterior_probe", spec="embeddings_embed:24r",
                  reference="spec 3.5, 4 claim 24, 5 items 2, 3, 5, 6.3 claim 24r", **common,
                  budget_s=25.0, measure=measure_posterior, figure=pca_figure,
                  prepare=probing.needs(CELLS),
                  statement=f"{TAG} {cells}: a linear softmax probe from the last-position "
                  "embedding to the 784-way posterior attains MAP agreement >= 0.8 and "
                  "KL(target || probe) <= 0.5 nats (the section 4 statement; T in spec 5.5's "
                  "range keeps the posterior spread, whose max's mean and spread are reported). "
                  f"{base}",
                  criteria=(Threshold("map_accuracy", 0.8, upper=False, why="spec claim 24"),
                            Threshold("kl", 0.5, why="spec claim 24")),
                  **refuted(
                      "Remark R predicts the shortfall: next-token training guarantees only the "
                      "49 cell masses (rank 49 < 784, claim 23b), and the same probe from the "
                      "exact log cell masses, which a cross-entropy optimum holds linearly, "
                      "falls short of the thresholds as well (spec 6.3)")),
        )

    def negative_controls(self) -> dict:
        def shuffled_cells() -> bool:  # 24b's KL rises when the targets are permuted
            r = runs.run(CELLS, 0)
            cells = r.targets()["cells"]
            perm = streams(0).data.permutation(len(cells))
            res = probing.fit(r, "softmax", "cells shuffled", cells[perm])
            return res.scores["kl"] > cells_probe(r).scores["kl"]

        def boxes_of_other_sequences() -> bool:  # 24c fails for the exact boxes, misassigned
            r = runs.run(CELLS, 0)
            g, T, te = r.latent["id"]["model"], r.targets(), r.split.test
            n, post, cb = r.inputs["id"].shape[1], T["posterior"][te], cell_box(g, T["box"][te])
            exact = np.abs(implied_posterior(g, n, cb) - post).max() <= POSTERIOR_EXACT
            wrong = cb[streams(1).data.permutation(len(te))]
            return bool(exact) and map_agreement(implied_posterior(g, n, wrong), post) < 0.8

        return {"cell-mass targets shuffled across sequences": shuffled_cells,
                "bounding boxes assigned to other sequences": boxes_of_other_sequences}
