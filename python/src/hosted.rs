//! mlfusion's table functions inside a `datafusion.SessionContext` (the
//! `datafusion` Python package, a different build of DataFusion).
//!
//! DataFusion 55's FFI for table functions cannot be used: its caller side
//! reads the callee's private data (a Tokio handle) with its own layout, which
//! crashes across builds. So `mlfusion.register` registers each table function
//! as a Python table function, and each call plans in a private mlfusion
//! session:
//! - the tables and views of the host context's default schema are read
//!   through Python: a name the session does not know is looked up with
//!   `host(name, open)` (the host's DataFrame for it), and its rows stream in
//!   through the Arrow C stream interface, without copies;
//! - paths, URLs, the registry and object stores are mlfusion's own;
//! - the result goes back as a table provider through DataFusion's FFI, and it
//!   plans and runs in the private session on mlfusion's runtime.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, RecordBatchReader};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::ffi::FFI_ArrowSchema;
use datafusion::arrow::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    SchemaProvider, Session, TableFunctionArgs, TableFunctionImpl, TableProvider,
};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{exec_datafusion_err, DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::execution::{SendableRecordBatchStream, SessionState, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::{RecordBatchReceiverStream, RecordBatchStreamAdapter};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::{Stream, StreamExt};
use mlfusion::config::MlfusionOptions;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use tokio::runtime::Handle;

/// The `ExecutionPlan` methods of a plan without children (to the caller's
/// optimizer: what runs inside is not its to rewrite).
macro_rules! leaf_plan_methods {
    () => {
        fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
            vec![]
        }

        fn apply_expressions(
            &self,
            _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
        ) -> Result<TreeNodeRecursion> {
            Ok(TreeNodeRecursion::Continue)
        }

        fn replace_children(
            self: Arc<Self>,
            _: Vec<Arc<dyn ExecutionPlan>>,
            _: ReplaceChildrenOptions,
        ) -> Result<Arc<dyn ExecutionPlan>> {
            Ok(self)
        }

        fn with_new_children(
            self: Arc<Self>,
            _: Vec<Arc<dyn ExecutionPlan>>,
        ) -> Result<Arc<dyn ExecutionPlan>> {
            Ok(self)
        }
    };
}

/// Calls `function` with `args` in a private mlfusion session that reads the
/// host's tables through `host`; the result scans in that session.
pub fn call(
    function: &dyn TableFunctionImpl,
    args: &[Expr],
    host: Arc<Py<PyAny>>,
    settings: MlfusionOptions,
    runtime: Handle,
) -> Result<Arc<dyn TableProvider>> {
    // Planning resolves sources and loads models: on mlfusion's runtime, so
    // the object store clients it makes live on the runtime that scans.
    let _entered = runtime.enter();
    let config = SessionConfig::new();
    let catalogs = host_catalogs(&config, host)?;
    // The context lives as long as the table: its URL tables (paths as
    // sources) reach the session through it.
    let ctx = mlfusion::session_context_over(config, catalogs, settings);
    let state = ctx.state();
    let provider = function.call_with_args(TableFunctionArgs::new(args, &state))?;
    Ok(Arc::new(SessionBoundTable {
        provider,
        ctx,
        state,
        runtime,
    }))
}

/// The catalogs of the private session: its default schema looks names up in
/// the host.
fn host_catalogs(
    config: &SessionConfig,
    host: Arc<Py<PyAny>>,
) -> Result<Arc<dyn CatalogProviderList>> {
    let catalog_options = &config.options().catalog;
    let catalog = MemoryCatalogProvider::new();
    catalog.register_schema(
        &catalog_options.default_schema,
        Arc::new(HostSchema { host }),
    )?;
    let catalogs = MemoryCatalogProviderList::new();
    catalogs.register_catalog(catalog_options.default_catalog.clone(), Arc::new(catalog));
    Ok(Arc::new(catalogs))
}

fn python_error(e: PyErr) -> DataFusionError {
    exec_datafusion_err!("{e}")
}

/// The tables of the host context's default schema, by name (it cannot list
/// them cheaply, so it lists none).
struct HostSchema {
    /// `host(name, open)`: with `open`, the host's DataFrame for table
    /// `name` or None; without, whether the table exists. It holds the host
    /// weakly: mlfusion's plans may be stored in the host (a view), and a
    /// strong reference would make a cycle Python cannot see.
    host: Arc<Py<PyAny>>,
}

impl fmt::Debug for HostSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostSchema")
    }
}

