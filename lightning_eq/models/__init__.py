"""Models that map embeddings to a 40-band curve on the unit scale: neural heads and baselines."""
