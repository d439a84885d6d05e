"""Campus sign-on: the OIDC client, identity mapping, and the sign-in routes."""
