//! mlfusion on an Apache DataFusion Ballista cluster (the `ballista`
//! feature): the scheduler and executor processes, with every mlfusion
//! function, the client session, and the codecs that carry mlfusion's
//! plans between them.
//!
//! What runs where:
//! - A query's plan goes to the scheduler, which cuts it into stages that
//!   the executors run. `ml_split` and `ml_predict` are views over their
//!   source, and the fingerprint functions plain UDFs and UDAFs, so they run
//!   there like any query. `ml_predict`'s model travels as a reference to its
//!   registry version: each node loads it once and checks its fingerprint.
//! - A query that reads a table only the client has runs on the client: a
//!   table function that acts when it is read (`ml_train`, `ml_evaluate`,
//!   `ml_describe`, `ml_models`, …), an in-memory table, `generate_series`.
//!   The queries such a function runs itself (reading the training rows,
//!   `ml_evaluate`'s predictions, `ml_describe`'s aggregation) go to the
//!   cluster.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};

use async_trait::async_trait;
use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::cte_worktable::CteWorkTable;
use datafusion::catalog::DynamicFileCatalog;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{exec_datafusion_err, exec_err, DataFusionError, Result, TableReference};
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::{source_as_provider, ViewTable};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::{SessionState, SessionStateBuilder, TaskContext};
use datafusion::logical_expr::{
    AggregateUDF, Extension, HigherOrderUDF, LogicalPlan, ScalarUDF, WindowUDF,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr_common::physical_expr::proto_decode::PhysicalExprDecodeCtx;
use datafusion::physical_expr_common::physical_expr::proto_encode::PhysicalExprEncodeCtx;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use crate::config::MlfusionOptions;
use crate::registry::Registry;
use crate::scoring::{ModelReference, PredictUdf};
use crate::util::block_on;

/// Ballista's logical codec, plus `ml_predict`'s model functions.
#[derive(Debug)]
pub struct LogicalCodec {
    inner: BallistaLogicalExtensionCodec,
    /// Where models are loaded from, through its object stores.
    runtime: Arc<RuntimeEnv>,
}

/// Ballista's physical codec, plus `ml_predict`'s model functions.
#[derive(Debug)]
pub struct PhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
    runtime: Arc<RuntimeEnv>,
}

impl LogicalCodec {
    pub fn new(runtime: Arc<RuntimeEnv>) -> Self {
        Self {
            inner: BallistaLogicalExtensionCodec::default(),
            runtime,
        }
    }
}

impl PhysicalCodec {
    pub fn new(runtime: Arc<RuntimeEnv>) -> Self {
        Self {
            inner: BallistaPhysicalExtensionCodec::default(),
            runtime,
        }
    }
}

/// Writes a model function as its model's reference (where the model
/// lives, not the model); `false` for any other function.
fn encode_model(udf: &ScalarUDF, buf: &mut Vec<u8>) -> Result<bool> {
    let Some(predict) = udf.inner().downcast_ref::<PredictUdf>() else {
        return Ok(false);
    };
    serde_json::to_writer(buf, predict.reference())
        .map_err(|e| DataFusionError::Internal(format!("ml_predict: model reference: {e}")))?;
    Ok(true)
}

/// The functions of models loaded from references, so that a node loads a
/// model once, not once per task. Versions never change once written (and
/// the fingerprint is checked), so entries never go stale; the cache is
/// emptied when it reaches [`MODEL_CACHE_CAPACITY`] models.
static MODEL_CACHE: LazyLock<Mutex<HashMap<ModelReference, Arc<ScalarUDF>>>> =
    LazyLock::new(Default::default);
const MODEL_CACHE_CAPACITY: usize = 64;

