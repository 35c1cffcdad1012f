"""EC2 instances: stopped and started many per call.

Instances launched by an Auto Scaling group are skipped: stopping one makes
the group replace it. Tag the group instead (``auto_scaling_groups.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, ClassVar

from cost_saver.calls import chunks, not_attempted, out_of_retries, pages
from cost_saver.capacity import Power
from cost_saver.model import (
    Capacity,
    OptIn,
    RegionClients,
    Resource,
    describe_error,
    tags_from_pairs,
)

# EC2 documents 1,000 ids as the limit of its batch instance calls.
BATCH_SIZE = 1000
# DescribeInstances' largest page.
PAGE_SIZE = 1000
# Values of one filter per DescribeInstances call.
_FILTER_VALUES = 200
RUNNING = "running"
STOPPED = "stopped"
# Terminated instances are left out: they can be neither stopped nor started.
_LISTED_STATES = ["pending", "running", "stopping", "stopped"]
_ASG_TAG = "aws:autoscaling:groupName"
# The errors EC2 returns for a batch because of some of its instances: only
# these are narrowed down by splitting. Anything else (throttling that outlived
# the retries, access denied) is the whole batch's, and splitting would only
# multiply the calls against an account that is already refusing them.
_PER_INSTANCE_CODES = ("IncorrectInstanceState", "UnsupportedOperation")
_PER_INSTANCE_PREFIXES = ("InvalidInstanceID.",)


class Ec2Instances:
    name = "ec2-instance"
    parked_values: ClassVar[Capacity] = {"state": STOPPED}
    rule: ClassVar[Power] = Power(key="state", running=RUNNING)

    def __init__(self, *, batch_size: int = BATCH_SIZE, page_size: int = PAGE_SIZE) -> None:
        self.batch_size = batch_size
        self.page_size = page_size

    def discover(
        self, clients: RegionClients, opt_in: OptIn, *, also: Collection[str] = ()
    ) -> list[Resource]:
        state_filter = {"Name": "instance-state-name", "Values": _LISTED_STATES}
        found = {
            r.id: r
            for r in self._describe(
                clients,
                opt_in,
                [{"Name": f"tag:{opt_in.key}", "Values": [opt_in.value]}, state_filter],
            )
        }
        # Saved, but no longer carrying the tag: looked up by id (gone if absent).
        missing = [instance_id for instance_id in also if instance_id not in found]
        for batch in chunks(missing, _FILTER_VALUES):
            id_filter = {"Name": "instance-id", "Values": list(batch)}
            found.update(
                (r.id, r) for r in self._describe(clients, opt_in, [id_filter, state_filter])
            )
        return list(found.values())

    def _describe(
        self, clients: RegionClients, opt_in: OptIn, filters: list[dict[str, Any]]
    ) -> list[Resource]:
        found: list[Resource] = []
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
                            opted_in=opt_in.matches(tags),
                        )
                    )
        return found

    def park(self, clients: RegionClients, resources: Sequence[Resource]) -> dict[str, str]:
        return self._in_batches(clients.ec2.stop_instances, [r.id for r in resources])

    def restore(
        self, clients: RegionClients, targets: Sequence[tuple[Resource, Capacity]]
    ) -> dict[str, str]:
        return self._in_batches(clients.ec2.start_instances, [r.id for r, _ in targets])

    def restore_command(self, region: str, resource_id: str, capacity: Capacity) -> str:
        del capacity  # Running is the only capacity.
        return f"aws ec2 start-instances --region {region} --instance-ids {resource_id}"

    def _in_batches(self, call: Callable[..., object], ids: Sequence[str]) -> dict[str, str]:
        failures: dict[str, str] = {}
        batches = list(chunks(ids, self.batch_size))
        for number, batch in enumerate(batches):
            exhausted = _split_and_retry(call, batch, failures)
            if exhausted is not None:
                skipped = not_attempted(exhausted)
                failures.update({i: skipped for later in batches[number + 1 :] for i in later})
                break
        return failures


def _split_and_retry(
    call: Callable[..., object], ids: Sequence[str], failures: dict[str, str]
) -> str | None:
    """Call with every id; when EC2 blames some instances, narrow it down by halves.

    EC2 rejects the whole call when one id is bad (gone, wrong state, spot),
    so one bad instance would otherwise keep the whole batch running all
    night. Any other error fails the batch as it is. Returns the error when it
    outlived botocore's retries (the caller stops there), else None.
    """
    try:
        call(InstanceIds=list(ids))
    except Exception as error:  # noqa: BLE001 - any error of a batch is reported on each of its ids.
        if len(ids) > 1 and _per_instance(error):
            middle = len(ids) // 2
            exhausted = _split_and_retry(call, ids[:middle], failures)
            if exhausted is not None:
                failures.update(dict.fromkeys(ids[middle:], not_attempted(exhausted)))
                return exhausted
            return _split_and_retry(call, ids[middle:], failures)
        failures.update(dict.fromkeys(ids, describe_error(error)))
        return describe_error(error) if out_of_retries(error) else None
    return None


def _per_instance(error: BaseException) -> bool:
    response = getattr(error, "response", None)
    code = str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
    return code in _PER_INSTANCE_CODES or code.startswith(_PER_INSTANCE_PREFIXES)


def _blocked(state: str, tags: dict[str, str]) -> str | None:
    group = tags.get(_ASG_TAG)
    if group:
        return f"member of Auto Scaling group {group}: tag the group instead"
    if state not in (RUNNING, STOPPED):
        return f"state is {state}: neither running nor stopped, try again later"
    return None
