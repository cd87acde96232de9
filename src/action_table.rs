//! A table whose rows are computed when a query runs it, not when the query
//! is planned: `ml_train`, `ml_evaluate`, `ml_models` and `ml_deploy` do
//! their work (training, reading the registry, moving an alias) in `scan`,
//! so `CREATE VIEW` over them does nothing until the view is queried.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
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

impl ActionTable {
    pub fn new(name: &'static str, schema: SchemaRef, action: Action) -> Self {
        Self {
            name,
            schema,
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
        let batches = (self.action)(state).await?;
        Ok(MemorySourceConfig::try_new_exec(
            &[batches],
            Arc::clone(&self.schema),
            projection.cloned(),
        )?)
    }
}
