//! `row_fingerprint(*)` and `dataset_fingerprint(*)`: a wildcard argument
//! means every column of the function's input, as in `count(*)` but with the
//! values. `row_fingerprint('v1', *)` salts the row; `t.*` takes one table's
//! columns.
//!
//! DataFusion 55's SQL planner leaves a wildcard inside function arguments
//! unexpanded (`Expr::Wildcard`, deprecated there), so this analyzer rule
//! expands it for mlfusion's row functions before physical planning.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::logical_expr::expr::{AggregateFunction, ScalarFunction};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::{expand_qualified_wildcard, expand_wildcard};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

/// The functions whose arguments are a row of values.
const ROW_FUNCTIONS: &[&str] = &["row_fingerprint", "dataset_fingerprint"];

#[derive(Debug, Default)]
pub struct ExpandRowWildcards;

impl AnalyzerRule for ExpandRowWildcards {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| {
            // A wildcard names the columns of the node's one input.
            let Some(input) = (match plan.inputs().as_slice() {
                [input] => Some(Arc::new((*input).clone())),
                _ => None,
            }) else {
                return Ok(Transformed::no(plan));
            };
            // Keep each output column's name ("dataset_fingerprint(*)"), which
            // the nodes above refer to.
            let names = NamePreserver::new(&plan);
            let rewritten = plan.map_expressions(|e| {
                let name = names.save(&e);
                e.transform_up(|e| expand_in_call(e, &input))?
                    .map_data(|e| Ok(name.restore(e)))
            })?;
            if rewritten.transformed {
                rewritten.map_data(|p| p.recompute_schema())
            } else {
                Ok(rewritten)
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "mlfusion_expand_row_wildcards"
    }
}

fn expand_in_call(expr: Expr, input: &LogicalPlan) -> Result<Transformed<Expr>> {
    Ok(match expr {
        Expr::ScalarFunction(ScalarFunction { func, args })
            if ROW_FUNCTIONS.contains(&func.name()) && args.iter().any(is_wildcard) =>
        {
            let args = expand_args(args, input)?;
            Transformed::yes(Expr::ScalarFunction(ScalarFunction { func, args }))
        }
        Expr::AggregateFunction(AggregateFunction { func, mut params })
            if ROW_FUNCTIONS.contains(&func.name()) && params.args.iter().any(is_wildcard) =>
        {
            params.args = expand_args(params.args, input)?;
            Transformed::yes(Expr::AggregateFunction(AggregateFunction { func, params }))
        }
        other => Transformed::no(other),
    })
}

#[allow(deprecated)] // Expr::Wildcard: what the SQL planner leaves in arguments
fn is_wildcard(e: &Expr) -> bool {
    matches!(e, Expr::Wildcard { .. })
}

#[allow(deprecated)]
fn expand_args(args: Vec<Expr>, input: &LogicalPlan) -> Result<Vec<Expr>> {
    let schema = input.schema();
    let mut expanded = Vec::with_capacity(args.len() + schema.fields().len());
    for arg in args {
        match arg {
            Expr::Wildcard {
                qualifier: None,
                options,
            } => expanded.extend(expand_wildcard(schema, input, Some(&options))?),
            Expr::Wildcard {
                qualifier: Some(q),
                options,
            } => expanded.extend(expand_qualified_wildcard(&q, schema, Some(&options))?),
            other => expanded.push(other),
        }
    }
    Ok(expanded)
}
