"""EKS managed node groups: parked at min 0, desired 0, max unchanged.

EKS refuses ``maxSize`` 0 (its minimum is 1), so max keeps its value; with
min and desired at 0 the node group runs no nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from cost_saver.calls import pages, park_each, restore_each
from cost_saver.model import Capacity, OptIn, RegionClients, Resource


class EksNodeGroups:
    name = "eks-nodegroup"
    # Max is left out: it keeps its value.
    parked_values: ClassVar[Capacity] = {"min": 0, "desired": 0}

    def discover(self, clients: RegionClients, opt_in: OptIn) -> list[Resource]:
        found: list[Resource] = []
        for cluster_page in pages(clients.eks, "list_clusters"):
            for cluster in cluster_page["clusters"]:
                for group_page in pages(clients.eks, "list_nodegroups", clusterName=cluster):
                    for group_name in group_page["nodegroups"]:
                        resource = self._describe(clients, cluster, group_name, opt_in)
                        if resource is not None:
                            found.append(resource)
        return found

    def _describe(
        self, clients: RegionClients, cluster: str, group_name: str, opt_in: OptIn
    ) -> Resource | None:
        group = clients.eks.describe_nodegroup(clusterName=cluster, nodegroupName=group_name)[
            "nodegroup"
        ]
        tags = {str(key): str(value) for key, value in (group.get("tags") or {}).items()}
        if not opt_in.matches(tags):
            return None
        scaling = group["scalingConfig"]
        capacity = {
            "min": int(scaling["minSize"]),
            "max": int(scaling["maxSize"]),
            "desired": int(scaling["desiredSize"]),
        }
        status = str(group.get("status", "ACTIVE"))
        return Resource(
            kind=self.name,
            id=f"{cluster}/{group_name}",
            region=clients.region,
            tags=tags,
            capacity=capacity,
            parked=capacity["min"] == 0 and capacity["desired"] == 0,
            # EKS rejects a config update while another update runs.
            blocked=None if status == "ACTIVE" else f"node group status is {status}",
        )

    def park(self, clients: RegionClients, resources: Sequence[Resource]) -> dict[str, str]:
        return park_each(
            resources,
            lambda resource: _update(
                clients, resource.id, {**resource.capacity, **self.parked_values}
            ),
        )

    def restore(
        self, clients: RegionClients, targets: Sequence[tuple[Resource, Capacity]]
    ) -> dict[str, str]:
        return restore_each(targets, lambda resource, saved: _update(clients, resource.id, saved))


def _update(clients: RegionClients, resource_id: str, capacity: Capacity) -> None:
    cluster, group_name = resource_id.split("/", 1)
    clients.eks.update_nodegroup_config(
        clusterName=cluster,
        nodegroupName=group_name,
        scalingConfig={
            "minSize": int(capacity["min"]),
            "maxSize": int(capacity["max"]),
            "desiredSize": int(capacity["desired"]),
        },
    )
