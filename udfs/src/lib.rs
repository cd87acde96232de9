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
//! Register them all with [`register_all`]; build expressions that call them
//! with [`expr_fn`].

use std::sync::{Arc, LazyLock};

use datafusion_common::Result;
use datafusion_expr::registry::FunctionRegistry;
use datafusion_expr::{AggregateUDF, ScalarUDF};

pub mod abs_mod;
pub mod approx_top_values;
pub mod dataset_fingerprint;
pub mod expr_fn;
pub mod farm_fingerprint;
pub mod farmhash;
pub mod row_encoding;
pub mod row_fingerprint;
mod utils;

/// Defines `$name() -> Arc<$kind>`: the function's one instance in the
/// process (as DataFusion's `make_udf_function!`).
macro_rules! function_instance {
    ($kind:ident, $name:ident, $imp:path, $doc:literal) => {
        #[doc = $doc]
        pub fn $name() -> Arc<$kind> {
            static INSTANCE: LazyLock<Arc<$kind>> =
                LazyLock::new(|| Arc::new($kind::from(<$imp>::default())));
            Arc::clone(&INSTANCE)
        }
    };
}

function_instance!(
    ScalarUDF,
    farm_fingerprint_udf,
    farm_fingerprint::FarmFingerprint,
    "`farm_fingerprint`."
);
function_instance!(
    ScalarUDF,
    row_fingerprint_udf,
    row_fingerprint::RowFingerprint,
    "`row_fingerprint`."
);
function_instance!(ScalarUDF, abs_mod_udf, abs_mod::AbsMod, "`abs_mod`.");
function_instance!(
    AggregateUDF,
    dataset_fingerprint_udaf,
    dataset_fingerprint::DatasetFingerprint,
    "`dataset_fingerprint`."
);
function_instance!(
    AggregateUDF,
    approx_top_values_udaf,
    approx_top_values::ApproxTopValues,
    "`approx_top_values`."
);

/// Every mlfusion scalar function.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![farm_fingerprint_udf(), row_fingerprint_udf(), abs_mod_udf()]
}

/// Every mlfusion aggregate function.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    vec![dataset_fingerprint_udaf(), approx_top_values_udaf()]
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