/// The model function [`encode_model`] wrote, its model loaded from the
/// registry through `runtime`'s object stores.
fn decode_model(bytes: &[u8], runtime: &RuntimeEnv) -> Result<Arc<ScalarUDF>> {
    let reference: ModelReference = serde_json::from_slice(bytes)
        .map_err(|e| DataFusionError::Internal(format!("ml_predict: model reference: {e}")))?;
    let cached = MODEL_CACHE
        .lock()
        .ok()
        .and_then(|cache| cache.get(&reference).cloned());
    if let Some(udf) = cached {
        return Ok(udf);
    }
    let ModelReference {
        registry,
        model,
        version,
        model_fingerprint,
    } = &reference;
    let registry = Registry::open(registry, runtime)?;
    let metadata = block_on(registry.metadata(model, *version))?.ok_or_else(|| {
        exec_datafusion_err!(
            "ml_predict: model {model}@{version} is not in the registry {}; every node of a \
             cluster must reach the registry at the URL the client uses",
            registry.url()
        )
    })?;
    if &metadata.model_fingerprint != model_fingerprint {
        return exec_err!(
            "ml_predict: model {model}@{version} in the registry {} is not the one the query \
             was planned with (its fingerprint differs)",
            registry.url()
        );
    }
    let loaded = block_on(registry.load(&metadata))?;
    let udf = Arc::new(ScalarUDF::from(PredictUdf::new(&metadata, loaded)?));
    if let Ok(mut cache) = MODEL_CACHE.lock() {
        if cache.len() >= MODEL_CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(reference, Arc::clone(&udf));
    }
    Ok(udf)
}

/// The methods that the logical and the physical codec share (the two
/// traits declare them alike): `ml_predict`'s model functions travel as
/// references, every other function as Ballista sends it.
macro_rules! function_codecs {
    () => {
        fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
            if PredictUdf::is_name(name) {
                return decode_model(buf, &self.runtime);
            }
            self.inner.try_decode_udf(name, buf)
        }

        fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
            if encode_model(node, buf)? {
                return Ok(());
            }
            self.inner.try_encode_udf(node, buf)
        }

        fn try_decode_higher_order_function(
            &self,
            name: &str,
            buf: &[u8],
        ) -> Result<Arc<HigherOrderUDF>> {
            self.inner.try_decode_higher_order_function(name, buf)
        }

        fn try_encode_higher_order_function(
            &self,
            node: &HigherOrderUDF,
            buf: &mut Vec<u8>,
        ) -> Result<()> {
            self.inner.try_encode_higher_order_function(node, buf)
        }

        fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
            self.inner.try_decode_udaf(name, buf)
        }

        fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
            self.inner.try_encode_udaf(node, buf)
        }

        fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
            self.inner.try_decode_udwf(name, buf)
        }

        fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
            self.inner.try_encode_udwf(node, buf)
        }
    };
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        self.inner
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    function_codecs!();
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.inner.try_encode(node, buf, proto_converter)
    }

    fn try_decode_expr(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn PhysicalExpr>],
        ctx: &PhysicalExprDecodeCtx<'_>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        self.inner.try_decode_expr(buf, inputs, ctx)
    }

    fn try_encode_expr(
        &self,
        node: &Arc<dyn PhysicalExpr>,
        buf: &mut Vec<u8>,
        ctx: &PhysicalExprEncodeCtx<'_>,
    ) -> Result<()> {
        self.inner.try_encode_expr(node, buf, ctx)
    }

    function_codecs!();
}

/// Whether `plan` reads a table that only this process has. A plan reaches
/// a cluster serialized, and a table scan serializes only for files
/// (listing tables), views and empty tables; any other table lives here:
/// an action table function's result, an in-memory table (`CREATE TABLE …
/// AS`), `generate_series`, `information_schema`.
fn reads_client_tables(plan: &LogicalPlan) -> Result<bool> {
    let mut found = false;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let on_cluster = source_as_provider(&scan.source).is_ok_and(|p| {
                p.is::<ListingTable>()
                    || p.is::<ViewTable>()
                    || p.is::<EmptyTable>()
                    || p.is::<CteWorkTable>()
            });
            if !on_cluster {
                found = true;
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(found)
}

/// The client's planner: Ballista's, except for plans that read tables only
/// the client has, which run here (see the module docs).
struct ClientPlanner {
    cluster: Arc<dyn QueryPlanner + Send + Sync>,
    local: DefaultPhysicalPlanner,
}

impl fmt::Debug for ClientPlanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientPlanner")
            .field("cluster", &self.cluster)
            .finish()
    }
}

