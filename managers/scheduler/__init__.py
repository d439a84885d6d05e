"""The execution manager's view of the scheduler, behind one small adapter interface."""

from managers.scheduler.base import SchedulerAdapter
from managers.scheduler.errors import SchedulerError
from managers.scheduler.models import ClusterSnapshot, Job, JobUsage, Node, Partition
from managers.scheduler.states import JobState, NodeState, PartitionState

__all__ = [
    "ClusterSnapshot",
    "Job",
    "JobState",
    "JobUsage",
    "Node",
    "NodeState",
    "Partition",
    "PartitionState",
    "SchedulerAdapter",
    "SchedulerError",
]
