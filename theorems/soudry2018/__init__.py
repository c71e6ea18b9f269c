"""Soudry, Hoffer, Nacson, Gunasekar & Srebro 2018: the implicit bias of gradient descent.

PAPER: "The Implicit Bias of Gradient Descent on Separable Data", JMLR 19(70):1-57, 2018;
arXiv 1710.10345. Multiclass and rate results are also from this paper; the normalised and
dual-momentum variants used as fast witnesses are from Nacson et al. (AISTATS 2019) and
Ji, Srebro & Telgarsky (ICML 2021).
"""

PAPER = {
    "key": "soudry2018",
    "title": "The Implicit Bias of Gradient Descent on Separable Data",
    "authors": "Soudry, Hoffer, Nacson, Gunasekar, Srebro",
    "venue": "JMLR 19(70), 2018",
    "arxiv": "1710.10345",
}
