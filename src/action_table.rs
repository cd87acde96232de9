//! A table whose rows are computed when a query runs it, not when the query
//! is planned: `ml_train`, `ml_evaluate`, `ml_models` and `ml_deploy` do
//! their work (training, reading the registry, moving an alias) in `scan`,
//! so `CREATE VIEW` over them does nothing until the view is queried.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::TableType;
use datafusion::execution::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use futures::future::BoxFuture;

use crate::source::session_state;

pub type Action =
    Box<dyn Fn(SessionState) -> BoxFuture<'static, Result<Vec<RecordBatch>>> + Send + Sync>;

pub struct ActionTable {
    name: &'static str,
    schema: SchemaRef,
    action: Action,
}

/// Numbers the calls of table functions (see [`distinct_call`]).
static CALLS: AtomicU64 = AtomicU64::new(0);

/// `schema` marked as the result of one table-function call. DataFusion
/// compares table scans by name and schema, not by what they read, so two
/// calls of one function with the same output columns in one query
/// (`(SELECT roc_auc FROM ml_evaluate('a', ...)) + (SELECT roc_auc FROM
/// ml_evaluate('b', ...))`) would otherwise be merged as one common
/// subexpression, and both would read the first call's result.
pub fn distinct_call(schema: &Schema) -> SchemaRef {
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let mut metadata = schema.metadata().clone();
    metadata.insert("mlfusion.call".to_string(), call.to_string());
    Arc::new(schema.clone().with_metadata(metadata))
}

impl ActionTable {
    pub fn new(name: &'static str, schema: SchemaRef, action: Action) -> Self {
        Self {
            name,
            schema: distinct_call(&schema),
            action,
        }
    }
}

impl fmt::Debug for ActionTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActionTable({})", self.name)
    }
}

#[async_trait]
impl TableProvider for ActionTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let state = session_state(self.name, state)?.clone();
        let batches = (self.action)(state)
            .await?
            .into_iter()
            .map(|b| b.with_schema(Arc::clone(&self.schema)))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(MemorySourceConfig::try_new_exec(
            &[batches],
            Arc::clone(&self.schema),
            projection.cloned(),
        )?)
    }
}
