"""Aurora DB clusters: stopped and started as a whole, with all their instances."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from cost_saver.calls import pages, park_each, restore_each
from cost_saver.model import Capacity, OptIn, RegionClients, Resource, tags_from_pairs

RUNNING = "available"
STOPPED = "stopped"


class AuroraClusters:
    name = "aurora-cluster"
    parked_values: ClassVar[Capacity] = {"status": STOPPED}

    def discover(self, clients: RegionClients, opt_in: OptIn) -> list[Resource]:
        found: list[Resource] = []
        for page in pages(clients.rds, "describe_db_clusters"):
            for cluster in page["DBClusters"]:
                # DescribeDBClusters also lists Neptune and DocumentDB clusters.
                if not str(cluster.get("Engine", "")).startswith("aurora"):
                    continue
                tags = tags_from_pairs(cluster.get("TagList"))
                if not opt_in.matches(tags):
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
            lambda resource, _saved: clients.rds.start_db_cluster(DBClusterIdentifier=resource.id),
        )
