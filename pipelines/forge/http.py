"""The one HTTP layer of the forge clients: JSON requests with retries, timeouts and redaction.

Retries on 5xx, 429, a rate-limit 403 (GitHub's secondary limits) and
transport errors, with exponential backoff, honouring ``Retry-After``. Any
other answer is returned to the caller at once, which decides what it means.

The token travels only in the request headers. Every text that leaves this
module (a log line, an error, an excerpt of an answer) has it replaced by
``***`` first, and an answer is redacted *before* it is cut short, so no
fragment of a token survives the cut.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from pipelines.forge.errors import PURPOSES, ForgeError, Purpose, fix_for

log = logging.getLogger("pipelines.forge")

Sleep = Callable[[float], Awaitable[None]]
# How much of an answer's body an error quotes.
BODY_EXCERPT = 300
USER_AGENT = "portable-pipelines"


async def default_sleep(seconds: float) -> None:
    """``anyio.sleep``, imported when a retry waits: config parsing imports this module."""
    import anyio

    await anyio.sleep(seconds)


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
class Request:
    method: str
    url: str
    # For messages: "commit deploy/overlays/staging/kustomization.yaml on promote/staging-...".
    what: str
    # A JSON body, or None to send none.
    body: Mapping[str, Any] | None = None
    # Query parameters, encoded by httpx.
    params: Mapping[str, str] | None = None


@dataclass(frozen=True, kw_only=True)
class Answer:
    """The first answer that was not worth retrying: a success or a refusal."""

    status: int
    # The body as the forge sent it (not redacted: it may be a file's content).
    text: str = field(repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.text)


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def excerpt(text: str, *, secret: str) -> str:
    """``text`` on one line, the secret redacted, then cut short: for error messages."""
    flat = " ".join(redact(text, secret).split())
    return flat if len(flat) <= BODY_EXCERPT else flat[:BODY_EXCERPT] + "..."


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


def is_retryable(status: int, headers: Mapping[str, str]) -> bool:
    """5xx, 429, and a 403 that GitHub's rate-limit headers mark as a rate limit."""
    if status >= 500 or status == 429:
        return True
    return status == 403 and (
        headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers
    )


@dataclass(frozen=True, kw_only=True)
class Connection:
    """One repository or project on one forge, as a client calls it.

    Every failure becomes a :class:`ForgeError` naming ``where``, with the
    fix for the purpose of the call and the token redacted.
    """

    # "GitHub repository acme/app": the where of every error.
    where: str
    # The authentication headers (they hold the token).
    headers: Mapping[str, str] = field(repr=False)
    token: str = field(repr=False)
    # What the token must be allowed on this forge, per purpose, for the fix of a refusal.
    permissions: Mapping[Purpose, str]
    # The config key that names where the service lives: "repository" or "project".
    key: str
    retry: RetryPolicy
    sleep: Sleep = field(repr=False)

    async def send(self, request: Request, *, purpose: Purpose) -> Answer:
        """The first answer not worth retrying; a ForgeError when none came after every attempt."""
        # Imported here: the engine imports this module on every call, most never send.
        import httpx

        policy = self.retry
        last_problem = "no attempt made"
        async with httpx.AsyncClient(timeout=policy.timeout, follow_redirects=False) as client:
            for attempt in range(1, policy.attempts + 1):
                retry_after: float | None = None
                try:
                    response = await client.request(
                        request.method,
                        request.url,
                        headers={"User-Agent": USER_AGENT, **self.headers},
                        json=dict(request.body) if request.body is not None else None,
                        params=dict(request.params) if request.params is not None else None,
                    )
                except httpx.TransportError as error:
                    last_problem = f"could not reach {request.url}: {type(error).__name__} {error}"
                else:
                    if not is_retryable(response.status_code, response.headers):
                        return Answer(status=response.status_code, text=response.text)
                    body = excerpt(response.text, secret=self.token)
                    last_problem = f"HTTP {response.status_code} {body}".rstrip()
                    retry_after = retry_after_seconds(response.headers.get("retry-after"))
                if attempt == policy.attempts:
                    break
                delay = policy.delay(attempt, retry_after)
                log.warning(
                    "%s",
                    redact(
                        f"{self.where}: {request.what}: {last_problem}; retrying in {delay:.1f}s "
                        f"(attempt {attempt} of {policy.attempts})",
                        self.token,
                    ),
                )
                await self.sleep(delay)
        raise self.error(
            f"{request.what}: no answer after {policy.attempts} attempts; last: {last_problem}",
            f"check the forge's status page and the API URL, then {PURPOSES[purpose].again}",
        )

    async def call(
        self,
        request: Request,
        *,
        purpose: Purpose,
        accept: Collection[int] = (),
        fixes: Mapping[int, str] | None = None,
    ) -> Answer:
        """A success, or a refusal in ``accept`` (the caller handles it); else a ForgeError.

        ``fixes`` replaces the table's fix for the statuses it names.
        """
        answer = await self.send(request, purpose=purpose)
        if answer.ok or answer.status in accept:
            return answer
        fix = (fixes or {}).get(answer.status)
        raise self.refused(answer, request.what, purpose=purpose, fix=fix)

    def error(self, problem: str, fix: str, *, kind: type[ForgeError] = ForgeError) -> ForgeError:
        """A ForgeError about this repository or project, the token redacted from every part."""
        return kind(
            where=redact(self.where, self.token),
            problem=redact(problem, self.token),
            fix=redact(fix, self.token),
        )

    def excerpt(self, answer: Answer) -> str:
        """The answer's body for a message: redacted, then cut short."""
        return excerpt(answer.text, secret=self.token)

    def refused(
        self,
        answer: Answer,
        what: str,
        *,
        purpose: Purpose,
        fix: str | None = None,
        kind: type[ForgeError] = ForgeError,
    ) -> ForgeError:
        """The error for a final answer that is not what was asked for."""
        problem = f"{what}: refused with HTTP {answer.status} {self.excerpt(answer)}"
        if fix is None:
            fix = fix_for(
                answer.status, purpose, permissions=self.permissions[purpose], key=self.key
            )
        return self.error(problem.rstrip(), fix, kind=kind)
