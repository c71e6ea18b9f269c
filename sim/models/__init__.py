"""Small models, one per file, trained through :func:`sim.train.train`."""
