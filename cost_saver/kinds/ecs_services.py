"""ECS services: parked at desired count 0, restored to the count they had."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from cost_saver.calls import chunks, pages, park_each, restore_each
from cost_saver.model import Capacity, OptIn, RegionClients, Resource, tags_from_pairs

# DescribeServices takes at most 10 services per call.
_DESCRIBE_BATCH = 10


class EcsServices:
    name = "ecs-service"
    parked_values: ClassVar[Capacity] = {"desired": 0}

    def discover(self, clients: RegionClients, opt_in: OptIn) -> list[Resource]:
        found: list[Resource] = []
        for cluster_page in pages(clients.ecs, "list_clusters"):
            for cluster_arn in cluster_page["clusterArns"]:
                service_arns = [
                    arn
                    for page in pages(clients.ecs, "list_services", cluster=cluster_arn)
                    for arn in page["serviceArns"]
                ]
                for batch in chunks(service_arns, _DESCRIBE_BATCH):
                    described = clients.ecs.describe_services(
                        cluster=cluster_arn, services=list(batch), include=["TAGS"]
                    )
                    found.extend(
                        self._resource(clients, cluster_arn, service)
                        for service in described["services"]
                        if opt_in.matches(tags_from_pairs(service.get("tags"), "key", "value"))
                        # An INACTIVE service is a deleted one that ECS still lists for a while.
                        and service.get("status") != "INACTIVE"
                    )
        return found

    def _resource(
        self, clients: RegionClients, cluster_arn: str, service: dict[str, object]
    ) -> Resource:
        cluster_name = cluster_arn.rsplit("/", 1)[-1]
        desired = int(str(service["desiredCount"]))
        status = str(service.get("status", "ACTIVE"))
        return Resource(
            kind=self.name,
            id=f"{cluster_name}/{service['serviceName']}",
            region=clients.region,
            tags=tags_from_pairs(service.get("tags"), "key", "value"),
            capacity={"desired": desired},
            parked=desired == 0,
            blocked=None if status == "ACTIVE" else f"service status is {status}",
        )

    def park(self, clients: RegionClients, resources: Sequence[Resource]) -> dict[str, str]:
        return park_each(resources, lambda resource: _update(clients, resource.id, 0))

    def restore(
        self, clients: RegionClients, targets: Sequence[tuple[Resource, Capacity]]
    ) -> dict[str, str]:
        return restore_each(
            targets,
            lambda resource, saved: _update(clients, resource.id, int(saved["desired"])),
        )


def _update(clients: RegionClients, resource_id: str, desired: int) -> None:
    cluster, service = resource_id.split("/", 1)
    clients.ecs.update_service(cluster=cluster, service=service, desiredCount=desired)
