//! The Rust side of the `mlfusion` Python package: a DataFusion session with
//! every mlfusion function, DataFrames that hand their results to Python
//! through the Arrow C stream interface (no copies), and the exports of the
//! functions to a `datafusion.SessionContext` (`hosted` for the table
//! functions).
//!
//! Queries run on a Tokio runtime with the GIL released; while one runs, the
//! calling thread checks for Python signals every 100 ms, so Ctrl-C cancels
//! it with `KeyboardInterrupt`, and writes the query's progress lines
//! (`ml_tune`'s trials) to `sys.stderr`, which notebooks show under the cell.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use datafusion::arrow::array::RecordBatchIterator;
use datafusion::arrow::ffi::FFI_ArrowSchema;
use datafusion::arrow::ffi_stream::FFI_ArrowArrayStream;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::catalog::{TableFunctionImpl, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{lit, Expr};
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::{CsvReadOptions, DataFrame, ParquetReadOptions, SessionConfig};
use datafusion_ffi::proto::logical_extension_codec::FFI_LogicalExtensionCodec;
use datafusion_ffi::table_provider::FFI_TableProvider;
use datafusion_ffi::udaf::FFI_AggregateUDF;
use datafusion_ffi::udf::FFI_ScalarUDF;
use mlfusion::config::MlfusionOptions;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyCapsule, PyInt};
use tokio::runtime::Runtime;

mod hosted;

/// DataFusion's FFI is stable within a major version: the `datafusion`
/// Python package must share ours.
const DATAFUSION_MAJOR: u64 = 55;

create_exception!(
    _mlfusion,
    MlfusionError,
    PyException,
    "An error from mlfusion or DataFusion: bad SQL, a missing file, a bad option."
);

fn error(e: DataFusionError) -> PyErr {
    match mlfusion::statements::assertion_failure(&e) {
        // Without DataFusion's "External error" prefix.
        Some(assertion) => MlfusionError::new_err(assertion.to_string()),
        None => MlfusionError::new_err(e.strip_backtrace()),
    }
}

/// One multi-thread runtime for the process (what `ml_split` and friends
/// need for their planning-time I/O).
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a Tokio runtime")
    })
}

/// Queries waiting in [`wait`] now: while there is one, progress lines are
/// queued for a waiting thread to write; otherwise (a query run by another
/// host, such as datafusion-python) they go to the process's stderr.
static WAITING: AtomicUsize = AtomicUsize::new(0);
static PROGRESS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The progress sink: never takes the GIL itself, since the thread holding
/// it may be waiting for this very query.
fn queue_progress(line: &str) {
    if WAITING.load(Ordering::SeqCst) > 0 {
        if let Ok(mut lines) = PROGRESS.lock() {
            lines.push(line.to_string());
            return;
        }
    }
    // Not under the lock: writing may block.
    eprintln!("{line}");
}

/// Writes the queued progress lines to `sys.stderr`. A Ctrl-C that Python
/// raises inside the write (notebooks' `sys.stderr` is Python code) is
/// returned, not lost; other failures fall back to the process's stderr.
fn write_progress(py: Python<'_>) -> PyResult<()> {
    let lines = match PROGRESS.lock() {
        Ok(mut lines) if !lines.is_empty() => std::mem::take(&mut *lines),
        _ => return Ok(()),
    };
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let written = PyModule::import(py, "sys")
        .and_then(|sys| sys.getattr("stderr"))
        .and_then(|err| {
            err.call_method1("write", (text.as_str(),))?;
            err.call_method0("flush")
        });
    match written {
        Ok(_) => Ok(()),
        Err(e) if e.is_instance_of::<PyKeyboardInterrupt>(py) => Err(e),
        Err(_) => {
            eprint!("{text}");
            Ok(())
        }
    }
}

/// Counts a waiting query while alive.
struct Waiting;

