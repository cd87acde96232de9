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
import weakref
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
        """Runs the query; the result as a ``pyarrow.Table`` (its buffers are the query's own,
        not copies)."""
        return pa.RecordBatchReader.from_stream(self._inner).read_all()

    def collect(self) -> list[pa.RecordBatch]:
        """Runs the query; the result as a list of ``pyarrow.RecordBatch``."""
        return list(pa.RecordBatchReader.from_stream(self._inner))

    def to_pandas(self) -> "pandas.DataFrame":
        """Runs the query; the result as a ``pandas.DataFrame`` (needs pandas)."""
        return self.to_arrow_table().to_pandas()

    def to_polars(self) -> "polars.DataFrame":
        """Runs the query; the result as a ``polars.DataFrame`` (needs polars)."""
        import polars

        return polars.from_arrow(self.to_arrow_table())

    def schema(self) -> pa.Schema:
        """The result's Arrow schema (without running the query)."""
        return pa.schema(self._inner)

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
        """The Arrow C stream interface: runs the query and exports the result without
        copying it."""
        return self._inner.__arrow_c_stream__(requested_schema)

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
    :meth:`register_csv`, :meth:`register_object_store`, :meth:`table`. Paths may be local or object store URLs
    (``s3://``, ``gs://``, ``az://``; credentials from the standard environment variables).

    With ``ballista="df://host:port"``, queries run on that Apache DataFusion Ballista cluster
    (started with ``mlfusion scheduler`` and ``mlfusion executor``; see docs/cluster.md):
    the same SQL, the same results.
    """

    def __init__(self, ballista: str | None = None) -> None:
        self._inner = _RustSessionContext(ballista)

    def sql(self, query: str) -> DataFrame:
        """Plans ``query`` (running it at once if it is DDL, ``SET`` or ``ASSERT``).

        ``ASSERT <condition> [AS '<message>']`` raises :class:`MlfusionError`
        ("Assertion failed: <message> ...") unless the condition is TRUE.
        """
        return DataFrame(self._inner.sql(query))

    def register_parquet(self, name: str, path: str) -> None:
        """Registers Parquet files (a file, folder, glob or URL) as table ``name``."""
        self._inner.register_parquet(name, str(path))

    def register_csv(self, name: str, path: str, has_header: bool = True, delimiter: str = ",") -> None:
        """Registers CSV files (a file, folder, glob or URL) as table ``name``."""
        self._inner.register_csv(name, str(path), has_header, delimiter)

    def register_object_store(self, url: str, options: dict[str, str] | None = None) -> None:
        """Registers the object store for ``url`` (``s3://bucket``, ``gs://bucket``,
        ``az://container``): the standard environment variables, then ``options`` in
        object_store's keys, e.g. for an S3-compatible server::

            ctx.register_object_store("s3://lake", {
                "aws_endpoint": "http://127.0.0.1:9000", "aws_allow_http": "true",
                "aws_access_key_id": "...", "aws_secret_access_key": "...", "aws_region": "us-east-1",
            })

        Tables, table-function sources and the model registry under ``url`` then use it.
        """
        self._inner.register_object_store(str(url), [(str(k), str(v)) for k, v in (options or {}).items()])

    def table(self, name: str) -> DataFrame:
        """A registered table or view."""
        return DataFrame(self._inner.table(name))

    def set(self, key: str, value: str) -> None:
        """Sets a session option, e.g. ``ctx.set("mlfusion.registry", "s3://lake/models")``."""
        self._inner.set(key, str(value))


def register(ctx: Any, registry: str | None = None) -> None:
    """Registers every mlfusion function in a ``datafusion.SessionContext``.

    For users of the ``datafusion`` Python package who keep their own context::

        import datafusion, mlfusion
        dctx = datafusion.SessionContext()
        mlfusion.register(dctx)
        dctx.sql("SELECT abs_mod(farm_fingerprint(email), 10) AS bucket FROM users")
        dctx.sql("SELECT * FROM ml_split('users', 'folds=5')")

    The functions cross through DataFusion's FFI, which is stable within a major version:
    this build supports ``datafusion`` ``{major}.x``; another major version is refused with
    :class:`MlfusionError`. Registered: the scalar functions (``row_fingerprint`` with its
    columns listed, as ``*`` needs mlfusion's own context), the aggregates
    ``dataset_fingerprint`` and ``approx_top_values``, and the table functions
    (``ml_split``, ``ml_train``, ``ml_tune``, ``ml_trials``, ``ml_predict``,
    ``ml_evaluate``, ``ml_confusion_matrix``, ``ml_roc_curve``, ``ml_models``,
    ``ml_describe``, ``ml_deploy``).

    The table functions plan and run in a private mlfusion session that reads ``ctx``'s
    tables and views (those of its default schema, streamed through the Arrow C stream
    interface), so their sources may be ``ctx``'s table names, queries over them, or paths
    and URLs. Paths and URLs
    are read by mlfusion itself: object stores registered on ``ctx`` are not visible
    to it, so give ``s3://``/``gs://``/``az://`` credentials through the standard
    environment variables (or read the files through a table of ``ctx``).
    ``registry`` is where models are stored (the ``mlfusion.registry`` setting;
    default ``./mlfusion_registry``).
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
    host = weakref.ref(ctx)  # the registered functions must not keep ctx alive

    def host_table(name: str, open: bool) -> Any:
        # `name` is one identifier (it may hold dots, as 'data.parquet' does).
        quoted = '"' + name.replace('"', '""') + '"'
        live = host()
        exists = live is not None and live.table_exist(quoted)
        if not open:
            return exists
        return live.table(quoted) if exists else None

    for function in _mlfusion.table_functions(host_table, None if registry is None else str(registry)):
        ctx.register_udtf(datafusion.udtf(_host_call(function), function.name))


def _host_call(function: Any) -> Any:
    """``function`` as a Python table function: literal arguments in, a table provider out."""

    def call(*args: Any) -> Any:
        return function.call([_literal(arg) for arg in args])

    return call


def _literal(expr: Any) -> Any:
    try:
        value = expr.python_value()
    except Exception as e:
        raise MlfusionError(f"mlfusion table functions take literal arguments, got {expr}") from e
    return value.as_py() if hasattr(value, "as_py") else value


register.__doc__ = register.__doc__.format(major=_mlfusion.DATAFUSION_MAJOR)
