"""Throttling is backoff, not splitting: a throttled batch is retried whole, within a budget."""

from __future__ import annotations

from collections.abc import Callable

from cost_saver.handler import RETRY_ATTEMPTS
from tests.unit.cost_saver.conftest import HOME, OPTED_IN, CostSaver, Fleet, Throttle


def test_a_batch_throttled_three_times_goes_through_whole_after_backing_off(
    aws: Fleet, cost_saver: Callable[..., CostSaver], no_backoff: list[float]
) -> None:
    ids = aws.instances(HOME, 64, OPTED_IN)
    saver = cost_saver(regions=[HOME])
    throttle = saver.throttle(Throttle(times=3))

    report = saver.run("stop")

    assert report["errors"] == []
    assert {aws.instance_state(HOME, i) for i in ids} == {"stopped"}
    # One logical call for the 64, sent four times; no split into smaller batches.
    assert saver.operations().count("StopInstances") == 1
    assert throttle.count("StopInstances") == 4
    # Every call of the run was throttled three times and still went through.
    assert len(throttle.sends) == 4 * len(saver.calls)
    assert len(no_backoff) == 3 * len(saver.calls)
    assert all(pause > 0 for pause in no_backoff)


def test_a_batch_refused_every_time_is_not_split_and_spends_exactly_the_budget(
    aws: Fleet, cost_saver: Callable[..., CostSaver], no_backoff: list[float]
) -> None:
    ids = aws.instances(HOME, 64, OPTED_IN)
    saver = cost_saver(regions=[HOME])
    throttle = saver.throttle(Throttle(operations={"StopInstances"}))

    raised = saver.run_failing("stop")

    assert saver.operations().count("StopInstances") == 1
    # The budget is attempts in all, the first included.
    assert throttle.count("StopInstances") == RETRY_ATTEMPTS == 6
    assert len(no_backoff) == RETRY_ATTEMPTS - 1
    assert {aws.instance_state(HOME, i) for i in ids} == {"running"}
    errors = raised.report.errors()
    assert sorted(str(e["id"]) for e in errors) == sorted(ids)
    assert all("RequestLimitExceeded" in str(e["error"]) for e in errors)


def test_once_a_kind_runs_out_of_retries_the_rest_of_it_is_not_attempted(
    aws: Fleet, cost_saver: Callable[..., CostSaver], no_backoff: list[float]
) -> None:
    for name in ("a", "b", "c"):
        aws.group(HOME, name, (1, 3, 2), OPTED_IN)
    aws.service(HOME, "apps", "api", 2, OPTED_IN)
    saver = cost_saver(regions=[HOME])
    throttle = saver.throttle(Throttle(operations={"UpdateAutoScalingGroup"}))

    raised = saver.run_failing("stop")

    # One group tried with the whole budget, the other two not called at all.
    assert saver.operations().count("UpdateAutoScalingGroup") == 1
    assert throttle.count("UpdateAutoScalingGroup") == RETRY_ATTEMPTS
    assert [aws.group_capacity(HOME, name) for name in ("a", "b", "c")] == [(1, 3, 2)] * 3
    reasons = {str(e["id"]): str(e["error"]) for e in raised.report.errors()}
    assert "Throttling" in reasons["a"]
    assert reasons["b"].startswith("not attempted: AWS kept refusing an earlier call of this kind")
    assert reasons["c"] == reasons["b"]
    # Another kind, another client: the service is parked as usual.
    assert aws.service_desired(HOME, "apps", "api") == 0
    assert no_backoff
