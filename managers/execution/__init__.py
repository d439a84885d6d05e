"""The execution manager: Slurm work done as the user (submit, cancel)."""
