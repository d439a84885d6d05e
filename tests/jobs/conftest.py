"""The jobs tests use the same real gate as the verb tests."""

from tests.agents.conftest import agents, runtime
from tests.verbs.conftest import harness

__all__ = ["agents", "harness", "runtime"]
