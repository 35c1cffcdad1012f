"""EKS managed node groups: parked at min 0, desired 0, max unchanged.

EKS refuses ``maxSize`` 0 (its minimum is 1), so max keeps its value; with
min and desired at 0 the node group runs no nodes. The cluster's tags come
along as the node group's ``parent``: a node group in a production cluster is
production.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, ClassVar

from cost_saver.calls import pages, park_each, restore_each
from cost_saver.capacity import Scaling
from cost_saver.model import Capacity, OptIn, Parent, RegionClients, Resource


class EksNodeGroups:
    name = "eks-nodegroup"
    # Max is left out: it keeps its value.
    parked_values: ClassVar[Capacity] = {"min": 0, "desired": 0}
    rule: ClassVar[Scaling] = Scaling()

    def discover(
        self, clients: RegionClients, opt_in: OptIn, *, also: Collection[str] = ()
    ) -> list[Resource]:
        wanted = set(also)
        found: list[Resource] = []
        for cluster_page in pages(clients.eks, "list_clusters"):
            for cluster in cluster_page["clusters"]:
                # Node-group tags come only with DescribeNodegroup: one call each.
                groups = [
                    clients.eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)[
                        "nodegroup"
                    ]
                    for page in pages(clients.eks, "list_nodegroups", clusterName=cluster)
                    for name in page["nodegroups"]
                ]
                groups = [
                    group
                    for group in groups
                    if opt_in.matches(_tags(group))
                    or f"{cluster}/{group['nodegroupName']}" in wanted
                ]
                if not groups:
                    continue
                cluster_tags = clients.eks.describe_cluster(name=cluster)["cluster"].get("tags")
                parent = Parent(label=f"EKS cluster {cluster}", tags=dict(cluster_tags or {}))
                found += [self._resource(clients, cluster, g, opt_in, parent) for g in groups]
        return found

    def _resource(
        self,
        clients: RegionClients,
        cluster: str,
        group: dict[str, Any],
        opt_in: OptIn,
        parent: Parent,
    ) -> Resource:
        scaling = group["scalingConfig"]
        capacity = {
            "min": int(scaling["minSize"]),
            "max": int(scaling["maxSize"]),
            "desired": int(scaling["desiredSize"]),
        }
        status = str(group.get("status", "ACTIVE"))
        tags = _tags(group)
        return Resource(
            kind=self.name,
            id=f"{cluster}/{group['nodegroupName']}",
            region=clients.region,
            tags=tags,
            capacity=capacity,
            parked=capacity["min"] == 0 and capacity["desired"] == 0,
            # EKS rejects a config update while another update runs.
            blocked=None if status == "ACTIVE" else f"node group status is {status}",
            opted_in=opt_in.matches(tags),
            parent=parent,
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
        return restore_each(targets, lambda resource, target: _update(clients, resource.id, target))

    def restore_command(self, region: str, resource_id: str, capacity: Capacity) -> str:
        cluster, group_name = resource_id.split("/", 1)
        return (
            f"aws eks update-nodegroup-config --region {region} --cluster-name {cluster} "
            f"--nodegroup-name {group_name} --scaling-config minSize={capacity['min']},"
            f"maxSize={capacity['max']},desiredSize={capacity['desired']}"
        )


def _tags(group: dict[str, Any]) -> dict[str, str]:
    return {str(key): str(value) for key, value in (group.get("tags") or {}).items()}


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
