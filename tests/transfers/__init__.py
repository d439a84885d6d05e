"""The data tool's test hosts (hosts.py) and the tests that use them."""
