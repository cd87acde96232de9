//! Expressions that call mlfusion's functions, as DataFusion's function
//! crates have them: build plans with these (and `LogicalPlanBuilder`), not
//! with SQL text.
//!
//! ```
//! use datafusion_expr::{col, lit};
//! use mlfusion_udfs::expr_fn::{abs_mod, row_fingerprint};
//!
//! // abs_mod(row_fingerprint('2026-q4', id, name), 10) < 8
//! let train = abs_mod(row_fingerprint(Some("2026-q4"), vec![col("id"), col("name")]), lit(10))
//!     .lt(lit(8));
//! ```

use datafusion_expr::{lit, Expr};

/// `farm_fingerprint(x)`: BigQuery's FARM_FINGERPRINT of a string or bytes.
pub fn farm_fingerprint(x: Expr) -> Expr {
    crate::farm_fingerprint_udf().call(vec![x])
}

/// `row_fingerprint([salt, ] values…)`: the fingerprint of a row of typed
/// values; a salt is a literal first argument.
pub fn row_fingerprint(salt: Option<&str>, values: Vec<Expr>) -> Expr {
    let args = salt.map(lit).into_iter().chain(values).collect();
    crate::row_fingerprint_udf().call(args)
}

/// `abs_mod(x, n)`: BigQuery's `MOD(ABS(x), n)`, total over INT64.
pub fn abs_mod(x: Expr, n: Expr) -> Expr {
    crate::abs_mod_udf().call(vec![x, n])
}

/// `dataset_fingerprint(values…)`: the order-free checksum of the rows (an
/// aggregate).
pub fn dataset_fingerprint(values: Vec<Expr>) -> Expr {
    crate::dataset_fingerprint_udaf().call(values)
}

/// `approx_top_values(x, k)`: the k most frequent values of `x` with their
/// counts (an aggregate).
pub fn approx_top_values(x: Expr, k: Expr) -> Expr {
    crate::approx_top_values_udaf().call(vec![x, k])
}
