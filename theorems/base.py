"""The contract every theorem meets: Theorem, Claim, Measurement, Evidence.

A **theorem** module states a result three ways: ``statement()`` (sympy, decided exactly
where the maths allows), ``reference(instance)`` (a certified convex solution) and
``simulate(instance, seed)`` (what training does, through :mod:`sim`), plus
``compare(instance, seed)`` that measures how far the witnesses agree. It declares its
**claims**: each claim is one checkable sentence with a spec key, a criterion per measured
statistic (a :class:`~theorems.tolerances.Threshold` with its reason), declared seeds and
an expected cost. ``Claim.check(seeds)`` runs the measurement for every seed and returns
:class:`Evidence`: what was measured, what was required, and a verdict.

Verdicts: ``pass`` (every criterion holds under the claim's statistic), ``fail`` (some
criterion is violated), ``inconclusive`` (a measurement could not decide, e.g. a run did
not reach the regime the claim is about; reported, never counted as a pass). A measurement
that raises is neither: it is an error, and the plugin reports it as one.

Expectations: a claim declares ``expect="pass"`` (the default: the statement is believed to
hold) or ``expect="fail"`` (a proposed statement the evidence refutes, kept as a first-class
result, with ``expect_reason`` saying why). :meth:`Evidence.assert_ok` passes exactly when
the verdict is the expected one, so a refutation that starts to hold fails the check and the
statement must be re-examined; an inconclusive verdict never meets either expectation.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from theorems.tolerances import Threshold

VERDICTS = ("pass", "fail", "inconclusive")
EXPECTATIONS = ("pass", "fail")
KINDS = ("symbolic", "reference", "simulation", "control")
STATISTICS = ("worst", "median", "mean_bound")
CONFIDENCE = 0.95  # one-sided level of the "mean_bound" statistic
# A refutation rests on at least this many seeds: one seed (or the worst of several) could
# refute a statement on a single unlucky draw (spec embeddings_embed 6.1)
MIN_REFUTATION_SEEDS = 3


@dataclass(frozen=True)
class Measurement:
    """What one seed of a claim measured.

    ``values`` maps statistic names (those the claim's criteria name) to floats;
    ``details`` holds anything else worth reporting (sizes, step counts); a non-empty
    ``inconclusive`` says why this seed cannot decide the claim.
    """

    values: Mapping[str, float]
    details: Mapping[str, Any] = field(default_factory=dict)
    inconclusive: str = ""
    curves: Mapping[str, Any] = field(default_factory=dict)  # arrays for figures, not the report


@dataclass(frozen=True)
class SolveResult:
    """A reference with the residual of its independent check and the tolerance that
    residual is held to (with its reason); ``status`` says whether the solve succeeded."""

    value: Any
    residual: float
    status: str = "optimal"
    tol: float = 1e-8
    why: str = "float64 solves and closed forms are exact to rounding; KKT_RESIDUAL's 1e-8"


class ClaimFailed(AssertionError):
    """Raised by :meth:`Evidence.assert_ok`; its message reads like the claim, not a traceback."""


@dataclass(frozen=True)
class Evidence:
    """The outcome of checking one claim over a set of seeds."""

    claim: "Claim"
    seeds: tuple[int, ...]
    measured: dict[str, float]  # aggregated value per criterion statistic
    per_seed: tuple[Measurement, ...]
    verdict: str
    failing: tuple[str, ...]  # the criteria that failed (statistic names)
    seconds: float
    note: str = ""
    figures: tuple[str, ...] = ()  # PNG paths drawn by the claim's figure, if any
    reproduce: str = ""  # the exact command that re-runs this check (set by the plugin)

    @property
    def required(self) -> dict[str, str]:
        return {c.statistic: c.describe() for c in self.claim.criteria}

    def summary(self) -> str:
        """One line: measured vs required per criterion."""
        parts = []
        for c in self.claim.criteria:
            v = self.measured.get(c.statistic, float("nan"))
            parts.append(f"{c.statistic} = {v:.3g} (required {c.describe()})")
        return "; ".join(parts)

    def default_reproduce(self) -> str:
        seeds = ", ".join(map(str, self.seeds)) + ("," if len(self.seeds) == 1 else "")
        return (f"python -c \"from theorems import get_claim; "
                f"get_claim('{self.claim.id}').check(({seeds})).assert_ok()\"")

    @property
    def as_expected(self) -> bool:
        """Whether the verdict is the claim's expectation (``pass``, or ``fail`` for a
        refutation); inconclusive never is."""
        return self.verdict == self.claim.expect

    def assert_ok(self) -> None:
        """Raise :class:`ClaimFailed` with a readable message unless the verdict is the one
        the claim expects (``pass``; ``fail`` for a claim kept as a refutation)."""
        if self.as_expected:
            return
        c = self.claim
        lines = [f"claim {c.id} [{c.spec}] is {self.verdict.upper()}: {c.statement}"]
        if c.expect == "fail":
            lines[0] = (f"claim {c.id} [{c.spec}] was expected to be refuted but is "
                        f"{self.verdict.upper()}: {c.statement}")
            lines.append(f"  expected refutation because: {c.expect_reason}")
            if self.verdict == "pass":
                lines.append("  the statement now holds: re-examine it, then declare "
                             "expect='pass' (or restate it)")
        lines += [
                 f"  reference: {c.paper}, {c.reference}",
                 f"  statistic: {self.claim.statistic} over seeds {list(self.seeds)}"]
        for crit in c.criteria:
            v = self.measured.get(crit.statistic, float("nan"))
            mark = "FAILS" if crit.statistic in self.failing else "holds"
            lines.append(f"  {mark}: {crit.statistic} = {v:.6g}, required {crit.describe()} "
                         f"(why: {crit.why})")
        for seed, m in zip(self.seeds, self.per_seed):
            vals = ", ".join(f"{k}={v:.4g}" for k, v in m.values.items())
            extra = f" inconclusive: {m.inconclusive}" if m.inconclusive else ""
            lines.append(f"  seed {seed}: {vals}{extra}")
        if self.note:
            lines.append(f"  note: {self.note}")
        lines.append(f"  reproduce: {self.reproduce or self.default_reproduce()}")
        raise ClaimFailed("\n".join(lines))


@dataclass(frozen=True)
class Claim:
    """One checkable sentence of a paper (or of a spec's formalisation of it).

    Parameters
    ----------
    id : str
        ``<paper>.<theorem slug>.<aspect>``; pytest ids derive from it.
    spec : str
        The key of the claim in the specification (e.g. ``gd:G1``, ``linear_origins:7``).
    paper, reference : str
        The paper, and where in it (or in the spec) the claim comes from.
    statement : str
        One sentence, saying whether it is the paper's claim or a formalisation.
    kind : {"symbolic", "reference", "simulation", "control"}
        The witness the claim rests on; ``control`` marks a negative control.
    measure : callable
        ``measure(seed) -> Measurement``.
    criteria : tuple of Threshold
        One per measured statistic; each carries its reason.
    seeds : tuple of int
        The declared seeds; the default run checks all of them.
    figure : callable, optional
        ``figure(evidence, folder) -> [paths]`` draws the paper-figure mirror of the claim
        from the seeds' ``curves`` into the report folder.
    statistic : {"worst", "median", "mean_bound"}
        How per-seed values are combined: the worst seed must pass; the median; or a
        one-sided 95% Student-t confidence bound on the mean (the upper bound for a "<="
        criterion, the lower bound for ">="), which needs at least two seeds.
    budget_s : float
        Expected CPU seconds for all declared seeds on 2 cores.
    expect : {"pass", "fail"}
        ``"fail"`` keeps a proposed statement that the evidence refutes as a claim: its
        check succeeds when the verdict is ``fail`` and fails when the statement starts to
        hold. It must be judged over at least three seeds with the median or a confidence
        bound (never one seed or the worst seed, which would refute on one unlucky draw).
    expect_reason : str
        Required with ``expect="fail"``: why the statement is expected to be refuted (a
        finding, stated without measured numbers; those are in the evidence).
    prepare : callable, optional
        ``prepare(seeds)`` starts, in the background, the expensive work that
        ``measure`` will need for those seeds (say, training the networks it probes), so
        that a run can overlap it with other claims. It must not change any result: a
        claim measured without ``prepare`` gives the same evidence. The plugin calls it
        for every selected claim before the first claim runs.
    """

    id: str
    spec: str
    paper: str
    reference: str
    statement: str
    kind: str
    measure: Callable[[int], Measurement]
    criteria: tuple[Threshold, ...]
    seeds: tuple[int, ...] = (0,)
    statistic: str = "worst"
    budget_s: float = 1.0
    expect: str = "pass"
    expect_reason: str = ""
    figure: Callable[["Evidence", Any], list] | None = None  # (evidence, folder) -> PNG paths
    prepare: Callable[[tuple[int, ...]], None] | None = None  # seeds -> None (background work)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id}: kind must be one of {KINDS}")
        if self.statistic not in STATISTICS:
            raise ValueError(f"claim {self.id}: statistic must be one of {STATISTICS}")
        if not self.criteria:
            raise ValueError(f"claim {self.id} has no criterion: it could never fail")
        if not self.seeds:
            raise ValueError(f"claim {self.id} declares no seeds")
        names = [c.statistic for c in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError(f"claim {self.id} has two criteria on one statistic")
        if self.expect not in EXPECTATIONS:
            raise ValueError(f"claim {self.id}: expect must be one of {EXPECTATIONS}; "
                             f"got {self.expect!r}")
        if self.expect == "fail":
            if not self.expect_reason.strip():
                raise ValueError(f"claim {self.id} expects a refutation but gives no "
                                 "expect_reason")
            if len(self.seeds) < MIN_REFUTATION_SEEDS or self.statistic == "worst":
                raise ValueError(
                    f"claim {self.id} expects a refutation: judge it over at least "
                    f"{MIN_REFUTATION_SEEDS} seeds with the median or mean_bound statistic "
                    f"(got {len(self.seeds)} seed(s), statistic {self.statistic!r})")
        elif self.expect_reason:
            raise ValueError(f"claim {self.id}: expect_reason is only for expect='fail'")

    def check(self, seeds: tuple[int, ...] | None = None) -> Evidence:
        """Measure every seed, aggregate with the claim's statistic, and decide."""
        seeds = tuple(self.seeds if seeds is None else seeds)
        start = time.perf_counter()
        per_seed = tuple(self.measure(s) for s in seeds)
        return self.judge(seeds, per_seed, start)

    def judge(self, seeds: tuple[int, ...], per_seed: tuple[Measurement, ...],
              start: float) -> Evidence:
        """Aggregate the seeds' measurements with the claim's statistic, and decide (what
        :meth:`check` does once it has measured; also used when the seeds were measured
        elsewhere, e.g. on a Dask cluster). ``start`` is the ``time.perf_counter()`` at
        which measuring began."""
        measured, failing = {}, []
        undecided = [m.inconclusive for m in per_seed if m.inconclusive]
        for crit in self.criteria:
            vals = [m.values[crit.statistic] for m in per_seed if crit.statistic in m.values]
            if len(vals) != len(per_seed):
                raise KeyError(f"claim {self.id}: a seed did not measure {crit.statistic!r}")
            measured[crit.statistic] = aggregate(vals, self.statistic, crit.upper)
            if undecided and np.isnan(measured[crit.statistic]):
                # Seeds that said why they could not measure this are left out; the claim is
                # then at best inconclusive, and the seeds that did measure can still fail it.
                decided = [v for v, m in zip(vals, per_seed) if not (m.inconclusive and np.isnan(v))]
                if not decided:
                    continue
                if not crit.accepts(aggregate(decided, self.statistic, crit.upper)):
                    failing.append(crit.statistic)
                continue
            if not crit.accepts(measured[crit.statistic]):
                failing.append(crit.statistic)
        verdict = "fail" if failing else ("inconclusive" if undecided else "pass")
        return Evidence(claim=self, seeds=seeds, measured=measured, per_seed=per_seed,
                        verdict=verdict, failing=tuple(failing),
                        seconds=time.perf_counter() - start,
                        note="; ".join(dict.fromkeys(undecided)))


def paired_z(differences) -> float:
    """One-sample z of per-item paired differences: mean / (sd / sqrt(n)); 0 when every
    difference is 0, and +-inf when they are all equal and non-zero."""
    d = np.asarray(differences, dtype=np.float64).ravel()
    if d.size < 2:
        raise ValueError(f"a paired z needs at least 2 differences; got {d.size}")
    sd = d.std(ddof=1)
    if sd == 0:
        return 0.0 if d.mean() == 0 else float(np.sign(d.mean()) * np.inf)
    return float(d.mean() / (sd / np.sqrt(d.size)))


def aggregate(values, statistic: str, upper: bool) -> float:
    """Combine per-seed values with a claim's statistic.

    Parameters
    ----------
    values : sequence of float
        One value per seed.
    statistic : {"worst", "median", "mean_bound"}
        ``worst``: the largest value for an upper bound (``upper``), the smallest otherwise;
        ``median``; ``mean_bound``: the one-sided ``CONFIDENCE`` Student-t bound on the mean
        (upper for an upper bound), infinitely loose with one value.
    upper : bool
        Whether the criterion is an upper bound (``<=``).

    Returns
    -------
    float
        The aggregate; NaN when any value is NaN (nothing is silently dropped).
    """
    arr = np.asarray(values, dtype=np.float64)
    if np.isnan(arr).any():
        return float("nan")  # NaN fails every criterion: nothing is silently dropped
    if statistic == "median":
        return float(np.median(arr))
    if statistic == "mean_bound":
        if arr.size < 2:
            return float("inf") if upper else float("-inf")  # one seed bounds nothing
        from scipy import stats
        half = stats.t.ppf(CONFIDENCE, arr.size - 1) * arr.std(ddof=1) / np.sqrt(arr.size)
        return float(arr.mean() + half if upper else arr.mean() - half)
    return float(arr.max() if upper else arr.min())


class Theorem(abc.ABC):
    """A theorem stated three ways, with its claims; subclass once per theorem module.

    Class attributes: ``paper`` (paper key, e.g. ``soudry2018``), ``slug``, ``title``,
    ``citation`` (paper, version, theorem/equation where known).

    Every witness must be able to fail: :meth:`corrupt` returns a wrong input that
    :meth:`reference` must reject, and the contract test checks that it does.
    """

    paper: ClassVar[str]
    slug: ClassVar[str]
    title: ClassVar[str]
    citation: ClassVar[str]
    # True when example(), reference(), simulate() or compare() train a model that takes
    # minutes (the shared transformer runs): the contract test then runs those parts only
    # with --runslow; corrupt() (never trained) and the negative controls always run.
    trains: ClassVar[bool] = False

    @dataclass(frozen=True)
    class Corrupted:
        """``instance`` with a wrong answer planted in it: :meth:`Theorem.reference` checks
        ``candidate`` in place of the solution it would compute, with the same independent
        check. ``planted`` says in one phrase what is wrong with the candidate."""

        instance: Any
        candidate: Any
        planted: str

    @staticmethod
    def unwrap(instance: Any) -> tuple[Any, Any]:
        """``(instance, candidate)``: the planted candidate of a :class:`Corrupted`
        instance, or ``None`` for a plain one (the reference then computes its own)."""
        if isinstance(instance, Theorem.Corrupted):
            return instance.instance, instance.candidate
        return instance, None

    @property
    def id(self) -> str:
        return f"{self.paper}.{self.slug}"

    @abc.abstractmethod
    def statement(self) -> Any:
        """The symbolic statement; returns a :class:`theorems._symbolic.Decision`."""

    @abc.abstractmethod
    def example(self, seed: int = 0) -> Any:
        """A default instance of the theorem's assumptions, drawn from ``seed``."""

    @abc.abstractmethod
    def reference(self, instance: Any) -> Any:
        """The certified convex-reference solution for ``instance``."""

    @abc.abstractmethod
    def simulate(self, instance: Any, seed: int = 0) -> Any:
        """The simulation's outcome for ``instance`` (summary statistics, not raw tensors)."""

    @abc.abstractmethod
    def compare(self, instance: Any, seed: int = 0) -> Mapping[str, float]:
        """How far the witnesses agree on ``instance``: named gaps (0 = perfect agreement)."""

    @abc.abstractmethod
    def claims(self) -> tuple[Claim, ...]:
        """The theorem's checkable claims."""

    def search_space(self):
        """``(strategy, build)``: a Hypothesis strategy of JSON-ready parameter dicts and a
        function turning one into an instance for :meth:`compare`. The counterexample
        search (``python -m theorems search``) maximises the largest gap over it.

        The default searches over seeds of :meth:`example`; override it to search over the
        assumptions' real parameters (sizes, priors, dimensions).
        """
        from hypothesis import strategies as st
        return (st.fixed_dictionaries({"seed": st.integers(0, 2**31 - 1)}),
                lambda p: self.example(p["seed"]))

    @abc.abstractmethod
    def negative_controls(self) -> Mapping[str, Callable[[], bool]]:
        """Named checks run on inputs that break one assumption each.

        Each callable returns True when the theorem's check correctly *fails* (or refuses)
        on the broken input; the contract test runs them all, so every theorem proves its
        checks can fail. The name says which assumption is broken.
        """

    def corrupt(self, instance: Any) -> Any:
        """A wrong input that :meth:`reference` must reject, made from ``instance``.

        Either a :class:`Corrupted` (``instance`` with a wrong answer planted: a closed form
        with a known mistake, the released code's bug, targets one token off) or data that
        break the identity the reference certifies. ``reference(corrupt(x))`` must report a
        residual above its tolerance (for the max-margin layer: KKT residuals above
        KKT_RESIDUAL, or its certified refusal, NotSeparableError): a residual that is zero
        whatever the input is a witness that cannot fail. It must be cheap (no training):
        the contract test runs it for every theorem in the default suite.
        """
        raise NotImplementedError(
            f"{self.id}: corrupt() is not written yet; return a wrong input (e.g. "
            "Theorem.Corrupted(instance, wrong_candidate, planted='what is wrong')) that "
            "reference() must reject")
