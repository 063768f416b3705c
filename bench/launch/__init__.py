"""Launchers: Slurm and local submitit jobs, GPU packing of a node."""
