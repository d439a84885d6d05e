"""Slurm behind the adapter: a private command layer, a parser, and the adapter."""

from managers.scheduler.slurm.adapter import SlurmAdapter

__all__ = ["SlurmAdapter"]
