"""ECS services: parked at desired count 0, restored to the count they had.

The cluster's tags come along as the service's ``parent``: a service in a
production cluster is production.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, ClassVar

from cost_saver.calls import chunks, pages, park_each, restore_each
from cost_saver.capacity import Count
from cost_saver.model import Capacity, OptIn, Parent, RegionClients, Resource, tags_from_pairs

# DescribeServices takes at most 10 services per call, DescribeClusters 100.
_DESCRIBE_SERVICES = 10
_DESCRIBE_CLUSTERS = 100
# ListServices returns 10 per page unless asked for its maximum.
_LIST_PAGE = 100


class EcsServices:
    name = "ecs-service"
    parked_values: ClassVar[Capacity] = {"desired": 0}
    rule: ClassVar[Count] = Count()

    def discover(
        self, clients: RegionClients, opt_in: OptIn, *, also: Collection[str] = ()
    ) -> list[Resource]:
        wanted = set(also)
        services: list[tuple[str, dict[str, Any]]] = []
        for cluster_page in pages(clients.ecs, "list_clusters"):
            for cluster_arn in cluster_page["clusterArns"]:
                services += [
                    (cluster_arn, service)
                    for service in self._describe(clients, cluster_arn)
                    # An INACTIVE service is a deleted one that ECS still lists for a while.
                    if service.get("status") != "INACTIVE"
                    and (
                        opt_in.matches(_tags(service))
                        or _service_id(cluster_arn, service) in wanted
                    )
                ]
        parents = self._parents(clients, sorted({cluster_arn for cluster_arn, _ in services}))
        return [
            self._resource(clients, cluster_arn, service, opt_in, parents[cluster_arn])
            for cluster_arn, service in services
        ]

    def _describe(self, clients: RegionClients, cluster_arn: str) -> list[dict[str, Any]]:
        service_arns = [
            arn
            for page in pages(
                clients.ecs,
                "list_services",
                cluster=cluster_arn,
                PaginationConfig={"PageSize": _LIST_PAGE},
            )
            for arn in page["serviceArns"]
        ]
        described: list[dict[str, Any]] = []
        for batch in chunks(service_arns, _DESCRIBE_SERVICES):
            described += clients.ecs.describe_services(
                cluster=cluster_arn, services=list(batch), include=["TAGS"]
            )["services"]
        return described

    def _parents(self, clients: RegionClients, cluster_arns: list[str]) -> dict[str, Parent]:
        parents: dict[str, Parent] = {}
        for batch in chunks(cluster_arns, _DESCRIBE_CLUSTERS):
            for cluster in clients.ecs.describe_clusters(clusters=list(batch), include=["TAGS"])[
                "clusters"
            ]:
                parents[cluster["clusterArn"]] = Parent(
                    label=f"ECS cluster {cluster['clusterName']}", tags=_tags(cluster)
                )
        # A cluster that vanished between the two calls: no tags known, so
        # the guard sees none on it (its services still need their own tag).
        return {
            arn: parents.get(arn, Parent(label=f"ECS cluster {arn}", tags={}))
            for arn in cluster_arns
        }

    def _resource(
        self,
        clients: RegionClients,
        cluster_arn: str,
        service: dict[str, Any],
        opt_in: OptIn,
        parent: Parent,
    ) -> Resource:
        desired = int(str(service["desiredCount"]))
        status = str(service.get("status", "ACTIVE"))
        tags = _tags(service)
        return Resource(
            kind=self.name,
            id=_service_id(cluster_arn, service),
            region=clients.region,
            tags=tags,
            capacity={"desired": desired},
            parked=desired == 0,
            blocked=None if status == "ACTIVE" else f"service status is {status}",
            opted_in=opt_in.matches(tags),
            parent=parent,
        )

    def park(self, clients: RegionClients, resources: Sequence[Resource]) -> dict[str, str]:
        return park_each(resources, lambda resource: _update(clients, resource.id, 0))

    def restore(
        self, clients: RegionClients, targets: Sequence[tuple[Resource, Capacity]]
    ) -> dict[str, str]:
        return restore_each(
            targets,
            lambda resource, target: _update(clients, resource.id, int(target["desired"])),
        )

    def restore_command(self, region: str, resource_id: str, capacity: Capacity) -> str:
        cluster, service = resource_id.split("/", 1)
        return (
            f"aws ecs update-service --region {region} --cluster {cluster} --service {service} "
            f"--desired-count {capacity['desired']}"
        )


def _tags(described: dict[str, Any]) -> dict[str, str]:
    return tags_from_pairs(described.get("tags"), "key", "value")


def _service_id(cluster_arn: str, service: dict[str, Any]) -> str:
    return f"{cluster_arn.rsplit('/', 1)[-1]}/{service['serviceName']}"


def _update(clients: RegionClients, resource_id: str, desired: int) -> None:
    cluster, service = resource_id.split("/", 1)
    clients.ecs.update_service(cluster=cluster, service=service, desiredCount=desired)
