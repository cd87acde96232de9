//! The `source` argument of mlfusion's table functions: a registered table or
//! view, a path or URL of Parquet / CSV files (file, folder or glob), or a
//! query starting with SELECT or WITH.
//!
//! A table function is called synchronously while DataFusion plans the query,
//! but resolving a source needs I/O (listing files, reading footers, perhaps
//! from object storage). [`block_on`] runs that I/O without stalling the
//! runtime: on a multi-thread Tokio runtime (what `#[tokio::main]` gives, and
//! what embedding apps should use) the calling worker hands its other tasks
//! to the remaining workers while it waits; anywhere else (a current-thread
//! runtime, or none) the I/O runs on a helper thread with its own runtime.

use std::future::Future;

use datafusion::common::{plan_err, DFSchemaRef, DataFusionError, Result, ScalarValue};
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use tokio::runtime::{Handle, RuntimeFlavor};

/// A resolved source: SQL that reads it, and its schema.
pub struct Source {
    pub sql: String,
    pub schema: DFSchemaRef,
}

/// Runs a future to completion from synchronous code inside or outside a
/// Tokio runtime (see the module docs).
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(future))
        }
        _ => std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a Tokio runtime for source resolution")
                        .block_on(future)
                })
                .join()
                .expect("source resolution thread")
        }),
    }
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

/// Quotes a SQL string literal.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Quotes a SQL identifier (so any column name is read as written).
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn is_query(source: &str) -> bool {
    let lower = source.trim_start().to_ascii_lowercase();
    ["select", "with"].iter().any(|kw| {
        lower
            .strip_prefix(kw)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_whitespace() || c == '('))
    })
}

fn is_path(source: &str) -> bool {
    source.contains("://")
        || source.contains('/')
        || source.contains('\\')
        || source.contains('*')
        || [".parquet", ".csv", ".json", ".arrow", ".avro"]
            .iter()
            .any(|ext| source.to_ascii_lowercase().ends_with(ext))
}

/// Resolves `source` in the session that calls the table function.
pub fn resolve(function: &str, state: &SessionState, source: &str) -> Result<Source> {
    let source = source.trim();
    if source.is_empty() {
        return plan_err!(
            "{function}: the source is empty; give a table or view name, a path or URL of \
             Parquet/CSV files, or a query starting with SELECT or WITH"
        );
    }
    let sql = if is_query(source) {
        source.trim_end_matches(';').to_string()
    } else if is_path(source) {
        // Through the session's URL tables, so object stores are registered
        // and formats inferred exactly as for `SELECT * FROM 'path'`.
        format!("SELECT * FROM {}", quote_literal(source))
    } else {
        format!("SELECT * FROM {source}")
    };
    let ctx = SessionContext::new_with_state(state.clone());
    let planned = block_on(async {
        match ctx.sql(&sql).await {
            Ok(df) => Ok(df),
            // A URL table that cannot be read reports only "table not
            // found": ask the object store why.
            Err(e) if is_path(source) => Err(storage_error(state, source).await.unwrap_or(e)),
            Err(e) => Err(e),
        }
    });
    match planned {
        Ok(df) => Ok(Source {
            schema: df.schema().clone().into(),
            sql,
        }),
        Err(e) => plan_err!(
            "{function}: cannot read the source {}: {}",
            quote_literal(source),
            e.strip_backtrace()
        ),
    }
}

/// Why the files at `path` cannot be read: the object store's own error (no
/// store for the scheme, no such bucket, no credentials), or no files.
async fn storage_error(state: &SessionState, path: &str) -> Option<DataFusionError> {
    let url = match ListingTableUrl::parse(path) {
        Ok(url) => url,
        Err(e) => return Some(e),
    };
    let store = match state.runtime_env().object_store(url.object_store()) {
        Ok(store) => store,
        Err(e) => return Some(e),
    };
    match store.list(Some(url.prefix())).next().await {
        Some(Err(e)) => Some(DataFusionError::ObjectStore(Box::new(e))),
        None => Some(DataFusionError::Plan(format!(
            "no files at {path}; give a file, a folder or a glob of Parquet or CSV files"
        ))),
        // Files exist: the original error says what is wrong with them.
        Some(Ok(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_sources() {
        assert!(is_query("SELECT * FROM t"));
        assert!(is_query("  with x AS (SELECT 1) SELECT * FROM x"));
        assert!(is_query("select(1)"));
        assert!(!is_query("selection"));
        assert!(is_path("data/*.parquet"));
        assert!(is_path("s3://bucket/prefix/"));
        assert!(is_path("penguins.parquet"));
        assert!(!is_path("sessions"));
        assert!(!is_path("db.sessions"));
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
