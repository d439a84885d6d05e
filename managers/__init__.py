"""The managers: the only code that touches Slurm, the filesystem or the network."""