impl HostSchema {
    /// The host's table `name` (its schema; its rows are read at each run).
    fn lookup(host: &Arc<Py<PyAny>>, name: &str) -> Result<Option<HostTable>> {
        Python::attach(|py| {
            let df = host.bind(py).call1((name, true))?;
            if df.is_none() {
                return Ok(None);
            }
            let schema = df
                .call_method0("schema")?
                .call_method0("__arrow_c_schema__")?;
            let schema = schema.cast_into::<PyCapsule>().map_err(PyErr::from)?;
            let pointer = schema.pointer_checked(Some(c"arrow_schema"))?;
            // SAFETY: the capsule's name says it holds an FFI_ArrowSchema,
            // alive while the capsule is; it is only read.
            let schema = Schema::try_from(unsafe { pointer.cast::<FFI_ArrowSchema>().as_ref() })
                .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
            Ok(Some(HostTable {
                host: Arc::clone(host),
                name: name.to_string(),
                schema: Arc::new(schema),
            }))
        })
        .map_err(python_error)
    }
}

#[async_trait]
impl SchemaProvider for HostSchema {
    fn table_names(&self) -> Vec<String> {
        vec![]
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        // The host plans on its own runtime and may block: off this one.
        let host = Arc::clone(&self.host);
        let name = name.to_string();
        let table = tokio::task::spawn_blocking(move || Self::lookup(&host, &name))
            .await
            .map_err(|e| exec_datafusion_err!("mlfusion: the table lookup failed: {e}"))??;
        Ok(table.map(|t| Arc::new(t) as Arc<dyn TableProvider>))
    }

    fn table_exist(&self, name: &str) -> bool {
        Python::attach(|py| {
            self.host
                .bind(py)
                .call1((name, false))
                .and_then(|exists| exists.is_truthy())
        })
        .unwrap_or(false)
    }
}

/// A table or view of the host, read as an Arrow C stream of its DataFrame.
struct HostTable {
    host: Arc<Py<PyAny>>,
    name: String,
    schema: SchemaRef,
}

impl fmt::Debug for HostTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostTable")
    }
}

#[async_trait]
impl TableProvider for HostTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let projected = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => Arc::clone(&self.schema),
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&projected)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Arc::new(HostStreamExec {
            host: Arc::clone(&self.host),
            name: self.name.clone(),
            schema: Arc::clone(&self.schema),
            projected,
            projection: projection.cloned(),
            properties: Arc::new(properties),
        }))
    }
}

/// Streams a host table: each execution runs it again.
#[derive(Debug)]
struct HostStreamExec {
    host: Arc<Py<PyAny>>,
    name: String,
    /// The table's schema, as planned.
    schema: SchemaRef,
    projected: SchemaRef,
    projection: Option<Vec<usize>>,
    properties: Arc<PlanProperties>,
}

impl HostStreamExec {
    fn open(host: &Py<PyAny>, name: &str) -> PyResult<ArrowArrayStreamReader> {
        Python::attach(|py| {
            let df = host.bind(py).call1((name, true))?;
            if df.is_none() {
                return Err(pyo3::exceptions::PyKeyError::new_err(format!(
                    "the table {name} is gone from the host context"
                )));
            }
            let capsule = df
                .call_method0("__arrow_c_stream__")?
                .cast_into::<PyCapsule>()
                .map_err(PyErr::from)?;
            let pointer = capsule.pointer_checked(Some(c"arrow_array_stream"))?;
            // SAFETY: the capsule holds an FFI_ArrowArrayStream; from_raw moves
            // it out and leaves a released one for the capsule to drop.
            unsafe {
                ArrowArrayStreamReader::from_raw(pointer.cast::<FFI_ArrowArrayStream>().as_ptr())
            }
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
        })
    }
}

impl DisplayAs for HostStreamExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "HostStreamExec")
    }
}

