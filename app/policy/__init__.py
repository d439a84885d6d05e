"""Casbin policy: the model, the default rules and the one gate every verb passes.

Empty until the verb interface lands (issue 3); admin pages check ``admin_groups``
directly until then (see app/web/admin_sessions.py).
"""
