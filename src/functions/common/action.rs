//! A table whose rows are computed when a query executes it, not when the
//! query is planned: the acting table functions (`ml_train`, `ml_tune`,
//! `ml_evaluate`, `ml_describe`, `ml_validate_*`, `ml_models`, `ml_deploy`,
//! …) return an [`ActionTable`], whose `scan` builds a lazy plan
//! ([`StreamingTableExec`] over one [`ActionStream`]). The action (training,
//! reading the registry, moving an alias) runs when that plan is executed,
//! once per execution: `EXPLAIN` acts not at all, `EXPLAIN ANALYZE` and a
//! plain query once, and `CREATE VIEW` over a function only when the view is
//! queried.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::execution::{SendableRecordBatchStream, SessionState, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::ExecutionPlan;
use futures::future::BoxFuture;
use futures::{stream, TryFutureExt, TryStreamExt};

use crate::functions::common::args::session_state;

/// What an acting table function does when its plan executes: its result
/// rows, computed in the session the query was planned in.
pub type Action =
    Box<dyn Fn(SessionState) -> BoxFuture<'static, Result<Vec<RecordBatch>>> + Send + Sync>;

pub struct ActionTable {
    name: &'static str,
    schema: SchemaRef,
    action: Arc<Action>,
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
            action: Arc::new(action),
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
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let stream = ActionStream {
            name: self.name,
            schema: Arc::clone(&self.schema),
            action: Arc::clone(&self.action),
            state: session_state(self.name, state)?.clone(),
        };
        Ok(Arc::new(StreamingTableExec::try_new(
            Arc::clone(&self.schema),
            vec![Arc::new(stream)],
            projection,
            [],
            false,
            limit,
        )?))
    }
}

/// `e`, saying which function failed unless it does already (an object
/// store's error names the URL, not the function).
fn naming(function: &str, e: DataFusionError) -> DataFusionError {
    if e.message().contains(function) {
        return e;
    }
    match e {
        DataFusionError::Execution(text) => {
            DataFusionError::Execution(format!("{function}: {text}"))
        }
        e => DataFusionError::Execution(format!("{function}: {}", e.strip_backtrace())),
    }
}

/// The one partition of an [`ActionTable`]'s plan: runs the action when it
/// is executed and streams its rows.
struct ActionStream {
    name: &'static str,
    schema: SchemaRef,
    action: Arc<Action>,
    state: SessionState,
}

impl fmt::Debug for ActionStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActionStream({})", self.name)
    }
}

impl PartitionStream for ActionStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = Arc::clone(&self.schema);
        let name = self.name;
        let rows = (self.action)(self.state.clone()).map_err(move |e| naming(name, e));
        let batches = stream::once(rows)
            .map_ok(move |batches| {
                let schema = Arc::clone(&schema);
                stream::iter(
                    batches
                        .into_iter()
                        .map(move |b| Ok(b.with_schema(Arc::clone(&schema))?)),
                )
            })
            .try_flatten();
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            batches,
        ))
    }
}
