"""Notebook sessions on the agent's side: the session folder, the batch script, sbatch.

``operations`` runs inside the person's agent (as her); ``launch`` builds the bash
script that starts Jupyter inside the job.
"""
