//! The constant arguments of mlfusion's table functions, and the session
//! they are called in.

use datafusion::catalog::Session;
use datafusion::common::{plan_datafusion_err, plan_err, Result, ScalarValue};
use datafusion::execution::SessionState;
use datafusion::logical_expr::Expr;

/// The DataFusion session a table function runs in (mlfusion's table
/// functions plan SQL and resolve sources in it).
pub fn session_state<'a>(function: &str, session: &'a dyn Session) -> Result<&'a SessionState> {
    session
        .as_any()
        .downcast_ref::<SessionState>()
        .ok_or_else(|| plan_datafusion_err!("{function}: needs a DataFusion SessionState"))
}

/// The string value of a constant table-function argument.
pub fn string_arg(function: &str, name: &str, expr: &Expr) -> Result<String> {
    match expr {
        Expr::Literal(ScalarValue::Utf8(Some(s)), _)
        | Expr::Literal(ScalarValue::LargeUtf8(Some(s)), _)
        | Expr::Literal(ScalarValue::Utf8View(Some(s)), _) => Ok(s.clone()),
        other => plan_err!(
            "{function}: argument {name} must be a string literal, got {other}; e.g. \
             {function}('data/*.parquet', 'test_fraction=0.2')"
        ),
    }
}

/// The trailing `options` argument at `index`, empty when not given.
pub fn options_arg(function: &str, exprs: &[Expr], index: usize) -> Result<String> {
    match exprs.get(index) {
        Some(e) => string_arg(function, "options", e),
        None => Ok(String::new()),
    }
}
