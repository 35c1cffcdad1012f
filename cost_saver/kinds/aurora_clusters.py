"""Aurora DB clusters: stopped and started as a whole, with all their instances."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import ClassVar

from cost_saver.calls import pages, park_each, restore_each
from cost_saver.capacity import Power
from cost_saver.model import Capacity, OptIn, RegionClients, Resource, tags_from_pairs

RUNNING = "available"
STOPPED = "stopped"


class AuroraClusters:
    name = "aurora-cluster"
    parked_values: ClassVar[Capacity] = {"status": STOPPED}
    rule: ClassVar[Power] = Power(key="status", running=RUNNING)

    def discover(
        self, clients: RegionClients, opt_in: OptIn, *, also: Collection[str] = ()
    ) -> list[Resource]:
        wanted = set(also)
        found: list[Resource] = []
        for page in pages(clients.rds, "describe_db_clusters"):
            for cluster in page["DBClusters"]:
                # DescribeDBClusters also lists Neptune and DocumentDB clusters.
                if not str(cluster.get("Engine", "")).startswith("aurora"):
                    continue
                tags = tags_from_pairs(cluster.get("TagList"))
                if not opt_in.matches(tags) and cluster["DBClusterIdentifier"] not in wanted:
                    continue
                status = str(cluster["Status"])
                found.append(
                    Resource(
                        kind=self.name,
                        id=cluster["DBClusterIdentifier"],
                        region=clients.region,
                        tags=tags,
                        capacity={"status": status},
                        parked=status == STOPPED,
                        blocked=None
                        if status in (RUNNING, STOPPED)
                        else f"status is {status}: neither running nor stopped, try again later",
                        opted_in=opt_in.matches(tags),
                    )
                )
        return found

    def park(self, clients: RegionClients, resources: Sequence[Resource]) -> dict[str, str]:
        return park_each(
            resources, lambda resource: clients.rds.stop_db_cluster(DBClusterIdentifier=resource.id)
        )

    def restore(
        self, clients: RegionClients, targets: Sequence[tuple[Resource, Capacity]]
    ) -> dict[str, str]:
        return restore_each(
            targets,
            lambda resource, _target: clients.rds.start_db_cluster(DBClusterIdentifier=resource.id),
        )

    def restore_command(self, region: str, resource_id: str, capacity: Capacity) -> str:
        del capacity  # Available is the only capacity.
        return f"aws rds start-db-cluster --region {region} --db-cluster-identifier {resource_id}"
