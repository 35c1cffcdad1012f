"""Resource kinds: one small module each, behind ``ResourceKind`` and ``REGISTRY``.

A kind only knows its own service: how to find the opted-in resources of a
region with their current capacity, and how to park and restore a batch of
them, what its capacity may be (its ``rule``, from ``capacity.py``), and the
command that restores one by hand. Everything the kinds share (the
production guard, saving before parking, the merge of overnight changes)
lives in ``park_and_restore.py``, so a new kind is one module of
describe/update calls plus one line in ``REGISTRY``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from cost_saver.capacity import CapacityRule
from cost_saver.kinds.aurora_clusters import AuroraClusters
from cost_saver.kinds.auto_scaling_groups import AutoScalingGroups
from cost_saver.kinds.ec2_instances import Ec2Instances
from cost_saver.kinds.ecs_services import EcsServices
from cost_saver.kinds.eks_node_groups import EksNodeGroups
from cost_saver.kinds.rds_instances import RdsInstances
from cost_saver.model import Capacity, OptIn, RegionClients, Resource


class ResourceKind(Protocol):
    """One kind of resource the cost saver can park and restore."""

    @property
    def name(self) -> str:
        """The kind's name in reports, logs and saved-capacity keys (never change it)."""
        ...

    def discover(
        self, clients: RegionClients, opt_in: OptIn, *, also: Collection[str] = ()
    ) -> list[Resource]:
        """Every opted-in resource of the region, paginating every list call.

        Plus each resource named in ``also`` that still exists, opted in or
        not (``Resource.opted_in`` says): a start looks up what it saved, so
        that a resource whose tag was removed overnight is told apart from
        one that was deleted. Node groups and ECS services carry their
        cluster's tags as ``parent``.
        """
        ...

    @property
    def rule(self) -> CapacityRule:
        """What its capacity may be, and the merge a start applies."""
        ...

    @property
    def parked_values(self) -> Capacity:
        """What parking sets; capacity keys it leaves out keep their value."""
        ...

    def park(self, clients: RegionClients, resources: Sequence[Resource]) -> dict[str, str]:
        """Park ``resources``; return the error of each one that failed, by id."""
        ...

    def restore(
        self, clients: RegionClients, targets: Sequence[tuple[Resource, Capacity]]
    ) -> dict[str, str]:
        """Bring each resource to its target capacity; return errors by id."""
        ...

    def restore_command(self, region: str, resource_id: str, capacity: Capacity) -> str:
        """The AWS CLI line that sets ``capacity`` by hand, for the fixes in the report."""
        ...


# Order matters on stop: groups and services before loose instances and
# databases, so that nothing scales instances back while they stop. Start
# restores in reverse: databases before the compute that needs them.
REGISTRY: Mapping[str, ResourceKind] = {
    kind.name: kind
    for kind in (
        AutoScalingGroups(),
        EksNodeGroups(),
        EcsServices(),
        Ec2Instances(),
        RdsInstances(),
        AuroraClusters(),
    )
}

__all__ = ["REGISTRY", "ResourceKind"]