impl Waiting {
    fn new() -> Self {
        WAITING.fetch_add(1, Ordering::SeqCst);
        Self
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `future` on the runtime without the GIL while this thread watches
/// for Python signals: Ctrl-C aborts the task (even while it plans, which
/// may block a worker on I/O) and raises `KeyboardInterrupt`.
fn wait<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = Result<T, DataFusionError>> + Send + 'static,
    T: Send + 'static,
{
    // Blocking on the runtime from one of its own threads (Python code that
    // a running query calls back) would panic: refuse instead.
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(MlfusionError::new_err(
            "mlfusion cannot run a query from code that a running mlfusion query called",
        ));
    }
    let waiting = Waiting::new();
    let result = py.detach(|| {
        let task = runtime().spawn(future);
        let abort = task.abort_handle();
        runtime().block_on(async {
            let interrupted = async {
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    // No interpreter (shutting down): nothing to check.
                    let checked = Python::try_attach(|py| {
                        py.check_signals()?;
                        write_progress(py)
                    });
                    if let Some(Err(e)) = checked {
                        return e;
                    }
                }
            };
            tokio::select! {
                joined = task => match joined {
                    Ok(result) => result.map_err(error),
                    Err(e) => Err(MlfusionError::new_err(format!("query task failed: {e}"))),
                },
                e = interrupted => {
                    abort.abort();
                    Err(e)
                }
            }
        })
    });
    drop(waiting);
    write_progress(py)?;
    result
}

/// A DataFusion session with every mlfusion function registered.
#[pyclass(module = "mlfusion._mlfusion")]
struct SessionContext {
    ctx: datafusion::prelude::SessionContext,
}

#[pymethods]
impl SessionContext {
    /// A session in this process, or with `ballista="df://host:port"` a
    /// client of that Apache DataFusion Ballista cluster.
    #[new]
    #[pyo3(signature = (ballista=None))]
    fn new(py: Python<'_>, ballista: Option<String>) -> PyResult<Self> {
        let ctx = match ballista {
            None => mlfusion::session_context(SessionConfig::new()),
            Some(url) => wait(py, async move {
                mlfusion::ballista::connect(&url, SessionConfig::new()).await
            })?,
        };
        Ok(Self { ctx })
    }

    /// Plans `query` (and runs it if it is DDL, SET or ASSERT) and returns a
    /// DataFrame.
    fn sql(&self, py: Python<'_>, query: String) -> PyResult<PyDataFrame> {
        let ctx = self.ctx.clone();
        let df = wait(py, async move { mlfusion::sql(&ctx, &query).await })?;
        Ok(PyDataFrame { df })
    }

    /// Registers Parquet files (a file, folder, glob or URL) as a table.
    fn register_parquet(&self, py: Python<'_>, name: String, path: String) -> PyResult<()> {
        let ctx = self.ctx.clone();
        wait(py, async move {
            ctx.register_parquet(&name, &path, ParquetReadOptions::default())
                .await
        })
    }

    /// Registers CSV files (a file, folder, glob or URL) as a table.
    #[pyo3(signature = (name, path, has_header=true, delimiter=","))]
    fn register_csv(
        &self,
        py: Python<'_>,
        name: String,
        path: String,
        has_header: bool,
        delimiter: &str,
    ) -> PyResult<()> {
        let [delimiter] = delimiter.as_bytes() else {
            return Err(MlfusionError::new_err(
                "register_csv: delimiter must be one ASCII character",
            ));
        };
        let delimiter = *delimiter;
        let ctx = self.ctx.clone();
        wait(py, async move {
            let options = CsvReadOptions::new()
                .has_header(has_header)
                .delimiter(delimiter);
            ctx.register_csv(&name, &path, options).await
        })
    }

