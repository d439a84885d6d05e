"""Per-user agents: a process running as one Unix user that does that user's work.

The kernel then checks every file access and Slurm's munge credential names the
user, whatever the web tier gets wrong (tier three of the security model).
"""
