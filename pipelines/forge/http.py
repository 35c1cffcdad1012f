"""The one HTTP layer of the forge clients: JSON requests with retries, deadlines and redaction.

Retries on 5xx, 429, a rate-limit 403 (GitHub's secondary limits), transport
errors and answers that did not arrive in time, with exponential backoff,
honouring ``Retry-After``. Any other answer is returned to the caller at
once, which decides what it means.

Time is bounded twice. httpx's ``timeout`` bounds each wait (connect, one
read, one write), so a server that trickles a byte every few seconds never
trips it; :attr:`RetryPolicy.deadline` bounds one whole request, the body
included, and :attr:`RetryPolicy.operation_deadline` one call with all its
retries and backoff. A body is read up to :data:`MAX_BODY` bytes.

The token travels only in the request headers. Every text that leaves this
module (a log line, an error, an excerpt of an answer) has it replaced by
``***`` first, in the forms a server may echo it in (percent-, JSON- and
HTML-escaped, base64 as in a Basic authorization), and an answer is redacted
*before* it is cut short, so no fragment of a token survives the cut.

What a forge answers is checked before it is used: :meth:`Connection.field`
and :meth:`Connection.items` turn an answer of another shape (a login page of
a proxy, an API that changed) into a :class:`ForgeError` naming what was
expected; :meth:`Connection.pages` follows every page of a list.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

from pipelines.forge.errors import PURPOSES, ForgeError, Purpose, fix_for

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("pipelines.forge")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
# How much of an answer's body an error quotes.
BODY_EXCERPT = 300
USER_AGENT = "portable-pipelines"
# No answer of the calls made here comes near this; a bigger one is not a forge's.
MAX_BODY = 8 * 1024 * 1024
# Items per page of a list call (the most both GitHub and GitLab allow).
PER_PAGE = 100
# A list longer than this many pages is a loop of "next" links, not a forge's list.
MAX_PAGES = 50
# The shortest base64 run of a token worth redacting: shorter ones occur by chance.
_MIN_ENCODED = 8


async def default_sleep(seconds: float) -> None:
    """``anyio.sleep``, imported when a retry waits: config parsing imports this module."""
    import anyio

    await anyio.sleep(seconds)


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    # Seconds for each wait within one request (connect, one read, one write).
    timeout: float = 10.0
    # Seconds for one whole request, its body read to the end.
    deadline: float = 30.0
    # Seconds for one call: every attempt and the waits between them.
    operation_deadline: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts}")
        if min(self.timeout, self.deadline, self.operation_deadline) <= 0:
            raise ValueError("timeout, deadline and operation_deadline must be > 0")

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
    # The next page of a list (a Link rel="next", or GitLab's x-next-page), if any.
    next_url: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed; ``ValueError`` when it is not JSON (see :meth:`Connection.field`)."""
        return json.loads(self.text)


def _char_forms(char: str) -> str:
    """A regex matching ``char`` as itself or escaped as a server might echo it."""
    code = ord(char)
    forms = [re.escape(char), rf"\\u{code:04x}", rf"&#0*{code};", rf"&#x0*{code:x};"]
    forms += [re.escape("%" + f"{byte:02x}") for byte in char.encode("utf-8")]
    if code < 0x100:
        forms.append(rf"\\x{code:02x}")
    entity = html.escape(char)
    if entity != char:
        forms.append(re.escape(entity))
    if char in '"\\/':
        forms.append(re.escape("\\" + char))
    return "(?:" + "|".join(forms) + ")"