    /// Registers the object store for `url` (`s3://bucket`, `gs://bucket`,
    /// `az://container`): the standard environment variables, then
    /// `options` in object_store's keys (`aws_endpoint`,
    /// `aws_access_key_id`, `aws_secret_access_key`, `aws_region`,
    /// `aws_allow_http`, `azure_storage_account_name`, …). Tables, sources
    /// and the model registry under `url` then use it.
    #[pyo3(signature = (url, options=None))]
    fn register_object_store(
        &self,
        url: &str,
        options: Option<Vec<(String, String)>>,
    ) -> PyResult<()> {
        let parsed = url::Url::parse(url).map_err(|e| {
            MlfusionError::new_err(format!(
                "register_object_store: {url:?} is not a URL such as s3://bucket: {e}"
            ))
        })?;
        let store = mlfusion::object_stores::cloud_store(&parsed, &options.unwrap_or_default())
            .map_err(error)?;
        let base = url::Url::parse(&parsed[..url::Position::BeforePath])
            .map_err(|e| MlfusionError::new_err(format!("register_object_store: {url:?}: {e}")))?;
        self.ctx.register_object_store(&base, store);
        Ok(())
    }

    /// A registered table or view as a DataFrame.
    fn table(&self, py: Python<'_>, name: String) -> PyResult<PyDataFrame> {
        let ctx = self.ctx.clone();
        let df = wait(py, async move { ctx.table(name.as_str()).await })?;
        Ok(PyDataFrame { df })
    }

    /// Sets a session option, as `SET key = value` does
    /// (`mlfusion.registry`, `datafusion.execution.target_partitions`, …).
    fn set(&self, py: Python<'_>, key: &str, value: &str) -> PyResult<()> {
        // The key goes into the SQL as written: allow option names only.
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(MlfusionError::new_err(format!(
                "set: {key:?} is not an option name (letters, digits, '_' and '.')"
            )));
        }
        let ctx = self.ctx.clone();
        let sql = format!("SET {key} = '{}'", value.replace('\'', "''"));
        wait(py, async move { ctx.sql(&sql).await?.collect().await })?;
        Ok(())
    }
}

/// The result of a query, computed when asked for.
#[pyclass(name = "DataFrame", module = "mlfusion._mlfusion")]
struct PyDataFrame {
    df: DataFrame,
}

#[pymethods]
impl PyDataFrame {
    /// Runs the query; the result as an Arrow C stream (the Arrow PyCapsule
    /// interface): consumers take the batches without copying them.
    /// `requested_schema` is ignored (the protocol allows it).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let df = self.df.clone();
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = wait(py, async move { df.collect().await })?;
        let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
        PyCapsule::new_with_value(
            py,
            FFI_ArrowArrayStream::new(Box::new(reader)),
            c"arrow_array_stream",
        )
    }

    /// The result's schema (the Arrow PyCapsule interface), without running
    /// the query.
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let schema =
            FFI_ArrowSchema::try_from(self.df.schema().as_arrow()).map_err(|e| error(e.into()))?;
        PyCapsule::new_with_value(py, schema, c"arrow_schema")
    }

    /// The first `limit` rows as text, as the `mlfusion` CLI prints them.
    #[pyo3(signature = (limit=20))]
    fn to_string(&self, py: Python<'_>, limit: usize) -> PyResult<String> {
        let df = self.df.clone();
        let batches = wait(py, async move { df.limit(0, Some(limit))?.collect().await })?;
        Ok(pretty_format_batches(&batches)
            .map_err(|e| error(e.into()))?
            .to_string())
    }

    /// The first `n` rows, as a new DataFrame.
    fn limit(&self, n: usize) -> PyResult<PyDataFrame> {
        Ok(PyDataFrame {
            df: self.df.clone().limit(0, Some(n)).map_err(error)?,
        })
    }

    /// The logical plan, indented.
    fn logical_plan(&self) -> String {
        self.df.logical_plan().display_indent().to_string()
    }
}

/// An mlfusion scalar function, exported to other DataFusion builds (such as
/// the `datafusion` Python package) through DataFusion's FFI.
#[pyclass(name = "ScalarFunction", module = "mlfusion._mlfusion", frozen)]
struct ExportedScalarFunction {
    udf: Arc<ScalarUDF>,
}

