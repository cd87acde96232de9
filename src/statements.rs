//! The SQL statements mlfusion adds to DataFusion's: `ASSERT`, BigQuery
//! scripting's gate for pipelines.
//!
//! `ASSERT <condition> [AS '<message>']` runs the condition (any boolean
//! expression, scalar and `EXISTS` subqueries over tables and table
//! functions included) as a query on the session, on the cluster for a
//! Ballista session, and fails with [`AssertionFailed`] unless it is TRUE.
//! DataFusion's planner refuses statements it does not know, so the session
//! entry points route them here: [`sql`] for Rust apps (and the Python
//! package), the CLI for its scripts and REPL.

use std::fmt;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::TreeNode;
use datafusion::common::{plan_datafusion_err, plan_err, DataFusionError, Result};
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::{lit, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::ast::{self, Expr as SqlExpr, SelectItem, SetExpr};
use datafusion::sql::sqlparser::dialect::GenericDialect;

/// [`SessionContext::sql`] that also runs `ASSERT`: it runs as DDL does,
/// when this is called, and gives an empty DataFrame when the condition
/// holds.
///
/// ```
/// # async fn run() -> datafusion::error::Result<()> {
/// let ctx = mlfusion::session_context(Default::default());
/// mlfusion::sql(&ctx, "ASSERT 1 + 1 = 2 AS 'arithmetic'").await?;
/// let failed = mlfusion::sql(&ctx, "ASSERT 1 > 2 AS 'one is not more than two'").await;
/// let failure = failed.as_ref().err().and_then(mlfusion::statements::assertion_failure);
/// assert_eq!(failure.and_then(|f| f.message()), Some("one is not more than two"));
/// # Ok(())
/// # }
/// ```
pub async fn sql(ctx: &SessionContext, sql: &str) -> Result<DataFrame> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    // What is not one ASSERT (or does not parse) goes to DataFusion as it
    // came, so every other statement and error is DataFusion's own.
    if let Ok(statement) = state.sql_to_statement(sql, &dialect) {
        if let Some(assertion) = Assertion::of(&statement) {
            assertion.check(ctx).await?;
            // No rows, as DDL gives.
            return Ok(DataFrame::new(
                state,
                LogicalPlanBuilder::empty(false).build()?,
            ));
        }
    }
    ctx.sql(sql).await
}

/// An `ASSERT` statement.
#[derive(Debug, Clone)]
pub struct Assertion {
    condition: SqlExpr,
    message: Option<SqlExpr>,
}

impl Assertion {
    /// The assertion `statement` is, if it is one.
    pub fn of(statement: &Statement) -> Option<Self> {
        match statement {
            Statement::Statement(s) => match s.as_ref() {
                ast::Statement::Assert { condition, message } => Some(Self {
                    condition: condition.clone(),
                    message: message.clone(),
                }),
                _ => None,
            },
            _ => None,
        }
    }

    /// Runs the condition on `ctx`; an error unless it is TRUE: a planning
    /// error for a condition that is not boolean or a message that is not a
    /// string literal, [`AssertionFailed`] for a FALSE or NULL condition.
    pub async fn check(&self, ctx: &SessionContext) -> Result<()> {
        let message = self.message()?;
        let plan = self.plan(ctx).await?;
        let rows: usize = ctx
            .execute_logical_plan(plan)
            .await?
            .collect()
            .await?
            .iter()
            .map(|b| b.num_rows())
            .sum();
        if rows == 1 {
            return Ok(());
        }
        Err(DataFusionError::External(Box::new(AssertionFailed {
            message,
            condition: self.condition.to_string(),
        })))
    }

    /// The text after `AS`.
    fn message(&self) -> Result<Option<String>> {
        let Some(message) = &self.message else {
            return Ok(None);
        };
        match message {
            SqlExpr::Value(v) => v.clone().into_string().map(Some),
            _ => None,
        }
        .ok_or_else(|| {
            plan_datafusion_err!(
                "ASSERT: the message after AS must be a string literal, got {message}"
            )
        })
    }

