"""Bayesian generators and exact oracles: exchangeable models, HMMs."""

from sim.bayes.exchangeable import BetaBernoulli, GammaExponential, NormalGamma
from sim.bayes.hmm import HMM

__all__ = ["HMM", "BetaBernoulli", "GammaExponential", "NormalGamma"]
