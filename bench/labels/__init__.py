"""Which labels a run trains on: label regimes, split files, and the validation subset."""