#[async_trait]
impl QueryPlanner for ClientPlanner {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if reads_client_tables(plan)? {
            let state = crate::functions::common::args::session_state("mlfusion", session)?;
            self.local.create_physical_plan(plan, state).await
        } else {
            self.cluster.create_physical_plan(plan, session).await
        }
    }
}

/// `state` with mlfusion's codecs, which Ballista's client, standalone
/// scheduler and standalone executor take from its configuration, and
/// without the rule whose row selections plan serialization drops (a
/// standalone scheduler plans with this state).
fn with_codecs(state: SessionState) -> SessionState {
    let state = crate::parquet_row_ranges::without_parquet_row_ranges(state);
    let runtime = Arc::clone(state.runtime_env());
    let config = state
        .config()
        .clone()
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::new(Arc::clone(&runtime))))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::new(runtime)));
    SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build()
}

/// A context that Ballista has made a client of a cluster, finished as an
/// mlfusion client: Ballista's upgrade replaces the session's functions with
/// DataFusion's, so mlfusion's are registered again; client tables are
/// planned here; file paths and URLs are queryable as tables.
fn client(ctx: SessionContext) -> SessionContext {
    let state = ctx.state();
    let planner = ClientPlanner {
        cluster: Arc::clone(state.query_planner()),
        local: DefaultPhysicalPlanner::default(),
    };
    let state = SessionStateBuilder::new_from_existing(state)
        .with_query_planner(Arc::new(planner))
        .build();
    let ctx = SessionContext::new_with_state(state).enable_url_table();
    crate::session::register_functions(&ctx);
    ctx
}

/// URL tables resolve through the context they were enabled on, which a
/// client replaces: they are enabled on the client instead.
fn check_no_url_tables(state: &SessionState) -> Result<()> {
    if state.catalog_list().as_ref().is::<DynamicFileCatalog>() {
        return Err(DataFusionError::Configuration(
            "a Ballista client is made from a session without URL tables \
             (SessionContext::enable_url_table); the client enables them"
                .to_string(),
        ));
    }
    Ok(())
}

/// `state` (an mlfusion session's, with its tables, settings and object
/// stores; without URL tables, which the client enables) as a client of the
/// Ballista scheduler at `url` (`df://host:port`).
pub async fn remote(url: &str, state: SessionState) -> Result<SessionContext> {
    let address = url
        .strip_prefix("df://")
        .map(|a| a.trim_end_matches('/'))
        .filter(|a| {
            a.rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
        })
        .ok_or_else(|| {
            DataFusionError::Configuration(format!(
                "the Ballista scheduler URL {url} should look like df://host:port"
            ))
        })?;
    check_no_url_tables(&state)?;
    // Ballista connects at the first query; a wrong address is clearer now.
    tokio::net::TcpStream::connect(address).await.map_err(|e| {
        DataFusionError::Configuration(format!(
            "cannot reach the Ballista scheduler at {url}: {e}; start one with \
             `mlfusion scheduler --bind {address}`"
        ))
    })?;
    let ctx = SessionContext::remote_with_state(url, with_codecs(state)).await?;
    Ok(client(ctx))
}

/// An mlfusion session (as [`crate::session_context`] makes) on the Ballista
/// cluster whose scheduler is at `url` (`df://host:port`).
pub async fn connect(url: &str, config: SessionConfig) -> Result<SessionContext> {
    remote(
        url,
        crate::session::session_context_without_url_tables(config).state(),
    )
    .await
}

/// An mlfusion session on a scheduler and an executor started in this
/// process (Ballista's standalone mode, for tests and trials).
pub async fn standalone(config: SessionConfig) -> Result<SessionContext> {
    let state = crate::session::session_context_without_url_tables(config).state();
    let ctx = SessionContext::standalone_with_state(with_codecs(state)).await?;
    Ok(client(ctx))
}