impl ExecutionPlan for HostStreamExec {
    fn name(&self) -> &str {
        "HostStreamExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    leaf_plan_methods!();

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let host = Arc::clone(&self.host);
        let name = self.name.clone();
        let schema = Arc::clone(&self.schema);
        let projection = self.projection.clone();
        let mut builder = RecordBatchReceiverStream::builder(Arc::clone(&self.projected), 2);
        let tx = builder.tx();
        // Reading blocks on the host's runtime: on a blocking thread.
        builder.spawn_blocking(move || {
            let reader = Self::open(&host, &name).map_err(python_error)?;
            let found = RecordBatchReader::schema(&reader);
            let same = |a: &Schema, b: &Schema| {
                a.fields().len() == b.fields().len()
                    && a.fields()
                        .iter()
                        .zip(b.fields())
                        .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type())
            };
            if !same(&found, &schema) {
                return Err(exec_datafusion_err!(
                    "the host table {name} now has the schema {found}, not {schema} as planned"
                ));
            }
            for batch in reader {
                // Under the planned schema (the stream's may differ in
                // nullability or metadata).
                let batch = RecordBatch::try_new(Arc::clone(&schema), batch?.columns().to_vec())?;
                let batch = match &projection {
                    Some(p) => batch.project(p)?,
                    None => batch,
                };
                if tx.blocking_send(Ok(batch)).is_err() {
                    break; // the query stopped reading
                }
            }
            Ok(())
        });
        Ok(builder.build())
    }
}

/// A table that scans in the session it was planned in, whichever session
/// asks, on mlfusion's runtime.
struct SessionBoundTable {
    provider: Arc<dyn TableProvider>,
    /// Kept alive for `state` (see [`call`]).
    #[allow(dead_code)]
    ctx: SessionContext,
    state: SessionState,
    runtime: Handle,
}

impl fmt::Debug for SessionBoundTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionBoundTable({:?})", self.provider)
    }
}

#[async_trait]
impl TableProvider for SessionBoundTable {
    fn schema(&self) -> SchemaRef {
        self.provider.schema()
    }

    fn table_type(&self) -> TableType {
        self.provider.table_type()
    }

    async fn scan(
        &self,
        _caller: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // Scans may train a model or spawn tasks: they need mlfusion's
        // runtime, which the caller's thread has not entered.
        let provider = Arc::clone(&self.provider);
        let state = self.state.clone();
        let projection = projection.cloned();
        let filters = filters.to_vec();
        let plan = self
            .runtime
            .spawn(async move {
                provider
                    .scan(&state, projection.as_ref(), &filters, limit)
                    .await
            })
            .await
            .map_err(|e| exec_datafusion_err!("mlfusion: the scan task failed: {e}"))??;
        Ok(Arc::new(SessionBoundExec {
            properties: Arc::clone(plan.properties()),
            plan,
            context: self.state.task_ctx(),
            runtime: self.runtime.clone(),
        }))
    }
}

/// A plan that runs with its own session's task context, on mlfusion's
/// runtime, whoever executes it; a leaf for the caller's optimizer, which
/// cannot rewrite mlfusion's operators.
#[derive(Debug)]
struct SessionBoundExec {
    plan: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
    context: Arc<TaskContext>,
    runtime: Handle,
}

impl DisplayAs for SessionBoundExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "mlfusion: ")?;
        self.plan.fmt_as(t, f)
    }
}

impl ExecutionPlan for SessionBoundExec {
    fn name(&self) -> &str {
        "SessionBoundExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    leaf_plan_methods!();

    fn execute(
        &self,
        partition: usize,
        _caller: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let _entered = self.runtime.enter();
        let stream = self.plan.execute(partition, Arc::clone(&self.context))?;
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            stream.schema(),
            InRuntime {
                stream,
                runtime: self.runtime.clone(),
            },
        )))
    }
}

/// A stream polled inside mlfusion's runtime (its operators spawn tasks).
struct InRuntime {
    stream: SendableRecordBatchStream,
    runtime: Handle,
}

impl Stream for InRuntime {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let _entered = self.runtime.enter();
        self.stream.poll_next_unpin(cx)
    }
}
