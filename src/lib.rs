//! mlfusion: reproducible ML data work as SQL on Apache DataFusion.
//!
//! Embed it in a Rust app by registering the functions on a context:
//!
//! ```
//! use datafusion::prelude::SessionContext;
//!
//! # async fn run() -> datafusion::error::Result<()> {
//! let ctx = SessionContext::new();
//! mlfusion::register_all(&ctx);
//! ctx.sql("SELECT abs_mod(farm_fingerprint('alphabet'), 10)").await?.show().await?;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use datafusion::execution::object_store::DefaultObjectStoreRegistry;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

pub use mlfusion_udfs as udfs;

mod action_table;
pub mod config;
mod ml_confusion_matrix;
mod ml_deploy;
mod ml_evaluate;
mod ml_models;
mod ml_predict;
mod ml_roc_curve;
mod ml_split;
mod ml_train;
pub mod models;
pub mod object_stores;
mod options;
pub mod registry;
mod source;
mod wildcard;

/// The version of mlfusion.
pub const MLFUSION_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Registers every mlfusion function on `ctx`: the scalar and aggregate
/// functions, the table functions (`ml_split`, `ml_train`, `ml_predict`,
/// `ml_evaluate`, `ml_confusion_matrix`, `ml_roc_curve`, `ml_models`,
/// `ml_deploy`), the `mlfusion.*` settings, and
/// the analyzer rule that lets `row_fingerprint(*)` and
/// `dataset_fingerprint(*)` take every column.
pub fn register_all(ctx: &SessionContext) {
    for udf in udfs::scalar_functions() {
        ctx.register_udf(udf.as_ref().clone());
    }
    for udaf in udfs::aggregate_functions() {
        ctx.register_udaf(udaf.as_ref().clone());
    }
    ctx.add_analyzer_rule(Arc::new(wildcard::ExpandRowWildcards));
    ctx.register_udtf("ml_split", Arc::new(ml_split::MlSplit));
    ctx.register_udtf("ml_train", Arc::new(ml_train::MlTrain));
    ctx.register_udtf("ml_predict", Arc::new(ml_predict::MlPredict));
    ctx.register_udtf("ml_evaluate", Arc::new(ml_evaluate::MlEvaluate));
    ctx.register_udtf(
        "ml_confusion_matrix",
        Arc::new(ml_confusion_matrix::MlConfusionMatrix),
    );
    ctx.register_udtf("ml_roc_curve", Arc::new(ml_roc_curve::MlRocCurve));
    ctx.register_udtf("ml_models", Arc::new(ml_models::MlModels));
    ctx.register_udtf("ml_deploy", Arc::new(ml_deploy::MlDeploy));
    // `SET mlfusion.registry = ...` needs the settings registered.
    let state = ctx.state_ref();
    let mut state = state.write();
    let extensions = &mut state.config_mut().options_mut().extensions;
    if extensions.get::<config::MlfusionOptions>().is_none() {
        extensions.insert(config::MlfusionOptions::default());
    }
}

/// A `SessionContext` with mlfusion's defaults: every function registered,
/// Azure URLs besides the built-in object stores,
/// `information_schema` on (so `SHOW FUNCTIONS` describes them), and file
/// paths and URLs queryable as tables (`SELECT * FROM 'data.parquet'`).
pub fn session_context(config: SessionConfig) -> SessionContext {
    let registry =
        object_stores::CloudObjectStoreRegistry::new(Arc::new(DefaultObjectStoreRegistry::new()));
    let runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(registry))
        .build_arc()
        .expect("a default runtime environment");
    let ctx = SessionContext::new_with_config_rt(config.with_information_schema(true), runtime)
        .enable_url_table();
    register_all(&ctx);
    ctx
}
