"""The verb harness (real agents, real Casbin) for the sharing tests."""

from tests.verbs.conftest import agents, harness, runtime

__all__ = ["agents", "harness", "runtime"]
