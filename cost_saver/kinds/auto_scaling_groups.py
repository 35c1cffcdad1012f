"""Auto Scaling groups: parked at min 0, max 0, desired 0.

Max goes to 0 as well so that a scaling policy or scheduled action cannot
bring instances back overnight.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from cost_saver.calls import pages, park_each, restore_each
from cost_saver.model import Capacity, OptIn, RegionClients, Resource, tags_from_pairs


class AutoScalingGroups:
    name = "autoscaling-group"
    parked_values: ClassVar[Capacity] = {"min": 0, "max": 0, "desired": 0}

    def discover(self, clients: RegionClients, opt_in: OptIn) -> list[Resource]:
        found: list[Resource] = []
        # Filtering on the tag server-side keeps the pages small in a big account.
        tag_filter = [{"Name": f"tag:{opt_in.key}", "Values": [opt_in.value]}]
        for page in pages(clients.autoscaling, "describe_auto_scaling_groups", Filters=tag_filter):
            for group in page["AutoScalingGroups"]:
                tags = tags_from_pairs(group.get("Tags"))
                if not opt_in.matches(tags):
                    continue
                capacity = {
                    "min": int(group["MinSize"]),
                    "max": int(group["MaxSize"]),
                    "desired": int(group["DesiredCapacity"]),
                }
                found.append(
                    Resource(
                        kind=self.name,
                        id=group["AutoScalingGroupName"],
                        region=clients.region,
                        tags=tags,
                        capacity=capacity,
                        parked=capacity["min"] == 0 and capacity["desired"] == 0,
                    )
                )
        return found

    def park(self, clients: RegionClients, resources: Sequence[Resource]) -> dict[str, str]:
        return park_each(
            resources, lambda resource: _update(clients, resource.id, self.parked_values)
        )

    def restore(
        self, clients: RegionClients, targets: Sequence[tuple[Resource, Capacity]]
    ) -> dict[str, str]:
        return restore_each(targets, lambda resource, saved: _update(clients, resource.id, saved))


def _update(clients: RegionClients, name: str, capacity: Capacity) -> None:
    clients.autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=int(capacity["min"]),
        MaxSize=int(capacity["max"]),
        DesiredCapacity=int(capacity["desired"]),
    )
