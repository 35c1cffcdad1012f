"""JSON requests with retries, shared by the forge clients (commit statuses, promotion).

Retries on 5xx, 429, a rate-limit 403 (GitHub's secondary limits) and
transport errors, with exponential backoff, honouring ``Retry-After``. Any
other answer is returned to the caller at once, which decides what it means.
Every message that leaves this module is passed through :func:`redact` so
that the token never reaches an error or a log.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from pipelines.status.base import StatusPostError

log = logging.getLogger("pipelines.status")

Sleep = Callable[[float], Awaitable[None]]
_BODY_EXCERPT = 300


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    # Seconds for one request (connect, read, write).
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts}")

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        wanted = retry_after if retry_after is not None else self.base_delay * 2 ** (attempt - 1)
        return max(0.0, min(wanted, self.max_delay))


@dataclass(frozen=True, kw_only=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    # For messages: "GitHub status pipelines/dev=success on 1a2b3c4".
    what: str
    # A JSON body, or None to send none.
    body: Mapping[str, Any] | None = None
    # Query parameters, encoded by the client.
    params: Mapping[str, str] | None = None


@dataclass(frozen=True, kw_only=True)
class HttpAnswer:
    """The first answer that was not worth retrying: a success or a refusal."""

    status: int
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.text)

    def excerpt(self) -> str:
        """The body on one line, cut short: for error messages (redact it with the rest)."""
        return _excerpt(self.text)


class RetriesExhausted(Exception):
    """Every attempt got a retryable answer or none; ``last_problem`` is already redacted."""

    def __init__(self, *, attempts: int, last_problem: str) -> None:
        self.attempts = attempts
        self.last_problem = last_problem
        super().__init__(f"no usable answer after {attempts} attempts: {last_problem}")


@dataclass(frozen=True, kw_only=True)
class JsonPost:
    url: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    # For messages: "GitHub status pipelines/dev=success on 1a2b3c4".
    what: str
    # An error answer that means the status is already as wanted (GitLab
    # refuses a transition to the state a status already has).
    already_done: Callable[[int, str], bool] | None = None


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def retry_after_seconds(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` as seconds: either a number or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def _retryable(status: int, headers: Mapping[str, str]) -> bool:
    if status >= 500 or status == 429:
        return True
    # GitHub answers rate limits with 403 and says so in these headers.
    return status == 403 and (
        headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers
    )


async def send_with_retries(
    request: HttpRequest,
    *,
    secret: str,
    policy: RetryPolicy,
    sleep: Sleep,
    logger: logging.Logger = log,
) -> HttpAnswer:
    """The first answer not worth retrying; :class:`RetriesExhausted` when none came."""
    # Imported here: the engine imports this module on every call, most never send.
    import httpx

    last_problem = "no attempt made"
    async with httpx.AsyncClient(timeout=policy.timeout, follow_redirects=False) as client:
        for attempt in range(1, policy.attempts + 1):
            retry_after: float | None = None
            try:
                response = await client.request(
                    request.method,
                    request.url,
                    headers=dict(request.headers),
                    json=dict(request.body) if request.body is not None else None,
                    params=dict(request.params) if request.params is not None else None,
                )
            except httpx.TransportError as error:
                last_problem = f"could not reach {request.url}: {type(error).__name__} {error}"
            else:
                if not _retryable(response.status_code, response.headers):
                    return HttpAnswer(
                        status=response.status_code,
                        text=response.text,
                        headers={k.lower(): v for k, v in response.headers.items()},
                    )
                last_problem = f"HTTP {response.status_code} {_excerpt(response.text)}".rstrip()
                retry_after = retry_after_seconds(response.headers.get("retry-after"))
            if attempt == policy.attempts:
                break
            delay = policy.delay(attempt, retry_after)
            logger.warning(
                "%s",
                redact(
                    f"{request.what}: {last_problem}; retrying in {delay:.1f}s "
                    f"(attempt {attempt} of {policy.attempts})",
                    secret,
                ),
            )
            await sleep(delay)
    raise RetriesExhausted(attempts=policy.attempts, last_problem=redact(last_problem, secret))


async def post_with_retries(
    request: JsonPost, *, secret: str, policy: RetryPolicy, sleep: Sleep
) -> None:
    try:
        answer = await send_with_retries(
            HttpRequest(
                method="POST",
                url=request.url,
                headers=request.headers,
                body=request.body,
                what=request.what,
            ),
            secret=secret,
            policy=policy,
            sleep=sleep,
        )
    except RetriesExhausted as exhausted:
        raise StatusPostError(
            redact(
                f"{request.what}: not posted after {exhausted.attempts} attempts; last answer: "
                f"{exhausted.last_problem}\n  fix: check the forge's status page and the API "
                "URL, then re-run the status step; the commit keeps its previous status until "
                "then",
                secret,
            )
        ) from None
    if answer.ok:
        return
    if request.already_done is not None and request.already_done(answer.status, answer.text):
        log.info("%s: already in that state", request.what)
        return
    raise StatusPostError(
        redact(
            f"{request.what}: refused with HTTP {answer.status} {answer.excerpt()}".rstrip()
            + "\n  fix: "
            + _fix_for(answer.status),
            secret,
        )
    )


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _BODY_EXCERPT else text[:_BODY_EXCERPT] + "..."


def _fix_for(status: int) -> str:
    if status == 401:
        return "the token was rejected: check that it is current and passed as the status token"
    if status in (403, 404):
        return (
            "the token cannot write statuses to this repository, or the repository/project "
            "or API URL is wrong: grant it statuses write (GitHub) or api scope (GitLab)"
        )
    if status == 422:
        return "the forge rejected the status fields: check the commit id and the context name"
    return "see the answer above"
