"""The SDK's decorators, with types mypy can apply and expected failures shown plainly.

``function`` and ``uncached_function`` (``@function(cache="never")``) wrap
each Dagger function so that an expected failure (bad input, failing tests,
a blocked gate: any :class:`pipelines.errors.PipelinesError`) reaches the
Dagger CLI as the SDK's ``FunctionError``. The SDK reports that error with
its message only; any other exception it logs with ``logger.exception``, a
full Python traceback beside the message (dagger-io 0.21.11,
``dagger/mod/_module.py``, ``Module.call``). Internal invariants
(``ValueError``, ``AssertionError``) keep their traceback: they are our bugs.

``dagger.object_type`` is an overloaded *bound method* carrying
``@dataclass_transform``; mypy 2.x does not apply the transform through it
(constructing an object type fails with "Unexpected keyword argument"). For
type checking only, this module declares an equivalent decorator; at run
time the SDK's own decorators are used.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import dagger

# Not re-exported by the SDK: dagger/mod/_exceptions.py defines it, and the
# module entry point (dagger/mod/cli.py) reports it without a traceback.
from dagger.mod._exceptions import FunctionError

from pipelines.errors import PipelinesError

T = TypeVar("T", bound=type)
F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """``fn`` with every PipelinesError turned into a FunctionError (the cause kept)."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except PipelinesError as error:
                raise FunctionError(str(error)) from error

        return cast(F, run_async)

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PipelinesError as error:
            raise FunctionError(str(error)) from error

    return cast(F, run)


if TYPE_CHECKING:
    from typing import dataclass_transform

    def field(
        *,
        default: Any = ...,
        name: str | None = None,
        init: bool = True,
        deprecated: str | None = None,
    ) -> Any: ...

    @dataclass_transform(kw_only_default=True, field_specifiers=(field,))
    def object_type(cls: T, /) -> T: ...

    def function(fn: F, /) -> F:
        """A Dagger function whose result the engine may cache (a pure function of its inputs)."""
        ...

    def uncached_function(fn: F, /) -> F:
        """A Dagger function whose result the engine must never reuse."""
        ...

    def check(fn: F, /) -> F:
        """Marks a function for `dagger check` (apply it below ``function``)."""
        ...

else:
    check = dagger.check
    field = dagger.field
    object_type = dagger.object_type

    def function(fn):
        return dagger.function(user_errors(fn))

    # Since engine v0.19.4 results are cached for 7 days by default; anything
    # with outside effects or outside inputs (a registry, a deployment, a
    # vulnerability DB, a commit status) must opt out. The typed overloads of
    # `function` do not declare `cache=`, hence this one typed alias.
    def uncached_function(fn):
        return dagger.function(cache="never")(user_errors(fn))


__all__ = [
    "FunctionError",
    "check",
    "field",
    "function",
    "object_type",
    "uncached_function",
    "user_errors",
]
