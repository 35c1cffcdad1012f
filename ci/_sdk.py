"""The SDK's decorators, re-exported with types mypy can apply.

``uncached_function`` is ``@function(cache="never")`` with a type.

``dagger.object_type`` is an overloaded *bound method* carrying
``@dataclass_transform``; mypy 2.x does not apply the transform through it
(constructing an object type fails with "Unexpected keyword argument"). For
type checking only, this module declares an equivalent decorator; at run
time the SDK's own decorators are used unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import dagger

T = TypeVar("T", bound=type)
F = TypeVar("F", bound=Callable[..., Any])

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

    def uncached_function(fn: F, /) -> F:
        """A Dagger function whose result the engine must never reuse."""
        ...

else:
    field = dagger.field
    object_type = dagger.object_type
    # Since engine v0.19.4 results are cached for 7 days by default; anything
    # with outside effects or outside inputs (a registry, a deployment, a
    # vulnerability DB, a commit status) must opt out. The typed overloads of
    # `function` do not declare `cache=`, hence this one typed alias.
    uncached_function = dagger.function(cache="never")

__all__ = ["field", "object_type", "uncached_function"]
