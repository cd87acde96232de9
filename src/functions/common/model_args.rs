//! The `(model, source)` arguments of the functions that apply a model:
//! the model loaded and the source resolved at planning, with the checks that
//! make a missing label or feature a planning error.

use datafusion::catalog::TableFunctionArgs;
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::LogicalPlan;

use crate::functions::common::args::{session_state, Signature};
use crate::functions::common::source::resolve;
use crate::models::{Model, Task};
use crate::registry::Metadata;
use crate::scoring::{load_model, predict_plan, scored_plan};

/// The model and the source of a `(model, source)` table function, both
/// loaded at planning.
pub fn model_and_source_args(
    signature: &Signature,
    args: &TableFunctionArgs,
) -> Result<(Metadata, Model, LogicalPlan)> {
    let function = signature.function;
    let bound = signature.bind(args)?;
    let state = session_state(function, args.session())?;
    let (metadata, model) = load_model(function, state, bound.get("model"))?;
    let source = resolve(function, state, bound.get("source"))?;
    Ok((metadata, model, source))
}

/// Loads the model and resolves the source of an evaluation function,
/// checking at planning that the source has the label and every feature.
pub fn model_and_source(
    signature: &Signature,
    args: &TableFunctionArgs,
    classifier_only: bool,
) -> Result<(Metadata, Model, LogicalPlan)> {
    let function = signature.function;
    let (metadata, model, source) = model_and_source_args(signature, args)?;
    if classifier_only && !model.model_type.is_classifier() {
        return plan_err!(
            "{function}: model {}@{} is a {}; {function} needs a classifier",
            metadata.model,
            metadata.version,
            model.model_type.name()
        );
    }
    let label = &model.label.name;
    if model.model_type.task() != Task::Clustering
        && source.schema().field_with_unqualified_name(label).is_err()
    {
        return plan_err!(
            "{function}: the source has no column {label}, the label of model {}@{}; \
             evaluation needs the true values",
            metadata.model,
            metadata.version
        );
    }
    // Check the features now, so a missing one is a planning error.
    if model.model_type.task() != Task::Clustering {
        scored_plan(function, source.clone(), &metadata, &model)?;
    } else {
        predict_plan(function, source.clone(), &metadata, model.clone())?;
    }
    Ok((metadata, model, source))
}
