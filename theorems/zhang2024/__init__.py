"""Zhang, Viteri, ... 2024: what should embeddings embed? (predictive sufficiency).

PAPER: "What Should Embeddings Embed? Autoregressive Models Represent Latent Generating
Distributions", arXiv 2406.03707. The paper's text could not be read in full: the
statements checked here are the specification's standard, provable forms (tagged
[EXACT] there) and its proposed thresholds; every claim text says which.
"""

PAPER = {
    "key": "zhang2024",
    "title": "What Should Embeddings Embed? Autoregressive Models Represent Latent "
             "Generating Distributions",
    "arxiv": "2406.03707",
}