def _base64_runs(secret: str) -> list[str]:
    """The base64 characters that only ``secret`` decides, at each of the 3 alignments.

    A Basic authorization ``base64(user:token)`` holds one of them whatever the user.
    """
    data = secret.encode("utf-8")
    runs: list[str] = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode("ascii")
        first = -(-8 * offset // 6)  # the first character with no bits of the padding
        last = 8 * (offset + len(data)) // 6
        run = encoded[first:last]
        if len(run) >= _MIN_ENCODED:
            runs += [run, run.replace("+", "-").replace("/", "_")]
    return runs


@functools.lru_cache(maxsize=16)
def _secret_pattern(secret: str) -> re.Pattern[str]:
    literal = "".join(_char_forms(char) for char in secret)
    encoded = [re.escape(run) for run in _base64_runs(secret)]
    # Case-insensitive: escapes use either case of hex, and masking a look-alike costs nothing.
    return re.compile("|".join([literal, *encoded]), re.IGNORECASE)


def redact(text: str, secret: str) -> str:
    """``text`` with ``secret`` replaced by ``***``, in every escaped form a server may echo."""
    return _secret_pattern(secret).sub("***", text) if secret else text


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


def _next_url(response: httpx.Response) -> str | None:
    """The next page a list answer points at: its Link rel="next", else GitLab's x-next-page."""
    link = response.links.get("next", {}).get("url")
    if link:
        return urljoin(str(response.request.url), link)
    page = response.headers.get("x-next-page", "").strip()
    if page.isdigit():
        return str(response.request.url.copy_set_param("page", page))
    return None


def _same_origin(url: str, base: str) -> bool:
    one, other = urlsplit(url), urlsplit(base)
    return (one.scheme, one.netloc) == (other.scheme, other.netloc)


_CHECK_API_URL = (
    "check that the API URL is the forge's REST API (a proxy's or a login page's answer "
    "looks like this), then run again"
)


class _TooLarge(Exception):
    """An answer's body went past MAX_BODY."""


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
    # Seconds, for the operation deadline; a test may pass its own.
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    async def send(self, request: Request, *, purpose: Purpose) -> Answer:
        """The first answer not worth retrying; a ForgeError when none came in time."""
        # Imported here: the engine imports this module on every call, most never send.
        import anyio
        import httpx

        policy = self.retry
        give_up_at = self.clock() + policy.operation_deadline
        last_problem = "no attempt made"
        attempt = 0
        async with httpx.AsyncClient(timeout=policy.timeout, follow_redirects=False) as client:
            while attempt < policy.attempts:
                attempt += 1
                retry_after: float | None = None
                budget = min(policy.deadline, give_up_at - self.clock())
                try:
                    with anyio.fail_after(budget):
                        status, headers, text, next_url = await self._exchange(client, request)
                except TimeoutError:
                    last_problem = (
                        f"no complete answer within {budget:.1f}s (a slow or trickling server; "
                        f"the deadline of one request is {policy.deadline:g}s)"
                    )
                except httpx.TransportError as error:
                    last_problem = f"could not reach {request.url}: {type(error).__name__} {error}"
                except httpx.InvalidURL as error:
                    # A bug of ours or an unchecked input: retrying cannot help.
                    raise self.error(
                        f"{request.what}: the request URL is invalid ({error})",
                        "report this as a bug of portable-pipelines, with the command run",
                    ) from None
                except _TooLarge:
                    raise self.error(
                        f"{request.what}: the answer is larger than {MAX_BODY // 2**20} MiB, "
                        "which no forge API call made here returns",
                        f"check {PURPOSES[purpose].settings.format(key=self.key)}: "
                        "the URL must be the forge's REST API",
                    ) from None
                else:
                    if not is_retryable(status, headers):
                        return Answer(status=status, text=text, next_url=next_url)
                    body = excerpt(text, secret=self.token)
                    last_problem = f"HTTP {status} {body}".rstrip()
                    retry_after = retry_after_seconds(headers.get("retry-after"))
                if attempt == policy.attempts:
                    break
                delay = policy.delay(attempt, retry_after)
                if self.clock() + delay >= give_up_at:
                    last_problem += (
                        f"; stopped: waiting {delay:.1f}s more would pass the deadline of "
                        f"{policy.operation_deadline:g}s for the whole call"
                    )
                    break
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
            f"{request.what}: no answer after {attempt} attempt{'s' if attempt > 1 else ''}; "
            f"last: {last_problem}",
            f"check the forge's status page and the API URL, then {PURPOSES[purpose].again}",
        )

    async def _exchange(
        self, client: httpx.AsyncClient, request: Request
    ) -> tuple[int, Mapping[str, str], str, str | None]:
        """One request and its whole answer, the body read up to MAX_BODY bytes."""
        built = client.build_request(
            request.method,
            request.url,
            headers={"User-Agent": USER_AGENT, **self.headers},
            json=dict(request.body) if request.body is not None else None,
            params=dict(request.params) if request.params is not None else None,
        )
        response = await client.send(built, stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY:
                    raise _TooLarge
        finally:
            await response.aclose()
        text = body.decode(response.encoding or "utf-8", errors="replace")
        return response.status_code, response.headers, text, _next_url(response)

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

    async def pages(
        self, request: Request, *, purpose: Purpose, fixes: Mapping[int, str] | None = None
    ) -> list[Mapping[str, Any]]:
        """Every item of a list call, page after page (``per_page`` at its largest).

        A "next" link to another host is refused: the token would follow it.
        """
        params = {"per_page": str(PER_PAGE), **(request.params or {})}
        page = Request(method=request.method, url=request.url, what=request.what, params=params)
        items: list[Mapping[str, Any]] = []
        for _ in range(MAX_PAGES):
            answer = await self.call(page, purpose=purpose, fixes=fixes)
            items += self.items(answer, request.what)
            if answer.next_url is None:
                return items
            if not _same_origin(answer.next_url, request.url):
                raise self.error(
                    f"{request.what}: the forge's next page is on another host "
                    f"({urlsplit(answer.next_url).netloc}); the token is not sent there",
                    "check that the API URL is the forge's own, not a proxy that rewrites links",
                )
            # The next link carries every parameter of the list.
            page = Request(method=request.method, url=answer.next_url, what=request.what)
        raise self.error(
            f"{request.what}: still more pages after {MAX_PAGES} pages of {PER_PAGE}",
            "check that the API URL is the forge's own: its next links seem to loop",
        )

    def unexpected(self, answer: Answer, what: str, expected: str) -> ForgeError:
        """The error for a success whose body is not what the API documents."""
        return self.error(
            f"{what}: unexpected answer (HTTP {answer.status}): expected {expected}; got "
            f"{self.excerpt(answer) or 'an empty body'}",
            _CHECK_API_URL,
        )

    def document(self, answer: Answer, what: str) -> Any:
        """The answer's JSON, or the error of an unexpected answer."""
        try:
            return answer.json()
        except ValueError:
            raise self.unexpected(answer, what, "a JSON body") from None

    def field(self, answer: Answer, what: str, path: tuple[str, ...], kind: type[T]) -> T:
        """``answer``'s JSON at ``path`` (object keys), of ``kind``; else a ForgeError."""
        value: Any = self.document(answer, what)
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        # bool is an int to isinstance; no field read here is meant to be one.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            expected = f"{'.'.join(path)} as {'an integer' if kind is int else 'a string'}"
            raise self.unexpected(answer, what, expected)
        return value

    def items(self, answer: Answer, what: str) -> list[Mapping[str, Any]]:
        """``answer``'s JSON as a list of objects; else a ForgeError."""
        value = self.document(answer, what)
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.unexpected(answer, what, "a JSON list of objects")
        return value

    def item_text(self, item: Mapping[str, Any], key: str, *, what: str) -> str:
        """``item[key]`` of a listed object as a string; else a ForgeError."""
        value = item.get(key)
        if not isinstance(value, str):
            raise self.error(
                f"{what}: unexpected answer: an item without {key} as a string "
                f"(keys: {', '.join(sorted(map(str, item))[:10]) or 'none'})",
                _CHECK_API_URL,
            )
        return value

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
