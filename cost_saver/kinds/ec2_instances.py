"""EC2 instances: stopped and started many per call.

Instances launched by an Auto Scaling group are skipped: stopping one makes
the group replace it. Tag the group instead (``auto_scaling_groups.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from cost_saver.calls import chunks, pages
from cost_saver.model import (
    Capacity,
    Failures,
    OptIn,
    RegionClients,
    Resource,
    tags_from_pairs,
)

# EC2 documents 1,000 ids as the limit of its batch instance calls.
BATCH_SIZE = 1000
# DescribeInstances' largest page.
PAGE_SIZE = 1000
RUNNING = "running"
STOPPED = "stopped"
# Terminated instances are left out: they can be neither stopped nor started.
_LISTED_STATES = ["pending", "running", "stopping", "stopped"]
_ASG_TAG = "aws:autoscaling:groupName"


class Ec2Instances:
    name = "ec2-instance"
    parked_values: ClassVar[Capacity] = {"state": STOPPED}

    def __init__(self, *, batch_size: int = BATCH_SIZE, page_size: int = PAGE_SIZE) -> None:
        self.batch_size = batch_size
        self.page_size = page_size

    def discover(self, clients: RegionClients, opt_in: OptIn) -> list[Resource]:
        found: list[Resource] = []
        filters = [
            {"Name": f"tag:{opt_in.key}", "Values": [opt_in.value]},
            {"Name": "instance-state-name", "Values": _LISTED_STATES},
        ]
        # DescribeInstances pages by reservation: without pagination, instances
        # beyond the first page are silently never stopped.
        for page in pages(
            clients.ec2,
            "describe_instances",
            Filters=filters,
            PaginationConfig={"PageSize": self.page_size},
        ):
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    tags = tags_from_pairs(instance.get("Tags"))
                    state = str(instance["State"]["Name"])
                    found.append(
                        Resource(
                            kind=self.name,
                            id=instance["InstanceId"],
                            region=clients.region,
                            tags=tags,
                            capacity={"state": state},
                            parked=state == STOPPED,
                            blocked=_blocked(state, tags),
                        )
                    )
        return found

    def park(self, clients: RegionClients, resources: Sequence[Resource]) -> dict[str, str]:
        return self._in_batches(clients.ec2.stop_instances, [r.id for r in resources])

    def restore(
        self, clients: RegionClients, targets: Sequence[tuple[Resource, Capacity]]
    ) -> dict[str, str]:
        return self._in_batches(clients.ec2.start_instances, [r.id for r, _ in targets])

    def _in_batches(self, call: Callable[..., object], ids: Sequence[str]) -> dict[str, str]:
        failures = Failures()
        for batch in chunks(ids, self.batch_size):
            _split_and_retry(call, batch, failures)
        return failures.by_id


def _split_and_retry(call: Callable[..., object], ids: Sequence[str], failures: Failures) -> None:
    """Call with every id; on an error, retry each half, down to the single bad id.

    EC2 rejects the whole call when one id is bad (gone, wrong state, spot), so
    one bad instance would otherwise keep the whole batch running all night.
    Throttling never lands here: botocore's standard retry mode retries it.
    """
    try:
        call(InstanceIds=list(ids))
    except Exception as error:  # noqa: BLE001 - any error of a batch is narrowed to the ids that cause it.
        if len(ids) == 1:
            failures.add(ids[0], error)
            return
        middle = len(ids) // 2
        _split_and_retry(call, ids[:middle], failures)
        _split_and_retry(call, ids[middle:], failures)


def _blocked(state: str, tags: dict[str, str]) -> str | None:
    group = tags.get(_ASG_TAG)
    if group:
        return f"member of Auto Scaling group {group}: tag the group instead"
    if state not in (RUNNING, STOPPED):
        return f"state is {state}: neither running nor stopped, try again later"
    return None
