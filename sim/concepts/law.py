"""The latent binary-concept model of next-token prediction (Jiang et al. 2024, spec 1.2-1.3).

Concepts C in {0,1}^m with a positive joint law; a context fixes some concepts (its ternary
code s in {-1, 0, +1}^m: -1 for C_i = 0, +1 for C_i = 1, 0 for unknown); a next token is a
full concept vector. The true next-token law is p(y | x) = p(c(y) | C_S(x) = kappa(x)),
computed exactly by enumeration (m <= MAX_EXACT_M).

Indexing: concept vectors are the rows of :func:`concept_vectors`, in binary order with
C_1 the most significant bit, so token y of the full vocabulary has index sum_i c_i 2^(m-i).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim import errors
from sim.errors import InputError

MAX_EXACT_M = 8  # 3^8 contexts x 2^8 tokens = 1.7M table entries, the exact-enumeration limit
JOINT_SUM_TOL = 1e-12  # |sum p - 1| allowed for a joint table (float64 products are exact to ~1e-15)


def _check_m(m) -> int:
    m = errors.positive_int("m", m)
    if m > MAX_EXACT_M:
        raise InputError(
            f"m = {m} concepts exceeds the exact-enumeration limit of {MAX_EXACT_M} "
            f"(3^m contexts x 2^m tokens); sample (context, token) minibatches from the "
            "law instead of building the exact table")
    return m


def concept_vectors(m: int) -> np.ndarray:
    """All 2^m concept vectors, (2^m, m) in {0, 1}, binary order (C_1 most significant)."""
    m = _check_m(m)
    return np.array(list(itertools.product((0, 1), repeat=m)), dtype=np.int64)


@dataclass(frozen=True)
class ConceptLaw:
    """A positive joint law over {0,1}^m, optionally with the DAG that factorises it.

    ``parents[k]`` lists the parents of concept k (all < k: index order is topological);
    ``cpts[k][j]`` is P(C_k = 1 | parents in configuration j), configurations in binary
    order of the parents' values.
    """

    m: int
    joint: np.ndarray  # (2^m,) float64, positive, sums to 1
    parents: tuple[tuple[int, ...], ...] | None = None
    cpts: tuple[np.ndarray, ...] | None = None

    def __post_init__(self):
        """Whatever the constructor (from_joint, from_dag or direct), the table is checked."""
        m = _check_m(self.m)
        p = errors.as_vector("joint", self.joint)
        if p.size != 2**m:
            raise InputError(f"joint must have length 2^m = {2**m} for m = {m}; got {p.size}")
        if np.any(p <= 0):
            i = int(np.flatnonzero(p <= 0)[0])
            raise InputError(f"joint[{i}] = {p[i]!r}: every concept vector needs positive "
                             "probability (assumption A0), or log-odds are infinite")
        if abs(p.sum() - 1.0) > JOINT_SUM_TOL:
            raise InputError(f"joint sums to {p.sum()!r}, not 1")
        if (self.parents is None) != (self.cpts is None):
            raise InputError("give both parents and cpts (a DAG law) or neither")
        object.__setattr__(self, "m", m)
        object.__setattr__(self, "joint", p)

    @classmethod
    def from_joint(cls, joint) -> "ConceptLaw":
        """A law given by its table (length 2^m, positive, summing to 1 within 1e-12)."""
        p = errors.as_vector("joint", joint)
        m = int(round(np.log2(p.size))) if p.size > 1 else 0
        if p.size < 2 or 2**m != p.size:
            raise InputError(f"joint must have length 2^m for some m >= 1; got {p.size}")
        return cls(m=m, joint=p)

    @classmethod
    def from_dag(cls, parents, cpts) -> "ConceptLaw":
        """A law factorised over a DAG given in topological (index) order."""
        parents, cpts = errors.sequence("parents", parents), errors.sequence("cpts", cpts)
        m = _check_m(len(parents))
        if len(cpts) != m:
            raise InputError(f"cpts has {len(cpts)} tables for {m} concepts; give one per concept")
        parents = tuple(tuple(errors.count(f"parents[{k}][{i}]", j, minimum=None)
                              for i, j in enumerate(errors.sequence(f"parents[{k}]", pa)))
                        for k, pa in enumerate(parents))
        for k, pa in enumerate(parents):
            if any(j >= k or j < 0 for j in pa) or len(set(pa)) != len(pa):
                raise InputError(f"parents of concept {k} are {pa}: a DAG in index order needs "
                                 "distinct parents j < k (a cycle or a forward edge was given)")
        tables = []
        for k, pa in enumerate(parents):
            t = errors.as_vector(f"cpts[{k}]", cpts[k], length=2 ** len(pa))
            if np.any((t <= 0) | (t >= 1)):
                raise InputError(f"cpts[{k}] has a probability outside (0, 1): {t}")
            tables.append(t)
        C = concept_vectors(m)
        joint = np.ones(2**m)
        for k, pa in enumerate(parents):
            idx = C[:, list(pa)] @ (2 ** np.arange(len(pa))[::-1]) if pa else np.zeros(2**m, int)
            p1 = tables[k][idx]
            joint *= np.where(C[:, k] == 1, p1, 1.0 - p1)
        return cls(m=m, joint=joint, parents=parents, cpts=tuple(tables))

    @classmethod
    def random_dag(cls, m: int, rng: np.random.Generator, *, q: float = 0.5,
                   low: float = 0.3, high: float = 0.7) -> "ConceptLaw":
        """Edges j -> k (j < k) present with probability q; P(C_k=1 | pa) ~ U[low, high]."""
        m = _check_m(m)
        errors.generator("rng", rng)
        errors.in_interval("q", q, 0.0, 1.0, label="edge probability q")
        low, high = errors.finite_float("low", low), errors.finite_float("high", high)
        if not 0.0 < low <= high < 1.0:
            raise InputError(f"need 0 < low <= high < 1 for the CPT range; got [{low}, {high}]")
        parents = [tuple(j for j in range(k) if rng.random() < q) for k in range(m)]
        cpts = [rng.uniform(low, high, size=2 ** len(pa)) for pa in parents]
        return cls.from_dag(parents, cpts)

    @cached_property
    def vectors(self) -> np.ndarray:
        return concept_vectors(self.m)

    def log_odds(self) -> np.ndarray:
        """``ell[i, j] = log p(C_i=1, c_-i) - log p(C_i=0, c_-i)``, for the background of vector j."""
        C, logp = self.vectors, np.log(self.joint)
        out = np.empty((self.m, 2**self.m))
        for i in range(self.m):
            bit = 2 ** (self.m - 1 - i)
            one = np.where(C[:, i] == 1, np.arange(2**self.m), np.arange(2**self.m) + bit)
            out[i] = logp[one] - logp[one - bit]
        return out

    def markov_blanket(self, i: int) -> set[int]:
        """Parents, children and co-parents of concept i in the DAG (requires ``parents``)."""
        if self.parents is None:
            raise InputError("this law has no DAG; the Markov blanket is defined for DAG laws")
        i = errors.index("i", i, self.m)
        children = [k for k, pa in enumerate(self.parents) if i in pa]
        mb = set(self.parents[i]) | set(children)
        for k in children:
            mb |= set(self.parents[k])
        return mb - {i}
