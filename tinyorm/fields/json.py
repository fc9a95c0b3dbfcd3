"""JSONField: any JSON-serialisable value, with paths and containment (``sql/json.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..exceptions import DataError
from ..sql.json import JsonEquals, _JsonOperand
from ..sql.nodes import Node
from .base import Field

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..dialects.base import Dialect
    from ..sql.nodes import Expression
    from .base import Adapter, _Options


class JSONField(Field[Any], _JsonOperand):
    """Any JSON-serialisable value; it round-trips by value. ``None`` is SQL NULL.

    ``Doc.data["user"]["name"]`` is a path into it (see ``sql/json.py`` and docs/json.md);
    ``Doc.data == {...}`` compares documents as JSON (a list is one value, not a row of
    values); ``has_key(k)`` and ``contains(value)`` (JSON containment) work on every engine.
    """

    field_type = "JSON"
    whole_values = True  # a list or tuple is one JSON value, not an IN-list or row value

    if TYPE_CHECKING:

        def __init__(self, *, null: bool = False, default: Any = None, **options: Unpack[_Options]) -> None: ...

    def _json_root_keys(self) -> tuple[JSONField, tuple[()]]:
        return self, ()

    def __eq__(self, rhs: object) -> Expression | JsonEquals:  # type: ignore[override]  # builds SQL, not a bool  # pyright: ignore[reportIncompatibleMethodOverride]
        if rhs is None or isinstance(rhs, Node):
            return Field.__eq__(self, rhs)
        return JsonEquals(self, rhs)

    def __ne__(self, rhs: object) -> Expression | JsonEquals:  # type: ignore[override]  # pyright: ignore[reportIncompatibleMethodOverride]
        if rhs is None or isinstance(rhs, Node):
            return Field.__ne__(self, rhs)
        return JsonEquals(self, rhs, negated=True)

    __hash__ = Field.__hash__

    def coerce(self, value: Any) -> Any:
        return value

    def _build_adapter(self, dialect: Dialect) -> Adapter:
        adapt = Field._build_adapter(self, dialect)
        qualified_name = self.qualified_name

        def adapt_json(value: Any) -> Any:
            try:
                return adapt(value)
            except DataError:
                raise
            except (TypeError, ValueError) as exc:
                raise DataError(f"{qualified_name}: not JSON-serialisable: {exc}") from None

        return adapt_json
