"""Bayesian generators and exact oracles: exchangeable models, HMMs."""

from sim.bayes.exchangeable import BetaBernoulli, GammaExponential, NormalGamma  # noqa: E402
