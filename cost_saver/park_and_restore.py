"""Park or restore: the rules every resource kind shares, for one run over every region.

Stop: skip production, blocked and already parked resources; save the
capacity of the rest; park only those whose capacity was saved. A second stop
finds everything parked and saves nothing, so it can never overwrite the
saved capacity with zeros.

Start: restore only what was saved and is still parked, then clear what was
saved. A second start finds nothing saved and does nothing. A resource someone
started by hand is left as it is.

Dry run: discovery and the store's read only; no mutating call at all.

A kind (``kinds/``) only lists, parks and restores; everything above is
decided here, once for every kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cost_saver.kinds import ResourceKind
from cost_saver.model import (
    Action,
    Capacity,
    OptIn,
    Outcome,
    RegionClients,
    Resource,
    Result,
    describe_error,
    is_production,
)
from cost_saver.report import Report
from cost_saver.store import SavedCapacity, SavedCapacityStore, SavedRegion
from pipelines.errors import format_error

PRODUCTION = "tagged as production (environment=prod/production): never touched"


def park_or_restore(
    *,
    report: Report,
    opt_in: OptIn,
    clients: Mapping[str, RegionClients],
    store: SavedCapacityStore,
    kinds: Mapping[str, ResourceKind],
) -> Report:
    """Stop or start every opted-in resource of every region in ``clients``."""
    for region_clients in clients.values():
        if report.action is Action.STOP:
            for kind in kinds.values():
                _stop_kind(report, kind, region_clients, opt_in, store)
        else:
            _start_region(report, kinds, region_clients, opt_in, store)
    return report


def _discover(
    report: Report, kind: ResourceKind, clients: RegionClients, opt_in: OptIn
) -> list[Resource] | None:
    try:
        return kind.discover(clients, opt_in)
    except Exception as error:  # noqa: BLE001 - one kind or region that cannot be listed must not stop the others; reported, raised at the end.
        report.add_error(
            region=clients.region, kind=kind.name, error=f"listing failed: {describe_error(error)}"
        )
        return None


def _outcome(
    report: Report,
    resource: Resource,
    result: Result,
    *,
    after: Capacity | None = None,
    reason: str | None = None,
) -> None:
    report.add(
        Outcome(
            kind=resource.kind,
            id=resource.id,
            region=resource.region,
            action=report.action,
            result=result,
            capacity_before=resource.capacity,
            capacity_after=after,
            reason=reason,
        )
    )


def _parked(kind: ResourceKind, resource: Resource) -> Capacity:
    return {**resource.capacity, **kind.parked_values}


def _stop_kind(
    report: Report,
    kind: ResourceKind,
    clients: RegionClients,
    opt_in: OptIn,
    store: SavedCapacityStore,
) -> None:
    resources = _discover(report, kind, clients, opt_in)
    if resources is None:
        return
    candidates: list[Resource] = []
    for resource in resources:
        if is_production(resource.tags):
            _outcome(report, resource, Result.SKIPPED, reason=PRODUCTION)
        elif resource.blocked:
            _outcome(report, resource, Result.SKIPPED, reason=resource.blocked)
        elif resource.parked:
            _outcome(
                report,
                resource,
                Result.SKIPPED,
                reason="already parked: nothing saved, any capacity saved earlier is kept",
            )
        else:
            candidates.append(resource)
    if report.dry_run:
        for resource in candidates:
            _outcome(
                report,
                resource,
                Result.PLANNED,
                after=_parked(kind, resource),
                reason="dry run: would save the capacity, then park",
            )
        return

    # Saved first: a resource whose capacity could not be saved stays as it is,
    # since parking it would lose what to restore in the morning.
    save_failures = store.save(
        clients.region,
        [SavedCapacity(kind=kind.name, id=r.id, capacity=r.capacity) for r in candidates],
    )
    to_park = [r for r in candidates if r.id not in save_failures]
    park_failures = kind.park(clients, to_park) if to_park else {}
    for resource in candidates:
        if resource.id in save_failures:
            _outcome(
                report,
                resource,
                Result.FAILED,
                reason=f"capacity not saved, so left running: {save_failures[resource.id]}",
            )
        elif resource.id in park_failures:
            _outcome(report, resource, Result.FAILED, reason=park_failures[resource.id])
        else:
            _outcome(report, resource, Result.DONE, after=_parked(kind, resource))


def _start_region(
    report: Report,
    kinds: Mapping[str, ResourceKind],
    clients: RegionClients,
    opt_in: OptIn,
    store: SavedCapacityStore,
) -> None:
    try:
        saved = store.load(clients.region)
    except Exception as error:  # noqa: BLE001 - the other regions are still restored; reported, raised at the end.
        report.add_error(
            region=clients.region,
            kind=None,
            error=f"reading the saved capacity failed: {describe_error(error)}",
        )
        return
    # Databases first: the compute coming back expects them up.
    for kind in reversed(list(kinds.values())):
        _start_kind(report, kind, clients, opt_in=opt_in, store=store, saved=saved)
    for kind_name in sorted(set(saved.capacities) | set(saved.unreadable)):
        if kind_name not in kinds:
            report.add_error(
                region=clients.region,
                kind=kind_name,
                error=format_error(
                    None,
                    f"capacity saved for an unknown kind {kind_name!r}; known kinds: "
                    f"{', '.join(kinds)}",
                    "delete those items from the table",
                ),
            )


@dataclass(kw_only=True)
class _StartPlan:
    to_restore: list[tuple[Resource, Capacity]] = field(default_factory=list)
    # Saved, but running again (started by hand): left as it is, record cleared.
    to_forget: list[Resource] = field(default_factory=list)


def _start_kind(
    report: Report,
    kind: ResourceKind,
    clients: RegionClients,
    *,
    opt_in: OptIn,
    store: SavedCapacityStore,
    saved: SavedRegion,
) -> None:
    resources = _discover(report, kind, clients, opt_in)
    if resources is None:
        return
    plan = _plan_start(
        report,
        kind,
        clients.region,
        resources,
        capacities=saved.capacities.get(kind.name, {}),
        unreadable=saved.unreadable.get(kind.name, {}),
    )
    if report.dry_run:
        for resource, capacity in plan.to_restore:
            _outcome(
                report,
                resource,
                Result.PLANNED,
                after=capacity,
                reason="dry run: would restore the saved capacity, then clear it",
            )
        for resource in plan.to_forget:
            _outcome(report, resource, Result.SKIPPED, reason=_RUNNING_AGAIN + " (dry run: kept)")
    else:
        _apply_start(report, kind, clients, store, plan)


def _plan_start(
    report: Report,
    kind: ResourceKind,
    region: str,
    resources: list[Resource],
    *,
    capacities: Mapping[str, Capacity],
    unreadable: Mapping[str, str],
) -> _StartPlan:
    """Sort what was saved into what to restore, and report everything else now."""
    plan = _StartPlan()
    found = {resource.id: resource for resource in resources}
    for resource_id, capacity in capacities.items():
        resource = found.get(resource_id)
        if resource is None:
            _missing(report, kind, region, resource_id, capacity)
        elif is_production(resource.tags) or resource.blocked:
            reason = PRODUCTION if is_production(resource.tags) else resource.blocked
            _outcome(report, resource, Result.SKIPPED, reason=f"{reason}; saved capacity kept")
        elif resource.parked:
            plan.to_restore.append((resource, capacity))
        else:
            plan.to_forget.append(resource)
    for resource_id, problem in unreadable.items():
        if resource_id in found:
            _outcome(report, found[resource_id], Result.FAILED, reason=problem)
        else:
            report.add_error(region=region, kind=kind.name, error=problem)
    for resource in resources:
        if resource.id not in capacities and resource.id not in unreadable:
            _nothing_saved(report, resource)
    return plan


def _apply_start(
    report: Report,
    kind: ResourceKind,
    clients: RegionClients,
    store: SavedCapacityStore,
    plan: _StartPlan,
) -> None:
    restore_failures = kind.restore(clients, plan.to_restore) if plan.to_restore else {}
    forget_ids = [r.id for r, _ in plan.to_restore if r.id not in restore_failures]
    forget_ids += [r.id for r in plan.to_forget]
    clear_failures = store.clear(clients.region, kind.name, forget_ids) if forget_ids else {}

    for resource, capacity in plan.to_restore:
        if resource.id in restore_failures:
            reason = f"{restore_failures[resource.id]}; saved capacity kept"
            _outcome(report, resource, Result.FAILED, after=capacity, reason=reason)
        elif resource.id in clear_failures:
            reason = (
                "restored, but its saved capacity could not be cleared (the next start would "
                f"restore it again if it is parked by hand): {clear_failures[resource.id]}"
            )
            _outcome(report, resource, Result.FAILED, after=capacity, reason=reason)
        else:
            _outcome(report, resource, Result.DONE, after=capacity)
    for resource in plan.to_forget:
        if resource.id in clear_failures:
            _outcome(report, resource, Result.FAILED, reason=clear_failures[resource.id])
        else:
            _outcome(report, resource, Result.SKIPPED, reason=_RUNNING_AGAIN)


_RUNNING_AGAIN = "not parked any more (started by someone): left as it is, saved capacity cleared"


def _missing(
    report: Report, kind: ResourceKind, region: str, resource_id: str, capacity: Capacity
) -> None:
    report.add(
        Outcome(
            kind=kind.name,
            id=resource_id,
            region=region,
            action=report.action,
            result=Result.SKIPPED,
            capacity_before=None,
            capacity_after=capacity,
            reason=(
                "capacity saved, but no opted-in resource with this id was found (deleted, or "
                "its opt-in tag removed): saved capacity kept; re-tag it to restore it, or "
                "delete the saved item"
            ),
        )
    )


def _nothing_saved(report: Report, resource: Resource) -> None:
    if is_production(resource.tags):
        reason = PRODUCTION
    elif resource.blocked:
        reason = resource.blocked
    elif resource.parked:
        reason = "parked, but no capacity saved (parked by someone else): left as it is"
    else:
        reason = "running, nothing to restore"
    _outcome(report, resource, Result.SKIPPED, reason=reason)
