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
//!
//! The layers, from the top (each uses only those below it):
//! - [`session`]: contexts with every function registered; [`ballista`]: the
//!   same on a cluster; [`statements`]: the statements mlfusion adds
//!   (`ASSERT`), run by [`sql`].
//! - [`functions`]: the table functions, grouped by what they do (splitting,
//!   training, inference, validation, the registry), over what they share
//!   (`functions::common`: arguments, options, sources, acting tables, output
//!   columns).
//! - The domain: [`registry`] (model versions in object storage), `scoring`
//!   (applying a model to rows), [`profile`] (column statistics), the
//!   numeric core [`models`] (crate `mlfusion-models`) and the scalar and
//!   aggregate functions [`udfs`] (crate `mlfusion-udfs`).

pub use mlfusion_models as models;
pub use mlfusion_udfs as udfs;

#[cfg(feature = "ballista")]
pub mod ballista;
pub mod config;
mod errors;
pub mod functions;
pub mod object_stores;
pub mod parquet_row_ranges;
pub mod profile;
pub mod progress;
pub mod registry;
mod scoring;
pub mod session;
pub mod statements;
mod util;
mod wildcard;

pub use functions::table_functions;
pub use session::{
    disk_manager_builder, register_all, session_context, session_context_over, SPILL_MERGE_FAN_IN,
};
pub use statements::sql;

/// The version of mlfusion.
pub const MLFUSION_VERSION: &str = env!("CARGO_PKG_VERSION");
