"""The SDK's decorators, re-exported with types mypy can apply.

``dagger.object_type`` is an overloaded *bound method* carrying
``@dataclass_transform``; mypy 2.x does not apply the transform through it
(constructing an object type fails with "Unexpected keyword argument"). For
type checking only, this module declares an equivalent decorator; at run
time the SDK's own decorators are used unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import dagger

T = TypeVar("T", bound=type)

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

else:
    field = dagger.field
    object_type = dagger.object_type

__all__ = ["field", "object_type"]