#[pymethods]
impl ExportedScalarFunction {
    #[getter]
    fn name(&self) -> &str {
        self.udf.name()
    }

    fn __datafusion_scalar_udf__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        PyCapsule::new_with_value(
            py,
            FFI_ScalarUDF::from(Arc::clone(&self.udf)),
            c"datafusion_scalar_udf",
        )
    }
}

/// An mlfusion aggregate function, exported through DataFusion's FFI.
#[pyclass(name = "AggregateFunction", module = "mlfusion._mlfusion", frozen)]
struct ExportedAggregateFunction {
    udaf: Arc<AggregateUDF>,
}

#[pymethods]
impl ExportedAggregateFunction {
    #[getter]
    fn name(&self) -> &str {
        self.udaf.name()
    }

    fn __datafusion_aggregate_udf__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        PyCapsule::new_with_value(
            py,
            FFI_AggregateUDF::from(Arc::clone(&self.udaf)),
            c"datafusion_aggregate_udf",
        )
    }
}

/// An mlfusion table function for a `datafusion.SessionContext` (the host):
/// `mlfusion.register` wraps [`Self::call`] in a Python table function (see
/// `hosted` for why not DataFusion's FFI for table functions).
#[pyclass(name = "TableFunction", module = "mlfusion._mlfusion", frozen)]
struct ExportedTableFunction {
    name: &'static str,
    function: Arc<dyn TableFunctionImpl>,
    /// `host(name, open)`: see `hosted`.
    host: Arc<Py<PyAny>>,
    settings: MlfusionOptions,
}

#[pymethods]
impl ExportedTableFunction {
    #[getter]
    fn name(&self) -> &str {
        self.name
    }

    /// Calls the function with literal arguments (str, int, float, bool or
    /// None); the result is a table for the host.
    fn call(&self, py: Python<'_>, args: Vec<Bound<'_, PyAny>>) -> PyResult<HostedTable> {
        let args = args
            .iter()
            .map(|a| literal(self.name, a))
            .collect::<PyResult<Vec<Expr>>>()?;
        let function = Arc::clone(&self.function);
        let host = Arc::clone(&self.host);
        let settings = self.settings.clone();
        // Without the GIL: planning may look tables up in the host, which
        // takes it on another thread.
        let table = py
            .detach(|| {
                hosted::call(
                    function.as_ref(),
                    &args,
                    host,
                    settings,
                    runtime().handle().clone(),
                )
            })
            .map_err(error)?;
        Ok(HostedTable { table })
    }
}

/// A Python value as a literal argument.
fn literal(function: &str, value: &Bound<'_, PyAny>) -> PyResult<Expr> {
    Ok(if value.is_none() {
        lit(ScalarValue::Null)
    } else if let Ok(b) = value.cast::<PyBool>() {
        lit(b.is_true())
    } else if value.is_instance_of::<PyInt>() {
        lit(value.extract::<i64>().map_err(|_| {
            MlfusionError::new_err(format!(
                "{function}: the integer {value} does not fit in a BIGINT"
            ))
        })?)
    } else if let Ok(f) = value.extract::<f64>() {
        lit(f)
    } else if let Ok(s) = value.extract::<String>() {
        lit(s)
    } else {
        return Err(MlfusionError::new_err(format!(
            "{function}: arguments must be string, number or boolean literals, got {}",
            value.repr()?
        )));
    })
}

/// The result of a table function called from a host, handed to it through
/// DataFusion's FFI.
#[pyclass(module = "mlfusion._mlfusion", frozen)]
struct HostedTable {
    table: Arc<dyn TableProvider>,
}

