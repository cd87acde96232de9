//! The Rust side of the `mlfusion` Python package: a DataFusion session with
//! every mlfusion function, and DataFrames that hand their results to Python
//! as an Arrow IPC stream (pyarrow reads it; the Python side then offers the
//! Arrow C stream interface).
//!
//! Queries run on a Tokio runtime with the GIL released; while one runs, the
//! calling thread checks for Python signals every 100 ms, so Ctrl-C cancels
//! it with `KeyboardInterrupt`.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::{CsvReadOptions, DataFrame, ParquetReadOptions, SessionConfig};
use datafusion_ffi::udaf::FFI_AggregateUDF;
use datafusion_ffi::udf::FFI_ScalarUDF;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule};
use tokio::runtime::Runtime;

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
    MlfusionError::new_err(e.strip_backtrace())
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

/// Runs `future` on the runtime without the GIL while this thread watches
/// for Python signals: Ctrl-C aborts the task (even while it plans, which
/// may block a worker on I/O) and raises `KeyboardInterrupt`.
fn wait<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = Result<T, DataFusionError>> + Send + 'static,
    T: Send + 'static,
{
    py.detach(|| {
        let task = runtime().spawn(future);
        let abort = task.abort_handle();
        runtime().block_on(async {
            let interrupted = async {
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    // No interpreter (shutting down): nothing to check.
                    if let Some(Err(e)) = Python::try_attach(|py| py.check_signals()) {
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
    })
}

/// A DataFusion session with every mlfusion function registered.
#[pyclass(module = "mlfusion._mlfusion")]
struct SessionContext {
    ctx: datafusion::prelude::SessionContext,
}

#[pymethods]
impl SessionContext {
    #[new]
    fn new() -> Self {
        Self {
            ctx: mlfusion::session_context(SessionConfig::new()),
        }
    }

    /// Plans `query` (and runs it if it is DDL or SET) and returns a DataFrame.
    fn sql(&self, py: Python<'_>, query: String) -> PyResult<PyDataFrame> {
        let ctx = self.ctx.clone();
        let df = wait(py, async move { ctx.sql(&query).await })?;
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
    /// Runs the query; the result as Arrow IPC stream bytes (read with
    /// `pyarrow.ipc.open_stream`).
    fn collect_ipc<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let df = self.df.clone();
        let schema = df.schema().as_arrow().clone();
        let batches = wait(py, async move { df.collect().await })?;
        let mut bytes = Vec::new();
        let mut writer = StreamWriter::try_new(&mut bytes, &schema).map_err(|e| error(e.into()))?;
        for batch in &batches {
            writer.write(batch).map_err(|e| error(e.into()))?;
        }
        writer.finish().map_err(|e| error(e.into()))?;
        drop(writer);
        Ok(PyBytes::new(py, &bytes))
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
    m.add_class::<SessionContext>()?;
    m.add_class::<PyDataFrame>()?;
    m.add_class::<ExportedScalarFunction>()?;
    m.add_class::<ExportedAggregateFunction>()?;
    m.add_function(wrap_pyfunction!(scalar_functions, m)?)?;
    m.add_function(wrap_pyfunction!(aggregate_functions, m)?)?;
    // The DataFusion major version whose FFI these functions speak.
    m.add("DATAFUSION_MAJOR", DATAFUSION_MAJOR)?;
    m.add("MlfusionError", m.py().get_type::<MlfusionError>())?;
    m.add("__version__", mlfusion::MLFUSION_VERSION)?;
    Ok(())
}