    /// One row if the condition is TRUE, none otherwise. The condition is
    /// planned as `SELECT <condition>` (which checks its type), then run as
    /// the filter of one row: DataFusion runs `EXISTS` subqueries in filters
    /// only.
    async fn plan(&self, ctx: &SessionContext) -> Result<LogicalPlan> {
        let mut statement = DFParser::parse_sql_with_dialect("SELECT NULL", &GenericDialect {})?
            .pop_front()
            .ok_or_else(|| plan_datafusion_err!("ASSERT: no query template"))?;
        if let Statement::Statement(s) = &mut statement {
            if let ast::Statement::Query(query) = s.as_mut() {
                if let SetExpr::Select(select) = query.body.as_mut() {
                    select.projection = vec![SelectItem::UnnamedExpr(self.condition.clone())];
                }
            }
        }
        let select = ctx.state().statement_to_plan(statement).await?;
        let LogicalPlan::Projection(projection) = select else {
            return plan_err!(
                "ASSERT: the condition must be an expression, got {}",
                self.condition
            );
        };
        let [condition] = projection.expr.as_slice() else {
            return plan_err!(
                "ASSERT: the condition must be one expression, got {}",
                self.condition
            );
        };
        // One row in, one value out: a set-returning condition (unnest) would
        // pass when any of its values is TRUE.
        if projection
            .input
            .exists(|p| Ok(matches!(p, LogicalPlan::Unnest(_))))?
        {
            return plan_err!(
                "ASSERT: the condition must be one value, not a set of them: {}",
                self.condition
            );
        }
        let condition = condition.clone().unalias();
        let data_type = projection.schema.field(0).data_type();
        if !matches!(data_type, DataType::Boolean | DataType::Null) {
            return plan_err!(
                "ASSERT: the condition must be BOOLEAN, got {data_type}: {}",
                self.condition
            );
        }
        LogicalPlanBuilder::from(projection.input.as_ref().clone())
            .filter(condition)?
            .project([lit(true).alias("passed")])?
            .build()
    }
}

/// An `ASSERT` whose condition was FALSE or NULL.
#[derive(Debug)]
pub struct AssertionFailed {
    message: Option<String>,
    condition: String,
}

impl AssertionFailed {
    /// The text after `AS`, unchanged.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The condition, as parsed.
    pub fn condition(&self) -> &str {
        &self.condition
    }
}

/// `Assertion failed: <message> (ASSERT <condition>: not TRUE)`, or without
/// a message `Assertion failed: ASSERT <condition>: not TRUE`.
impl fmt::Display for AssertionFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(message) => write!(
                f,
                "Assertion failed: {message} (ASSERT {}: not TRUE)",
                self.condition
            ),
            None => write!(f, "Assertion failed: ASSERT {}: not TRUE", self.condition),
        }
    }
}

impl std::error::Error for AssertionFailed {}

/// The failed assertion `error` is (or wraps), if it is one.
pub fn assertion_failure(error: &DataFusionError) -> Option<&AssertionFailed> {
    match error {
        DataFusionError::External(e) => e.downcast_ref(),
        DataFusionError::Context(_, e) => assertion_failure(e),
        DataFusionError::Shared(e) => assertion_failure(e),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> SessionContext {
        crate::session_context(Default::default())
    }

    #[tokio::test]
    async fn a_true_condition_gives_an_empty_result() -> Result<()> {
        let ctx = ctx();
        let df = sql(
            &ctx,
            "ASSERT (SELECT count(*) FROM generate_series(1, 3)) = 3",
        )
        .await?;
        assert_eq!(df.schema().fields().len(), 0);
        assert_eq!(df.count().await?, 0);
        Ok(())
    }

    #[tokio::test]
    async fn false_and_null_fail_with_the_message() {
        let ctx = ctx();
        for (statement, message, condition) in [
            (
                "ASSERT 1 > 2 AS 'one is not more'",
                Some("one is not more"),
                "1 > 2",
            ),
            ("assert NULL as \"not a string\"", None, ""),
            ("ASSERT NULL", None, "NULL"),
            (
                "ASSERT NULL AS 'it''s unknown'",
                Some("it's unknown"),
                "NULL",
            ),
        ] {
            let error = sql(&ctx, statement).await.expect_err("fails");
            if condition.is_empty() {
                // A double-quoted "message" is an identifier, not a string.
                assert!(matches!(error, DataFusionError::Plan(_)), "{error}");
                continue;
            }
            let failure = assertion_failure(&error).expect("an assertion failure");
            assert_eq!(
                (failure.message(), failure.condition()),
                (message, condition)
            );
        }
    }

    #[tokio::test]
    async fn a_condition_that_is_not_boolean_is_a_planning_error() {
        let error = sql(&ctx(), "ASSERT 'yes' AS 'x'").await.expect_err("fails");
        assert!(matches!(error, DataFusionError::Plan(_)), "{error}");
        assert!(assertion_failure(&error).is_none());
    }

    #[tokio::test]
    async fn other_statements_are_datafusions() -> Result<()> {
        let ctx = ctx();
        assert_eq!(sql(&ctx, "SELECT 1 AS a").await?.count().await?, 1);
        let ours = sql(&ctx, "SELECT 1; SELECT 2").await.expect_err("fails");
        let theirs = ctx.sql("SELECT 1; SELECT 2").await.expect_err("fails");
        assert_eq!(ours.to_string(), theirs.to_string());
        Ok(())
    }
}
