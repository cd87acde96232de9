//! mlfusion's scalar and aggregate functions for Apache DataFusion.
//!
//! | function | kind | what it computes |
//! |---|---|---|
//! | `farm_fingerprint(x)` | scalar | BigQuery's FARM_FINGERPRINT of a STRING or BYTES value |
//! | `row_fingerprint(x1, …, xn)` | scalar | NULL-safe typed fingerprint of a row (row encoding v1) |
//! | `abs_mod(x, n)` | scalar | BigQuery's `MOD(ABS(x), n)`, total over INT64 |
//! | `dataset_fingerprint(x1, …, xn)` | aggregate | order-free checksum of a multiset of rows |
//! | `approx_top_values(x, k)` | aggregate | the k most frequent values with their counts, in bounded memory |
//!
//! The crate depends on arrow and the `datafusion-expr` level only, so the
//! same functions can be registered on Ballista executors or through FFI.
//! Register them all with [`register_all`].

use std::sync::Arc;

use datafusion_common::Result;
use datafusion_expr::registry::FunctionRegistry;
use datafusion_expr::{AggregateUDF, ScalarUDF};

pub mod abs_mod;
pub mod approx_top_values;
pub mod dataset_fingerprint;
pub mod farm_fingerprint;
pub mod farmhash;
pub mod row_encoding;
pub mod row_fingerprint;
mod utils;

/// Every mlfusion scalar function.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::from(farm_fingerprint::FarmFingerprint::default())),
        Arc::new(ScalarUDF::from(row_fingerprint::RowFingerprint::default())),
        Arc::new(ScalarUDF::from(abs_mod::AbsMod::default())),
    ]
}

/// Every mlfusion aggregate function.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    vec![
        Arc::new(AggregateUDF::from(
            dataset_fingerprint::DatasetFingerprint::default(),
        )),
        Arc::new(AggregateUDF::from(
            approx_top_values::ApproxTopValues::default(),
        )),
    ]
}

/// Registers every mlfusion function (for example into a `SessionContext`
/// or `SessionState`).
pub fn register_all(registry: &mut dyn FunctionRegistry) -> Result<()> {
    for udf in scalar_functions() {
        registry.register_udf(udf)?;
    }
    for udaf in aggregate_functions() {
        registry.register_udaf(udaf)?;
    }
    Ok(())
}