/// The configuration a scheduler or executor starts sessions from: Ballista's
/// defaults, with mlfusion's settings (each query brings the client's values).
fn node_config() -> SessionConfig {
    SessionConfig::new_with_ballista().with_option_extension(MlfusionOptions::default())
}

/// A scheduler's or executor's session: every mlfusion function, Ballista's
/// optimizer rules, and the cloud object stores from the environment.
fn node_state(config: SessionConfig, runtime: Arc<RuntimeEnv>) -> SessionState {
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_optimizer_rules(ballista_core::optimizer::ballista_default_optimizer_rules())
        .build();
    let ctx = SessionContext::new_with_state(state);
    crate::session::register_all(&ctx);
    // Its plans are serialized, which drops row selections.
    crate::parquet_row_ranges::without_parquet_row_ranges(ctx.state())
}

fn ballista_error(e: ballista_core::error::BallistaError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Runs a Ballista scheduler on `bind` until the process is stopped.
/// `external_host` is the address executors and clients reach it at (the
/// bind address by default).
pub async fn run_scheduler(bind: SocketAddr, external_host: Option<String>) -> Result<()> {
    let runtime = crate::session::runtime_env();
    let session_runtime = Arc::clone(&runtime);
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: external_host.unwrap_or_else(|| bind.ip().to_string()),
        override_config_producer: Some(Arc::new(node_config)),
        override_session_builder: Some(Arc::new(move |config| {
            Ok(node_state(config, Arc::clone(&session_runtime)))
        })),
        override_logical_codec: Some(Arc::new(LogicalCodec::new(Arc::clone(&runtime)))),
        override_physical_codec: Some(Arc::new(PhysicalCodec::new(runtime))),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ballista_error)?;
    start_server(cluster, bind, Arc::new(config))
        .await
        .map_err(ballista_error)
}

/// How an executor is started (`mlfusion executor`).
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `host:port`.
    pub scheduler_host: String,
    pub scheduler_port: u16,
    /// Where the executor serves its results (Arrow Flight).
    pub bind: SocketAddr,
    /// Where the scheduler reaches it (gRPC).
    pub grpc_port: u16,
    /// The address others reach it at (the bind address by default).
    pub external_host: Option<String>,
    /// Where shuffle files and spills go (a temporary folder by default).
    pub work_dir: Option<String>,
    /// How many tasks it runs at once (the machine's cores by default).
    pub concurrent_tasks: Option<usize>,
}

/// Runs a Ballista executor until the process is stopped.
pub async fn run_executor(options: ExecutorOptions) -> Result<()> {
    let runtime = crate::session::runtime_env();
    let work_dir = options.work_dir.clone();
    let functions =
        BallistaFunctionRegistry::from(&node_state(node_config(), Arc::clone(&runtime)));
    let defaults = ExecutorProcessConfig::default();
    let config = ExecutorProcessConfig {
        bind_host: options.bind.ip().to_string(),
        port: options.bind.port(),
        grpc_port: options.grpc_port,
        external_host: options
            .external_host
            .or_else(|| Some(options.bind.ip().to_string())),
        scheduler_host: options.scheduler_host,
        scheduler_port: options.scheduler_port,
        work_dir: options.work_dir,
        vcores: options.concurrent_tasks.unwrap_or(defaults.vcores),
        override_function_registry: Some(Arc::new(functions)),
        // Each session's runtime: mlfusion's object stores, spilling to the
        // work folder.
        override_runtime_producer: Some(Arc::new(move |_config: &SessionConfig| {
            let mut builder = crate::session::runtime_env_builder();
            if let Some(dir) = &work_dir {
                builder = builder.with_temp_file_path(dir.clone());
            }
            builder.build_arc()
        })),
        override_config_producer: Some(Arc::new(node_config)),
        override_logical_codec: Some(Arc::new(LogicalCodec::new(Arc::clone(&runtime)))),
        override_physical_codec: Some(Arc::new(PhysicalCodec::new(runtime))),
        ..defaults
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(ballista_error)
}
