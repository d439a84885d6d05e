"""Onestop: one-stop browser access to a Slurm cluster (the web tier)."""
