"""Auto Scaling groups: parked at min 0, max 0, desired 0.

Max goes to 0 as well so that a scaling policy or scheduled action cannot
bring instances back overnight.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, ClassVar

from cost_saver.calls import chunks, pages, park_each, restore_each
from cost_saver.capacity import Scaling
from cost_saver.model import Capacity, OptIn, RegionClients, Resource, tags_from_pairs

# DescribeAutoScalingGroups takes this many names per call.
_NAMES_PER_CALL = 50


class AutoScalingGroups:
    name = "autoscaling-group"
    parked_values: ClassVar[Capacity] = {"min": 0, "max": 0, "desired": 0}
    rule: ClassVar[Scaling] = Scaling()

    def discover(
        self, clients: RegionClients, opt_in: OptIn, *, also: Collection[str] = ()
    ) -> list[Resource]:
        # Filtering on the tag server-side keeps the pages small in a big account.
        tag_filter = [{"Name": f"tag:{opt_in.key}", "Values": [opt_in.value]}]
        found = {
            resource.id: resource
            for page in pages(
                clients.autoscaling, "describe_auto_scaling_groups", Filters=tag_filter
            )
            for resource in self._resources(clients, opt_in, page)
            if resource.opted_in
        }
        # Saved, but no longer carrying the tag: looked up by name (gone if absent).
        missing = [name for name in also if name not in found]
        for batch in chunks(missing, _NAMES_PER_CALL):
            for page in pages(
                clients.autoscaling,
                "describe_auto_scaling_groups",
                AutoScalingGroupNames=list(batch),
            ):
                found.update((r.id, r) for r in self._resources(clients, opt_in, page))
        return list(found.values())

    def _resources(
        self, clients: RegionClients, opt_in: OptIn, page: dict[str, Any]
    ) -> list[Resource]:
        resources: list[Resource] = []
        for group in page["AutoScalingGroups"]:
            tags = tags_from_pairs(group.get("Tags"))
            capacity = {
                "min": int(group["MinSize"]),
                "max": int(group["MaxSize"]),
                "desired": int(group["DesiredCapacity"]),
            }
            # A group being deleted cannot be scaled.
            status = group.get("Status")
            resources.append(
                Resource(
                    kind=self.name,
                    id=group["AutoScalingGroupName"],
                    region=clients.region,
                    tags=tags,
                    capacity=capacity,
                    parked=capacity["min"] == 0 and capacity["desired"] == 0,
                    blocked=f"group status is {status}" if status else None,
                    opted_in=opt_in.matches(tags),
                )
            )
        return resources

    def park(self, clients: RegionClients, resources: Sequence[Resource]) -> dict[str, str]:
        return park_each(
            resources, lambda resource: _update(clients, resource.id, self.parked_values)
        )

    def restore(
        self, clients: RegionClients, targets: Sequence[tuple[Resource, Capacity]]
    ) -> dict[str, str]:
        return restore_each(targets, lambda resource, target: _update(clients, resource.id, target))

    def restore_command(self, region: str, resource_id: str, capacity: Capacity) -> str:
        return (
            f"aws autoscaling update-auto-scaling-group --region {region} "
            f"--auto-scaling-group-name {resource_id} --min-size {capacity['min']} "
            f"--max-size {capacity['max']} --desired-capacity {capacity['desired']}"
        )


def _update(clients: RegionClients, name: str, capacity: Capacity) -> None:
    clients.autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=int(capacity["min"]),
        MaxSize=int(capacity["max"]),
        DesiredCapacity=int(capacity["desired"]),
    )
