"""Jiang, Rajendran, Ravikumar, Aragam & Veitch 2024: the origins of linear representations.

PAPER: "On the Origins of Linear Representations in Large Language Models", ICML 2024
(PMLR 235:21879-21911); arXiv 2403.03867 v1. The paper's body could not be read: the
statements checked here are the specification's formalisations (tagged [D], each with a
proof) and its own measurements ([O]); every claim text says which.
"""

PAPER = {
    "key": "jiang2024",
    "title": "On the Origins of Linear Representations in Large Language Models",
    "authors": "Jiang, Rajendran, Ravikumar, Aragam, Veitch",
    "venue": "ICML 2024 (PMLR 235)",
    "arxiv": "2403.03867v1",
}
