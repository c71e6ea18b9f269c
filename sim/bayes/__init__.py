"""Bayesian generators and exact oracles: exchangeable models, HMMs,
the rectangle hypothesis game, tiny LDA."""

from sim.bayes.exchangeable import BetaBernoulli, GammaExponential, NormalGamma
from sim.bayes.hmm import HMM
from sim.bayes.lda import LDA
from sim.bayes.rectangles import RectangleGame

__all__ = ["HMM", "LDA", "BetaBernoulli", "GammaExponential", "NormalGamma", "RectangleGame"]
