//! The `source` argument of mlfusion's table functions: a registered table or
//! view, a path or URL of Parquet / CSV files (file, folder or glob), or a
//! query starting with SELECT or WITH. Resolving one needs I/O (listing
//! files, reading footers) from the synchronous code DataFusion calls while
//! planning: [`crate::util::block_on`] runs it.

use datafusion::common::{plan_err, DataFusionError, Result, TableReference};
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::Statement as SQLStatement;
use futures::StreamExt;

use crate::util::block_on;

fn is_path(source: &str) -> bool {
    source.contains("://")
        || source.contains('/')
        || source.contains('\\')
        || source.contains('*')
        || [".parquet", ".csv", ".json", ".arrow", ".avro"]
            .iter()
            .any(|ext| source.to_ascii_lowercase().ends_with(ext))
}

/// The query in `source`, if it is one (parsed in the session's dialect).
fn parse_query(state: &SessionState, source: &str) -> Option<DFStatement> {
    let dialect = &state.config_options().sql_parser.dialect;
    match state.sql_to_statement(source, dialect) {
        Ok(DFStatement::Statement(s)) if matches!(*s, SQLStatement::Query(_)) => {
            Some(DFStatement::Statement(s))
        }
        _ => None,
    }
}

/// Resolves `source` in the session that calls the table function into the
/// logical plan that reads it: a query (SELECT, WITH, VALUES), a path or URL
/// of files, or else a table or view name.
pub fn resolve(function: &str, state: &SessionState, source: &str) -> Result<LogicalPlan> {
    let source = source.trim();
    if source.is_empty() {
        return plan_err!(
            "{function}: the source is empty; give a table or view name, a path or URL of \
             Parquet/CSV files, or a query starting with SELECT or WITH"
        );
    }
    let ctx = SessionContext::new_with_state(state.clone());
    let planned = block_on(async {
        if let Some(statement) = parse_query(state, source) {
            state.statement_to_plan(statement).await
        } else if is_path(source) {
            // Through the session's URL tables, so object stores are registered
            // and formats inferred exactly as for `SELECT * FROM 'path'`.
            match ctx.table(TableReference::bare(source)).await {
                Ok(df) => Ok(df.into_unoptimized_plan()),
                // A URL table that cannot be read reports only "table not
                // found": ask the object store why.
                Err(e) => Err(storage_error(state, source).await.unwrap_or(e)),
            }
        } else {
            ctx.table(source).await.map(|df| df.into_unoptimized_plan())
        }
    });
    planned.or_else(|e| {
        plan_err!(
            "{function}: cannot read the source '{}': {}",
            source.replace('\'', "''"),
            e.strip_backtrace()
        )
    })
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
        assert!(is_path("data/*.parquet"));
        assert!(is_path("s3://bucket/prefix/"));
        assert!(is_path("penguins.parquet"));
        assert!(!is_path("sessions"));
        assert!(!is_path("db.sessions"));
    }
}