#[pymethods]
impl HostedTable {
    /// The FFI table provider; `session` is the host's session (or its
    /// logical extension codec capsule), whose codec encodes expressions.
    fn __datafusion_table_provider__<'py>(
        &self,
        py: Python<'py>,
        session: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let codec = logical_codec(&session)?;
        PyCapsule::new_with_value(
            py,
            FFI_TableProvider::new_with_ffi_codec(
                Arc::clone(&self.table),
                false,
                Some(runtime().handle().clone()),
                codec,
            ),
            c"datafusion_table_provider",
        )
    }
}

/// The logical extension codec of a foreign session: its
/// `__datafusion_logical_extension_codec__()` capsule, or that capsule itself.
fn logical_codec(session: &Bound<'_, PyAny>) -> PyResult<FFI_LogicalExtensionCodec> {
    const NAME: &std::ffi::CStr = c"datafusion_logical_extension_codec";
    let capsule = if session.hasattr("__datafusion_logical_extension_codec__")? {
        session.call_method0("__datafusion_logical_extension_codec__")?
    } else {
        session.clone()
    };
    let capsule = capsule.cast_into::<PyCapsule>().map_err(|_| {
        MlfusionError::new_err(
            "mlfusion: the host session has no DataFusion logical extension codec",
        )
    })?;
    let pointer = capsule.pointer_checked(Some(NAME))?;
    // SAFETY: the capsule's name says it holds an FFI_LogicalExtensionCodec,
    // alive while the capsule is; cloning it goes through its own FFI clone.
    Ok(unsafe { pointer.cast::<FFI_LogicalExtensionCodec>().as_ref() }.clone())
}

/// mlfusion's table functions for a host context: `host(name, open)` returns
/// the host's DataFrame for table `name` (or None), or without `open` whether
/// it exists; `registry` is their
/// `mlfusion.registry` (default `./mlfusion_registry`).
#[pyfunction]
#[pyo3(signature = (host, registry=None))]
fn table_functions(host: Py<PyAny>, registry: Option<String>) -> Vec<ExportedTableFunction> {
    let host = Arc::new(host);
    let mut settings = MlfusionOptions::default();
    if let Some(registry) = registry {
        settings.registry = registry;
    }
    mlfusion::table_functions()
        .into_iter()
        .map(|(name, function)| ExportedTableFunction {
            name,
            function,
            host: Arc::clone(&host),
            settings: settings.clone(),
        })
        .collect()
}

/// mlfusion's scalar functions, for registration in another DataFusion.
#[pyfunction]
fn scalar_functions() -> Vec<ExportedScalarFunction> {
    mlfusion::udfs::scalar_functions()
        .into_iter()
        .map(|udf| ExportedScalarFunction { udf })
        .collect()
}

/// mlfusion's aggregate functions, for registration in another DataFusion.
#[pyfunction]
fn aggregate_functions() -> Vec<ExportedAggregateFunction> {
    mlfusion::udfs::aggregate_functions()
        .into_iter()
        .map(|udaf| ExportedAggregateFunction { udaf })
        .collect()
}

#[pymodule]
fn _mlfusion(m: &Bound<'_, PyModule>) -> PyResult<()> {
    mlfusion::progress::set_sink(Some(Arc::new(queue_progress)));
    m.add_class::<SessionContext>()?;
    m.add_class::<PyDataFrame>()?;
    m.add_class::<ExportedScalarFunction>()?;
    m.add_class::<ExportedAggregateFunction>()?;
    m.add_function(wrap_pyfunction!(scalar_functions, m)?)?;
    m.add_function(wrap_pyfunction!(aggregate_functions, m)?)?;
    m.add_class::<ExportedTableFunction>()?;
    m.add_class::<HostedTable>()?;
    m.add_function(wrap_pyfunction!(table_functions, m)?)?;
    // The DataFusion major version whose FFI these functions speak.
    m.add("DATAFUSION_MAJOR", DATAFUSION_MAJOR)?;
    m.add("MlfusionError", m.py().get_type::<MlfusionError>())?;
    m.add("__version__", mlfusion::MLFUSION_VERSION)?;
    Ok(())
}
