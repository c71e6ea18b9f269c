"""Contexts, vocabularies, the exact next-token table and the pairs of spec 1.3.

A context is its ternary code s in {-1, 0, +1}^m (spec 1.2: -1 fixes C_i = 0, +1 fixes
C_i = 1, 0 leaves C_i unknown); a context set stacks codes as ``S (|X|, m)``. A vocabulary
is a subset of the 2^m concept vectors (indices into :func:`concept_vectors`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim import errors
from sim.concepts.law import ConceptLaw, _check_m, concept_vectors
from sim.errors import InputError


@dataclass(frozen=True)
class ContextSet:
    """Ternary codes ``S (|X|, m)`` of a set of contexts; no duplicates, entries in {-1, 0, 1}."""

    S: np.ndarray

    def __post_init__(self):
        S = np.asarray(self.S)
        if S.dtype.kind in "bc":
            raise errors.InputTypeError(f"context codes must be integers in {{-1, 0, +1}}; got dtype {S.dtype}")
        if S.ndim != 2 or S.shape[0] == 0 or S.shape[1] == 0:
            raise InputError(f"a context set needs a non-empty (|X|, m) code matrix; got {S.shape}")
        if not np.isin(S, (-1, 0, 1)).all():
            raise InputError("context codes must be in {-1, 0, +1} (0 marks an unknown concept)")
        if len(np.unique(S, axis=0)) != len(S):
            raise InputError("the context set has duplicate contexts")
        object.__setattr__(self, "S", S.astype(np.int64))

    @property
    def m(self) -> int:
        return self.S.shape[1]

    def __len__(self) -> int:
        return self.S.shape[0]

    @classmethod
    def complete(cls, m: int) -> "ContextSet":
        """All 3^m partial assignments {0, 1, unknown}^m."""
        concept_vectors(m)  # validates m against the exact limit
        return cls(np.array(list(itertools.product((-1, 0, 1), repeat=m))))

    @classmethod
    def subset(cls, m: int, rng: np.random.Generator, frac: float = 0.5, *,
               keep_single: bool = False) -> "ContextSet":
        """A uniform random subset (E2a); with ``keep_single`` the 2m single-concept contexts
        are always kept (E2b, under which D-T2 still applies)."""
        errors.in_interval("frac", frac, 0.0, 1.0, low_open=True)
        full = cls.complete(m).S
        errors.generator("rng", rng)
        single = np.abs(full).sum(1) == 1
        k = max(1, int(round(frac * len(full))))
        if keep_single:
            rest = np.flatnonzero(~single)
            pick = rng.choice(rest, size=max(0, k - int(single.sum())), replace=False)
            idx = np.sort(np.concatenate([np.flatnonzero(single), pick]))
        else:
            idx = np.sort(rng.choice(len(full), size=k, replace=False))
        return cls(full[idx])

    def index(self) -> dict[tuple, int]:
        return {tuple(s): i for i, s in enumerate(self.S)}

    def restrict_to(self, vocab: "Vocabulary") -> "ContextSet":
        """The contexts that at least one token of ``vocab`` agrees with (E4 needs this:
        a context fixing a concept vector outside the vocabulary has no next token)."""
        errors.instance("vocab", vocab, Vocabulary)
        if vocab.m != self.m:
            raise InputError(f"vocab has m = {vocab.m} concepts but the contexts have m = {self.m}")
        C = 2 * vocab.C - 1
        ok = ((self.S[:, None, :] == 0) | (self.S[:, None, :] == C[None])).all(-1).any(1)
        return ContextSet(self.S[ok])


@dataclass(frozen=True)
class Vocabulary:
    """Token indices into the 2^m concept vectors (the full vocabulary or a subset, E4)."""

    m: int
    ids: np.ndarray

    def __post_init__(self):
        _check_m(self.m)
        raw = np.asarray(self.ids)
        if raw.size and not np.issubdtype(raw.dtype, np.integer):
            raise InputError(f"vocabulary ids must be integers; got dtype {raw.dtype}")
        ids = raw.astype(np.int64)
        if ids.ndim != 1 or ids.size == 0:
            raise InputError("a vocabulary needs at least one token")
        if ids.min() < 0 or ids.max() >= 2**self.m or len(np.unique(ids)) != ids.size:
            raise InputError(f"vocabulary ids must be distinct indices in [0, {2**self.m})")
        object.__setattr__(self, "ids", np.sort(ids))

    @classmethod
    def full(cls, m: int) -> "Vocabulary":
        return cls(m, np.arange(2 ** len(concept_vectors(m)[0])))

    @classmethod
    def subset(cls, m: int, rng: np.random.Generator, frac: float = 0.5) -> "Vocabulary":
        """A random subset in which every concept still takes both values (E4)."""
        C = concept_vectors(m)
        errors.generator("rng", rng)
        frac = errors.in_interval("frac", frac, 0.0, 1.0, low_open=True)
        k = max(2, int(round(frac * 2**m)))
        for _ in range(100):
            ids = rng.choice(2**m, size=k, replace=False)
            if (C[ids].min(0) == 0).all() and (C[ids].max(0) == 1).all():
                return cls(m, ids)
        raise InputError(f"no vocabulary of {k} tokens found in which every concept takes both values")

    @property
    def C(self) -> np.ndarray:
        return concept_vectors(self.m)[self.ids]


def _read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class ConceptModel:
    """A concept law with a context set and a vocabulary: the exact table and the pairs."""

    law: ConceptLaw
    contexts: ContextSet
    vocab: Vocabulary

    def __post_init__(self):
        errors.instance("law", self.law, ConceptLaw)
        errors.instance("contexts", self.contexts, ContextSet)
        errors.instance("vocab", self.vocab, Vocabulary)
        if self.contexts.m != self.law.m or self.vocab.m != self.law.m:
            raise InputError(f"law (m={self.law.m}), contexts (m={self.contexts.m}) and "
                             f"vocabulary (m={self.vocab.m}) disagree on the number of concepts")
        empty = ~self.support.any(axis=1)
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            raise InputError(f"context {self.contexts.S[i].tolist()} has no compatible token in "
                             "the vocabulary: the context set is inconsistent with it")

    @classmethod
    def build(cls, law: ConceptLaw, contexts: ContextSet | None = None,
              vocab: Vocabulary | None = None) -> "ConceptModel":
        errors.instance("law", law, ConceptLaw)
        return cls(law, ContextSet.complete(law.m) if contexts is None else contexts,
                   Vocabulary.full(law.m) if vocab is None else vocab)

    @cached_property
    def support(self) -> np.ndarray:
        """``(|X|, |Y|)`` bool: token y agrees with context x on every fixed concept."""
        S, C = self.contexts.S, 2 * self.vocab.C - 1
        return ((S[:, None, :] == 0) | (S[:, None, :] == C[None, :, :])).all(-1)

    @cached_property
    def table(self) -> np.ndarray:
        """P[x, y] = p(y | x): the law restricted to the tokens compatible with x, normalised."""
        w = self.support * self.law.joint[self.vocab.ids][None, :]
        return w / w.sum(1, keepdims=True)

    @property
    def S(self) -> np.ndarray:
        return self.contexts.S

    @property
    def C(self) -> np.ndarray:
        return self.vocab.C

    def token_pairs(self, i: int) -> np.ndarray:
        """(k, 2) vocabulary positions (y0, y1) with c(y1) = c(y0) + e_i, both in the vocabulary."""
        return self._token_pairs[errors.index("i", i, self.law.m)]

    def context_pairs(self, i: int) -> np.ndarray:
        """(k, 2) context positions (x0, x1) equal except kappa_i(x0) = 0, kappa_i(x1) = 1."""
        return self._context_pairs[errors.index("i", i, self.law.m)]

    @cached_property
    def _token_pairs(self) -> tuple[np.ndarray, ...]:  # computed once; metrics call it per checkpoint
        return tuple(_read_only(self._find_token_pairs(i)) for i in range(self.law.m))

    @cached_property
    def _context_pairs(self) -> tuple[np.ndarray, ...]:
        return tuple(_read_only(self._find_context_pairs(i)) for i in range(self.law.m))

    def _find_token_pairs(self, i: int) -> np.ndarray:
        pos = {int(t): p for p, t in enumerate(self.vocab.ids)}
        bit = 2 ** (self.law.m - 1 - i)
        pairs = [(pos[t], pos[t + bit]) for t in self.vocab.ids
                 if not (t & bit) and int(t + bit) in pos]
        return np.array(pairs, dtype=np.int64).reshape(-1, 2)

    def _find_context_pairs(self, i: int) -> np.ndarray:
        index = self.contexts.index()
        out = []
        for s in self.S[self.S[:, i] == -1]:
            s1 = s.copy()
            s1[i] = 1
            if tuple(s1) in index:
                out.append((index[tuple(s)], index[tuple(s1)]))
        return np.array(out, dtype=np.int64).reshape(-1, 2)

    def compatible(self, i: int, y0: int) -> np.ndarray:
        """Positions of contexts ``X_i(c_-i)`` for the pair at token y0: C_i unknown, rest agrees."""
        i, y0 = errors.index("i", i, self.law.m), errors.index("y0", y0, len(self.vocab.ids))
        return self._compatible(i, y0)

    def _compatible(self, i: int, y0: int) -> np.ndarray:
        c = 2 * self.C[y0] - 1
        S = self.S
        ok = (S[:, i] == 0) & ((S == 0) | (S == c[None, :])).all(1)
        return np.flatnonzero(ok)

    def separating(self, i: int, y0: int) -> tuple[np.ndarray, np.ndarray]:
        """Contexts ``X^+-_i(c_-i)`` fixing C_i and agreeing elsewhere, with labels 2 kappa_i - 1."""
        i, y0 = errors.index("i", i, self.law.m), errors.index("y0", y0, len(self.vocab.ids))
        c = 2 * self.C[y0] - 1
        S = self.S
        mask = np.ones(self.law.m, dtype=bool)
        mask[i] = False
        ok = (S[:, i] != 0) & ((S[:, mask] == 0) | (S[:, mask] == c[None, mask])).all(1)
        idx = np.flatnonzero(ok)
        return idx, S[idx, i].astype(np.float64)
