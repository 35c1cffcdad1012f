"""The rules every resource kind shares, region by region.

Stop: read the region's saved state; list every kind; leave alone what the
production guard refuses and what is blocked; record what is already parked
as *idle* (or keep what was saved for it when it was parked); check the
capacity of the rest by its kind's rule; save the whole region's state in one
fenced write; park only what was saved.

Start: read the region's saved state; list every kind, looking up by id what
was saved but no longer carries the opt-in tag; then for each saved resource
apply the merge of its kind (``capacity.py``), or refuse loudly (FAILED: the
Lambda run errors, the alarm fires) when it cannot be brought back: saved
capacity that breaks its rule, a resource that became production or lost its
tag while parked, a scaling resource found parked with nothing saved. A
saved record is dropped only once its resource is back, runs again anyway,
or no longer exists. EC2 instances and databases need no saved numbers: one
found stopped with nothing saved is started, unless the stop recorded it as
idle.

Everything a run writes happens under the lease taken by the handler, and
each state write is fenced by it (``store.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from cost_saver.capacity import InvalidCapacity
from cost_saver.kinds import ResourceKind
from cost_saver.model import (
    Action,
    Capacity,
    Outcome,
    RegionClients,
    Resource,
    Result,
    describe_error,
    format_capacity,
)
from cost_saver.report import Report
from cost_saver.settings import Settings
from cost_saver.state import KindState, RegionState
from cost_saver.store import Lease, StateStore
from pipelines.errors import format_error

_DOCS = "docs/cost-saver.md"


def park_or_restore(
    *,
    report: Report,
    settings: Settings,
    clients: Mapping[str, RegionClients],
    store: StateStore,
    kinds: Mapping[str, ResourceKind],
    lease: Lease | None,
) -> Report:
    """Stop or start every opted-in resource of every region in ``clients``.

    ``lease`` is None only for a dry run, which writes nothing.
    """
    for region_clients in clients.values():
        try:
            state = store.load(region_clients.region)
        except Exception as error:  # noqa: BLE001 - the other regions still run; reported, raised at the end.
            report.add_error(
                region=region_clients.region,
                kind=None,
                error=f"reading the saved state failed: {describe_error(error)}; nothing in "
                "this region was touched",
            )
            continue
        region = _Region(
            report=report,
            settings=settings,
            clients=region_clients,
            store=store,
            state=state,
            lease=lease,
        )
        if report.action is Action.STOP:
            region.stop(kinds)
        else:
            region.start(kinds)
    return report


@dataclass(kw_only=True)
class _Restore:
    resource: Resource
    target: Capacity
    saved: Capacity | None
    changes: dict[str, dict[str, int | str]]
    reason: str | None


@dataclass(kw_only=True)
class _KindPlan:
    kind: ResourceKind
    state: KindState
    to_park: list[Resource] = field(default_factory=list)
    to_restore: list[_Restore] = field(default_factory=list)


@dataclass(kw_only=True)
class _Region:
    report: Report
    settings: Settings
    clients: RegionClients
    store: StateStore
    state: RegionState
    lease: Lease | None

    @property
    def name(self) -> str:
        return self.clients.region

    # --- shared -------------------------------------------------------------------

    def _discover(self, kind: ResourceKind, also: Collection[str] = ()) -> list[Resource] | None:
        if kind.name in self.state.unreadable:
            self.report.add_error(
                region=self.name, kind=kind.name, error=self.state.unreadable[kind.name]
            )
            return None
        try:
            return kind.discover(self.clients, self.settings.opt_in, also=also)
        except Exception as error:  # noqa: BLE001 - one kind or region that cannot be listed must not stop the others; reported, raised at the end.
            self.report.add_error(
                region=self.name,
                kind=kind.name,
                error=f"listing failed: {describe_error(error)}; its saved state is kept as it is",
            )
            return None

    def _refusal(self, resource: Resource) -> str | None:
        if not resource.opted_in:
            return f"its {self.settings.opt_in.key} tag was removed"
        # Blocked first: "member of group web" says more than the member's own tags.
        return resource.blocked or self.settings.guard.refusal(resource)

    def _outcome(
        self,
        resource: Resource,
        result: Result,
        *,
        after: Capacity | None = None,
        reason: str | None = None,
        saved: Capacity | None = None,
        changes: Mapping[str, Mapping[str, int | str]] | None = None,
    ) -> None:
        self.report.add(
            Outcome(
                kind=resource.kind,
                id=resource.id,
                region=resource.region,
                action=self.report.action,
                result=result,
                capacity_before=resource.capacity,
                capacity_after=after,
                reason=reason,
                saved=saved,
                changed_while_parked=changes or None,
            )
        )

    def _save(self, plans: list[_KindPlan]) -> dict[str, str]:
        if self.lease is None:
            raise AssertionError("a run that writes holds the lease")
        try:
            return self.store.save(self.state, {p.kind.name: p.state for p in plans}, self.lease)
        except Exception as error:  # noqa: BLE001 - nothing that depends on the write is done; reported.
            return dict.fromkeys((p.kind.name for p in plans), describe_error(error))

    # --- stop ---------------------------------------------------------------------

    def stop(self, kinds: Mapping[str, ResourceKind]) -> None:
        plans: list[_KindPlan] = []
        for kind in kinds.values():
            resources = self._discover(kind)
            if resources is not None:
                plans.append(self._plan_stop(kind, resources))
        if self.report.dry_run:
            for plan in plans:
                for resource in plan.to_park:
                    self._outcome(
                        resource,
                        Result.PLANNED,
                        after=_parked(plan.kind, resource),
                        reason="dry run: would save the capacity, then park",
                    )
            return
        # Saved first, the whole region at once: a resource whose capacity was
        # not saved stays as it is, since parking it would lose what to restore.
        save_failures = self._save(plans)
        for plan in plans:
            if plan.kind.name in save_failures:
                error = save_failures[plan.kind.name]
                for resource in plan.to_park:
                    self._outcome(
                        resource,
                        Result.FAILED,
                        reason=f"capacity not saved, so left as it is: {error}",
                    )
                continue
            park_failures = plan.kind.park(self.clients, plan.to_park) if plan.to_park else {}
            for resource in plan.to_park:
                if resource.id in park_failures:
                    # Its saved record stays: the morning finds it running at that
                    # capacity, which the merge leaves as it is.
                    self._outcome(resource, Result.FAILED, reason=park_failures[resource.id])
                else:
                    self._outcome(resource, Result.DONE, after=_parked(plan.kind, resource))

    def _plan_stop(self, kind: ResourceKind, resources: list[Resource]) -> _KindPlan:
        old = self.state.kind(kind.name)
        entries = dict(old.parked)
        idle: set[str] = set()
        to_park: list[Resource] = []
        for resource in resources:
            refusal = self._refusal(resource)
            saved_earlier = resource.id in entries
            if refusal:
                # Dropped only when it surely runs: one in transition may end up parked.
                if saved_earlier and not resource.parked and not resource.blocked:
                    del entries[resource.id]
                    refusal += "; it runs, so the capacity saved for it earlier was dropped"
                elif saved_earlier:
                    refusal += "; the capacity saved when it was parked is kept"
                self._outcome(resource, Result.SKIPPED, reason=refusal)
            elif resource.parked and saved_earlier:
                self._outcome(
                    resource,
                    Result.SKIPPED,
                    reason="already parked: the capacity saved when it was parked is kept",
                )
            elif resource.parked:
                idle.add(resource.id)
                self._outcome(
                    resource,
                    Result.SKIPPED,
                    reason="already parked, with nothing saved: recorded as idle, so the "
                    "morning start leaves it parked too",
                )
            else:
                self._plan_park(kind, resource, entries, to_park)
        return _KindPlan(
            kind=kind, state=KindState(parked=entries, idle=frozenset(idle)), to_park=to_park
        )

    def _plan_park(
        self,
        kind: ResourceKind,
        resource: Resource,
        entries: dict[str, object],
        to_park: list[Resource],
    ) -> None:
        try:
            capacity = kind.rule.read(dict(resource.capacity), ceiling=self.settings.ceiling)
        except InvalidCapacity as error:
            # A capacity the morning would refuse is never saved, so never parked.
            entries.pop(resource.id, None)
            self._outcome(
                resource,
                Result.FAILED,
                reason=format_error(
                    None,
                    f"not parked: its capacity cannot be saved ({error})",
                    "raise COST_SAVER_MAX_CAPACITY (the template's MaxCapacity) if the group "
                    f"really is that big, or remove its {self.settings.opt_in.key} tag",
                ),
            )
            return
        # Running now: what it has now is what to restore (an older record,
        # left by a start that could not clear it, is replaced).
        entries[resource.id] = dict(capacity)
        to_park.append(resource)

    # --- start --------------------------------------------------------------------

    def start(self, kinds: Mapping[str, ResourceKind]) -> None:
        plans: list[_KindPlan] = []
        # Databases first: the compute coming back expects them up.
        for kind in reversed(list(kinds.values())):
            old = self.state.kind(kind.name)
            resources = self._discover(kind, also=sorted(old.parked))
            if resources is None:
                continue
            plan = self._plan_start(kind, resources, old)
            if self.report.dry_run:
                for restore in plan.to_restore:
                    self._restored(restore, Result.PLANNED, "dry run: would restore, then clear")
            else:
                self._apply_start(plan)
            plans.append(plan)
        self._unknown_kinds(kinds)
        if self.report.dry_run:
            return
        for kind_name, error in self._save(plans).items():
            self.report.add_error(
                region=self.name,
                kind=kind_name,
                error=format_error(
                    None,
                    f"restored, but the saved state could not be updated: {error}",
                    "nothing to undo: the next start finds these resources at their saved "
                    "capacity and clears it; if the table keeps failing, see the error",
                ),
            )

    def _plan_start(
        self, kind: ResourceKind, resources: list[Resource], old: KindState
    ) -> _KindPlan:
        found = {resource.id: resource for resource in resources}
        keep: dict[str, object] = {}
        plan = _KindPlan(kind=kind, state=KindState())
        for resource_id, stored in old.parked.items():
            resource = found.get(resource_id)
            if resource is None:
                self._gone(kind, resource_id, stored)
            elif not self._plan_saved(kind, plan, resource, stored):
                keep[resource_id] = stored
        for resource in resources:
            if resource.id not in old.parked:
                self._plan_unsaved(kind, plan, resource, old)
        plan.state = KindState(parked=keep)
        return plan

    def _plan_saved(
        self, kind: ResourceKind, plan: _KindPlan, resource: Resource, stored: object
    ) -> bool:
        """Plan one saved resource; False when its record must be kept."""
        try:
            saved = kind.rule.read(stored, ceiling=self.settings.ceiling)
        except InvalidCapacity as error:
            by_hand = kind.restore_command(self.name, resource.id, _placeholders(resource))
            self._outcome(
                resource,
                Result.FAILED,
                reason=format_error(
                    f"saved capacity of {kind.name} {resource.id} in DynamoDB table "
                    f"{self.store.table} (region={self.name}, resource=state#{kind.name}#...)",
                    f"refused: {error}; left as it is",
                    f'correct the entry ({_DOCS}, "The saved state"), or set the capacity by '
                    f"hand ({by_hand}) and delete the entry",
                ),
            )
            return False
        refusal = self._refusal(resource)
        # Blocked (in transition, say still stopping) may well end up parked: kept, and loud.
        if refusal and (resource.parked or resource.blocked):
            self._outcome(
                resource,
                Result.FAILED,
                saved=saved,
                reason=format_error(
                    None,
                    f"parked by the cost saver, but now {refusal}: left as it is, saved "
                    "capacity kept",
                    f"restore it by hand ({kind.restore_command(self.name, resource.id, saved)}) "
                    "and delete its saved entry, or undo that change (or wait for it to settle) "
                    "and run start again",
                ),
            )
            return False
        if refusal:
            self._outcome(
                resource,
                Result.SKIPPED,
                saved=saved,
                reason=f"{refusal}; it runs again, so its saved capacity was dropped",
            )
            return True
        target = kind.rule.target(saved=saved, found=resource.capacity)
        changes = _changes(kind, saved, resource.capacity)
        if dict(target) == dict(resource.capacity):
            self._outcome(
                resource,
                Result.SKIPPED,
                after=None,
                saved=saved,
                changes=changes,
                reason="already at its saved capacity (started by someone?): nothing to do, "
                "saved capacity cleared",
            )
            return True
        reason = None
        if changes:
            reason = (
                f"changed while parked ({_describe_changes(changes)}): restored {kind.rule.merge}"
            )
        plan.to_restore.append(
            _Restore(resource=resource, target=target, saved=saved, changes=changes, reason=reason)
        )
        return True

    def _plan_unsaved(
        self, kind: ResourceKind, plan: _KindPlan, resource: Resource, old: KindState
    ) -> None:
        refusal = self._refusal(resource)
        if refusal:
            self._outcome(resource, Result.SKIPPED, reason=refusal)
        elif not resource.parked:
            self._outcome(resource, Result.SKIPPED, reason="running, nothing to restore")
        elif resource.id in old.idle:
            self._outcome(
                resource,
                Result.SKIPPED,
                reason="was already parked when the evening stop ran (nothing saved): left parked",
            )
        elif not kind.rule.needs_saved:
            plan.to_restore.append(
                _Restore(
                    resource=resource,
                    target=kind.rule.target(saved=None, found=resource.capacity),
                    saved=None,
                    changes={},
                    reason="stopped with nothing saved and not recorded as idle (saved state "
                    "lost, or stopped by hand): started, as its opt-in tag asks",
                )
            )
        else:
            self._outcome(
                resource,
                Result.FAILED,
                reason=format_error(
                    None,
                    f"parked ({format_capacity(resource.capacity)}) with nothing saved: the saved "
                    "state is gone (table emptied, replaced or repointed?) or it was scaled to "
                    "zero by hand; left as it is",
                    "set its capacity by hand: "
                    f"{kind.restore_command(self.name, resource.id, _placeholders(resource))}; "
                    f"to keep it at zero, remove its {self.settings.opt_in.key} tag",
                ),
            )

    def _apply_start(self, plan: _KindPlan) -> None:
        targets = [(r.resource, r.target) for r in plan.to_restore]
        failures = plan.kind.restore(self.clients, targets) if targets else {}
        keep = dict(plan.state.parked)
        stored = self.state.kind(plan.kind.name).parked
        for restore in plan.to_restore:
            resource_id = restore.resource.id
            if resource_id in failures:
                if resource_id in stored:
                    keep[resource_id] = stored[resource_id]
                self._restored(
                    restore,
                    Result.FAILED,
                    f"{failures[resource_id]}; saved capacity kept for the next start",
                )
            else:
                self._restored(restore, Result.DONE, restore.reason)
        plan.state = KindState(parked=keep)

    def _restored(self, restore: _Restore, result: Result, reason: str | None) -> None:
        if result is Result.PLANNED and restore.reason:
            reason = f"{reason}; {restore.reason}"
        self._outcome(
            restore.resource,
            result,
            after=restore.target,
            saved=restore.saved,
            changes=restore.changes,
            reason=reason,
        )

    def _gone(self, kind: ResourceKind, resource_id: str, stored: object) -> None:
        self.report.add(
            Outcome(
                kind=kind.name,
                id=resource_id,
                region=self.name,
                action=self.report.action,
                result=Result.SKIPPED,
                capacity_before=None,
                capacity_after=None,
                saved=stored if isinstance(stored, Mapping) else None,
                reason="capacity saved, but the resource no longer exists (deleted while "
                "parked): its saved capacity was dropped",
            )
        )

    def _unknown_kinds(self, kinds: Mapping[str, ResourceKind]) -> None:
        for kind_name in sorted((set(self.state.kinds) | set(self.state.unreadable)) - set(kinds)):
            self.report.add_error(
                region=self.name,
                kind=kind_name,
                error=format_error(
                    None,
                    f"state saved for an unknown kind {kind_name!r}; known kinds: "
                    f"{', '.join(kinds)}",
                    "delete those items from the table",
                ),
            )


def _parked(kind: ResourceKind, resource: Resource) -> Capacity:
    return {**resource.capacity, **kind.parked_values}


def _placeholders(resource: Resource) -> Capacity:
    return {key: f"<{key}>" for key in resource.capacity}


def _changes(
    kind: ResourceKind, saved: Capacity, found: Capacity
) -> dict[str, dict[str, int | str]]:
    """Every value found different from what the stop left (saved, then parked)."""
    left = {**saved, **kind.parked_values}
    return {
        key: {"parked": value, "found": found[key]}
        for key, value in left.items()
        if key in found and found[key] != value
    }


def _describe_changes(changes: Mapping[str, Mapping[str, int | str]]) -> str:
    return ", ".join(
        f"{key} {change['parked']} -> {change['found']}" for key, change in changes.items()
    )
