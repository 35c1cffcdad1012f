"""RDS DB instances: stopped in the evening, started in the morning.

Instances of an Aurora cluster are skipped: they stop and start with their
cluster (``aurora_clusters.py``), and RDS refuses to stop them one by one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import ClassVar

from cost_saver.calls import pages, park_each, restore_each
from cost_saver.capacity import Power
from cost_saver.model import Capacity, OptIn, RegionClients, Resource, tags_from_pairs

RUNNING = "available"
STOPPED = "stopped"


class RdsInstances:
    name = "rds-instance"
    parked_values: ClassVar[Capacity] = {"status": STOPPED}
    rule: ClassVar[Power] = Power(key="status", running=RUNNING)

    def discover(
        self, clients: RegionClients, opt_in: OptIn, *, also: Collection[str] = ()
    ) -> list[Resource]:
        wanted = set(also)
        found: list[Resource] = []
        for page in pages(clients.rds, "describe_db_instances"):
            for instance in page["DBInstances"]:
                tags = tags_from_pairs(instance.get("TagList"))
                if not opt_in.matches(tags) and instance["DBInstanceIdentifier"] not in wanted:
                    continue
                status = str(instance["DBInstanceStatus"])
                cluster = instance.get("DBClusterIdentifier")
                found.append(
                    Resource(
                        kind=self.name,
                        id=instance["DBInstanceIdentifier"],
                        region=clients.region,
                        tags=tags,
                        capacity={"status": status},
                        parked=status == STOPPED,
                        blocked=_blocked(status, cluster),
                        opted_in=opt_in.matches(tags),
                    )
                )
        return found

    def park(self, clients: RegionClients, resources: Sequence[Resource]) -> dict[str, str]:
        return park_each(
            resources,
            lambda resource: clients.rds.stop_db_instance(DBInstanceIdentifier=resource.id),
        )

    def restore(
        self, clients: RegionClients, targets: Sequence[tuple[Resource, Capacity]]
    ) -> dict[str, str]:
        return restore_each(
            targets,
            lambda resource, _target: clients.rds.start_db_instance(
                DBInstanceIdentifier=resource.id
            ),
        )

    def restore_command(self, region: str, resource_id: str, capacity: Capacity) -> str:
        del capacity  # Available is the only capacity.
        return f"aws rds start-db-instance --region {region} --db-instance-identifier {resource_id}"


def _blocked(status: str, cluster: object) -> str | None:
    if cluster:
        return f"member of Aurora cluster {cluster}: tag the cluster instead"
    if status not in (RUNNING, STOPPED):
        return f"status is {status}: neither running nor stopped, try again later"
    return None
