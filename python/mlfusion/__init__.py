"""mlfusion: reproducible ML data work as SQL on Apache DataFusion.

    >>> import mlfusion
    >>> ctx = mlfusion.SessionContext()          # every mlfusion function registered
    >>> splits = ctx.sql("SELECT * FROM ml_split('data/penguins.parquet', 'folds=5, stratify=species')")
    >>> splits.to_pandas()

Queries run in Rust with the GIL released; Ctrl-C interrupts a long one. Errors arrive as
:class:`MlfusionError` carrying DataFusion's message.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from . import _mlfusion
from ._mlfusion import MlfusionError, __version__
from ._mlfusion import SessionContext as _RustSessionContext

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import polars

__all__ = ["SessionContext", "DataFrame", "MlfusionError", "register", "__version__"]

#: Rows shown by ``repr`` and the notebook HTML view.
DISPLAY_ROWS = 25


class DataFrame:
    """The result of a query, computed each time it is asked for (so keep the result of
    ``to_pandas()`` of a query that acts, such as ``ml_train``, rather than converting it
    twice). Its notebook view runs the query once and keeps the first rows.

    Convert it with :meth:`to_arrow_table`, :meth:`to_pandas` or :meth:`to_polars`, or hand
    it to any Arrow-aware library (it implements ``__arrow_c_stream__``).
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._preview_table: pa.Table | None = None

    def to_arrow_table(self) -> pa.Table:
        """Runs the query; the result as a ``pyarrow.Table``."""
        return pa.ipc.open_stream(self._inner.collect_ipc()).read_all()

    def collect(self) -> list[pa.RecordBatch]:
        """Runs the query; the result as a list of ``pyarrow.RecordBatch``."""
        return self.to_arrow_table().to_batches()

    def to_pandas(self) -> "pandas.DataFrame":
        """Runs the query; the result as a ``pandas.DataFrame`` (needs pandas)."""
        return self.to_arrow_table().to_pandas()

    def to_polars(self) -> "polars.DataFrame":
        """Runs the query; the result as a ``polars.DataFrame`` (needs polars)."""
        import polars

        return polars.from_arrow(self.to_arrow_table())

    def schema(self) -> pa.Schema:
        """The result's Arrow schema (without running the query)."""
        return pa.ipc.open_stream(self.limit(0)._inner.collect_ipc()).schema

    def limit(self, n: int) -> "DataFrame":
        """The first ``n`` rows."""
        return DataFrame(self._inner.limit(n))

    def show(self, limit: int = 20) -> None:
        """Prints the first ``limit`` rows as the ``mlfusion`` CLI does."""
        print(self._inner.to_string(limit))

    def logical_plan(self) -> str:
        """The query's logical plan, indented."""
        return self._inner.logical_plan()

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        """The Arrow C stream interface: runs the query and exports the result."""
        return self.to_arrow_table().__arrow_c_stream__(requested_schema)

    def _preview(self) -> pa.Table:
        # One run of the query serves every view a notebook asks for (text and
        # HTML): a query with actions (ml_train, ml_deploy) must not run twice.
        if self._preview_table is None:
            self._preview_table = self.limit(DISPLAY_ROWS + 1).to_arrow_table()
        return self._preview_table

    def __repr__(self) -> str:
        table = self._preview()
        rows = [[_cell(v) for v in row.values()] for row in table.slice(0, DISPLAY_ROWS).to_pylist()]
        names = table.column_names
        widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
        line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
        fmt = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
        out = [line, fmt(names), line, *(fmt(r) for r in rows), line]
        if table.num_rows > DISPLAY_ROWS:
            out.append(f"(first {DISPLAY_ROWS} rows)")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        """An HTML table of the first rows, for Jupyter."""
        table = self._preview()
        more = table.num_rows > DISPLAY_ROWS
        rows = table.slice(0, DISPLAY_ROWS).to_pylist()
        head = "".join(f"<th>{html.escape(name)}</th>" for name in table.column_names)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row.values()) + "</tr>"
            for row in rows
        )
        note = f"<p>first {DISPLAY_ROWS} rows</p>" if more else ""
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def _cell(value: Any) -> str:
    return "NULL" if value is None else str(value)


class SessionContext:
    """A DataFusion session with every mlfusion function registered.

    The same names as ``datafusion.SessionContext``: :meth:`sql`, :meth:`register_parquet`,
    :meth:`register_csv`, :meth:`table`. Paths may be local or object store URLs
    (``s3://``, ``gs://``, ``az://``; credentials from the standard environment variables).
    """

    def __init__(self) -> None:
        self._inner = _RustSessionContext()

    def sql(self, query: str) -> DataFrame:
        """Plans ``query`` (running it at once if it is DDL or ``SET``)."""
        return DataFrame(self._inner.sql(query))

    def register_parquet(self, name: str, path: str) -> None:
        """Registers Parquet files (a file, folder, glob or URL) as table ``name``."""
        self._inner.register_parquet(name, str(path))

    def register_csv(self, name: str, path: str, has_header: bool = True, delimiter: str = ",") -> None:
        """Registers CSV files (a file, folder, glob or URL) as table ``name``."""
        self._inner.register_csv(name, str(path), has_header, delimiter)

    def table(self, name: str) -> DataFrame:
        """A registered table or view."""
        return DataFrame(self._inner.table(name))

    def set(self, key: str, value: str) -> None:
        """Sets a session option, e.g. ``ctx.set("mlfusion.registry", "s3://lake/models")``."""
        self._inner.set(key, str(value))


def register(ctx: Any) -> None:
    """Registers mlfusion's scalar and aggregate functions in a ``datafusion.SessionContext``.

    For users of the ``datafusion`` Python package who keep their own context::

        import datafusion, mlfusion
        dctx = datafusion.SessionContext()
        mlfusion.register(dctx)
        dctx.sql("SELECT abs_mod(farm_fingerprint(email), 10) AS bucket FROM users")

    The functions cross through DataFusion's FFI, which is stable within a major version:
    this build supports ``datafusion`` ``{major}.x``; another major version is refused with
    :class:`MlfusionError`. ``farm_fingerprint``, ``row_fingerprint`` (with its columns
    listed: ``*`` needs mlfusion's own context), ``abs_mod`` and ``dataset_fingerprint`` are
    registered; the table functions (``ml_split``, ``ml_train``, …) plan against mlfusion's
    own session, so use :class:`SessionContext` for them.
    """
    import datafusion

    major = _mlfusion.DATAFUSION_MAJOR
    found = getattr(datafusion, "__version__", "unknown")
    if found.split(".")[0] != str(major):
        raise MlfusionError(
            f"mlfusion.register: this mlfusion ({__version__}) speaks the FFI of DataFusion {major}; "
            f"the datafusion package here is {found}. Install datafusion=={major}.* "
            f"(pip install 'datafusion>={major},<{major + 1}')"
        )
    for function in _mlfusion.scalar_functions():
        ctx.register_udf(datafusion.udf(function))
    for function in _mlfusion.aggregate_functions():
        ctx.register_udaf(datafusion.udaf(function))


register.__doc__ = register.__doc__.format(major=_mlfusion.DATAFUSION_MAJOR)
