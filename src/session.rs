//! mlfusion's sessions: every function registered on a context, and the
//! contexts and runtimes mlfusion builds (the CLI's, Python's, a Ballista
//! client's and executors', and those of apps that call
//! [`session_context`]).

use std::sync::Arc;

use datafusion::catalog::CatalogProviderList;
use datafusion::execution::disk_manager::DiskManagerBuilder;
use datafusion::execution::object_store::DefaultObjectStoreRegistry;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::{config, functions, object_stores, parquet_row_ranges, udfs, wildcard};

/// Registers every mlfusion function on `ctx`: the scalar and aggregate
/// functions, the table functions (`ml_split`, `ml_train`, `ml_tune`,
/// `ml_trials`, `ml_describe`, `ml_validate_drift`, `ml_validate_skew`,
/// `ml_validate_schema`,
/// `ml_predict`,
/// `ml_evaluate`, `ml_confusion_matrix`, `ml_roc_curve`, `ml_models`,
/// `ml_deploy`), the `mlfusion.*` settings, and
/// the analyzer rule that lets `row_fingerprint(*)` and
/// `dataset_fingerprint(*)` take every column, and the physical optimizer
/// rule that splits Parquet files between partitions by rows
/// ([`parquet_row_ranges`]).
pub fn register_all(ctx: &SessionContext) {
    register_functions(ctx);
    ctx.add_analyzer_rule(Arc::new(wildcard::ExpandRowWildcards));
    for (name, function) in functions::table_functions() {
        ctx.register_udtf(name, function);
    }
    // `SET mlfusion.registry = ...` needs the settings registered.
    let state = ctx.state_ref();
    let mut state = state.write();
    let extensions = &mut state.config_mut().options_mut().extensions;
    if extensions.get::<config::MlfusionOptions>().is_none() {
        extensions.insert(config::MlfusionOptions::default());
    }
    *state = parquet_row_ranges::with_parquet_row_ranges(state.clone());
}

/// Registers mlfusion's scalar and aggregate functions on `ctx`.
pub fn register_functions(ctx: &SessionContext) {
    for udf in udfs::scalar_functions() {
        ctx.register_udf(udf.as_ref().clone());
    }
    for udaf in udfs::aggregate_functions() {
        ctx.register_udaf(udaf.as_ref().clone());
    }
}

/// The runtime environment of mlfusion's sessions: the built-in object
/// stores plus Azure, and `s3://` / `gs://` stores built from the
/// environment on first use.
pub fn runtime_env() -> Arc<RuntimeEnv> {
    runtime_env_builder()
        .build_arc()
        .expect("a default runtime environment")
}

pub fn runtime_env_builder() -> RuntimeEnvBuilder {
    let registry =
        object_stores::CloudObjectStoreRegistry::new(Arc::new(DefaultObjectStoreRegistry::new()));
    RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(registry))
        .with_disk_manager_builder(disk_manager_builder())
}

/// The most spill files a sort merges in one pass. DataFusion's default (no
/// cap) lets each sort partition's merge reserve memory for as many of its
/// spill files as the pool allows, and that memory cannot spill: under a
/// memory limit, the merges of concurrent sorts (a balanced `ml_split` sorts
/// on every partition) took the whole pool and the rest of the plan failed
/// (its Parquet writer, at 256 MB over 5M rows). Eight bounds each merge's
/// memory; more files are merged in more passes.
pub const SPILL_MERGE_FAN_IN: usize = 8;

/// The disk manager of mlfusion's runtimes (the CLI's, and the sessions of
/// [`session_context`]): DataFusion's, with spill merges capped at
/// [`SPILL_MERGE_FAN_IN`] files.
pub fn disk_manager_builder() -> DiskManagerBuilder {
    DiskManagerBuilder::default().with_max_spill_merge_fan_in(SPILL_MERGE_FAN_IN)
}

/// A `SessionContext` with mlfusion's defaults: every function registered,
/// Azure URLs besides the built-in object stores,
/// `information_schema` on (so `SHOW FUNCTIONS` describes them), and file
/// paths and URLs queryable as tables (`SELECT * FROM 'data.parquet'`).
pub fn session_context(config: SessionConfig) -> SessionContext {
    session_context_without_url_tables(config).enable_url_table()
}

/// [`session_context`] before file paths and URLs are made queryable (what
/// a Ballista client is made from, see [`ballista::remote`]).
pub fn session_context_without_url_tables(config: SessionConfig) -> SessionContext {
    let ctx =
        SessionContext::new_with_config_rt(config.with_information_schema(true), runtime_env());
    register_all(&ctx);
    ctx
}

/// A session with mlfusion's defaults over given `catalogs`: where mlfusion's
/// table functions plan and run when another DataFusion build (such as the
/// `datafusion` Python package) calls them, since that caller's session
/// cannot run mlfusion's plans itself. `settings` are its `mlfusion.*`
/// settings.
pub fn session_context_over(
    config: SessionConfig,
    catalogs: Arc<dyn CatalogProviderList>,
    settings: config::MlfusionOptions,
) -> SessionContext {
    // The caller's catalogs are used as they are: creating a default catalog
    // would replace theirs.
    let mut config = config.with_create_default_catalog_and_schema(false);
    config.options_mut().extensions.insert(settings);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime_env())
        .with_default_features()
        .with_catalog_list(catalogs)
        .build();
    let ctx = SessionContext::new_with_state(state).enable_url_table();
    register_all(&ctx);
    ctx
}
