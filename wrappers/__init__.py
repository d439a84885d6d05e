"""The tools (jobs, files, notebooks ...), each a plugin over the verb interface.

None yet: the dashboard in app/web/ is the first page; tools arrive with issue 4 on.
"""
