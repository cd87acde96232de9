//! `ml_evaluate(model, source)`: one row of BigQuery ML.EVALUATE's metrics
//! for the model on the source's rows (which must have the label column,
//! except for `kmeans`).
//! The predictions stream through; only the labels and scores are kept, as
//! ROC AUC and the median need them all.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{exec_datafusion_err, exec_err, plan_err, Column, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{col, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::execute_stream;
use futures::StreamExt;

use crate::action_table::ActionTable;
use crate::errors::IntoDataFusion;
use crate::ml_predict::{model_and_source_args, predict_plan, predicted_name, probs_name};
use crate::models::{class_indices, kmeans, metrics, numeric_label, Model, ModelType, Params};
use crate::registry::Metadata;

const NAME: &str = "ml_evaluate";

#[derive(Debug, Default)]
pub struct MlEvaluate;

/// ML.EVALUATE's k-means columns.
/// The k-means metrics of every row of `source`.
async fn evaluate_kmeans(
    state: SessionState,
    source: LogicalPlan,
    model: Arc<Model>,
) -> Result<Vec<(&'static str, Option<f64>)>> {
    let Params::Kmeans { centroids } = &model.params else {
        return exec_err!("{NAME}: not a kmeans model");
    };
    let plan = state.create_physical_plan(&source).await?;
    let mut stream = execute_stream(plan, state.task_ctx())?;
    let mut summary = kmeans::Summary::new(centroids);
    while let Some(batch) = stream.next().await {
        summary.add(&model.features.transform(&batch?).into_df()?);
    }
    Ok(summary.finish())
}

/// ML.EVALUATE's metrics of `model` on the rows of `source`.
pub async fn evaluate(
    function: &str,
    state: SessionState,
    source: LogicalPlan,
    metadata: &Metadata,
    model: Arc<Model>,
) -> Result<metrics::Metrics> {
    if model.model_type == ModelType::Kmeans {
        return evaluate_kmeans(state, source, model).await;
    }
    Ok(
        match score_rows(function, state, source, metadata, &model).await? {
            Scored::Classes { truth, probs } => {
                metrics::classification(&truth, &probs, model.label.classes.len())
            }
            Scored::Values { truth, predicted } => metrics::regression(&truth, &predicted),
        },
    )
}

fn schema_for(model: &Model) -> SchemaRef {
    Arc::new(Schema::new(
        model
            .model_type
            .task()
            .metrics()
            .iter()
            .map(|n| Field::new(*n, DataType::Float64, true))
            .collect::<Vec<_>>(),
    ))
}

/// The true and predicted values of every row of a source.
pub enum Scored {
    /// Class indices and n × k probabilities.
    Classes { truth: Vec<usize>, probs: Vec<f64> },
    Values {
        truth: Vec<f64>,
        predicted: Vec<f64>,
    },
}

/// The labels of `source` (which has them) and the model's predictions:
/// `ml_predict`'s plan, so that the predictions run where the query runs
/// (on a cluster, on its executors), projected to the label and the
/// probabilities (a classifier) or the predicted value.
pub fn scored_plan(
    function: &str,
    source: LogicalPlan,
    metadata: &Metadata,
    model: &Model,
) -> Result<LogicalPlan> {
    let prediction = if model.model_type.is_classifier() {
        probs_name(model)
    } else {
        predicted_name(model)
    };
    LogicalPlanBuilder::from(predict_plan(function, source, metadata, model.clone())?)
        .project([
            col(Column::new_unqualified(&model.label.name)),
            col(Column::new_unqualified(prediction)),
        ])?
        .build()
}

/// The labels and predictions of every row of `source` (see
/// [`scored_plan`]).
pub async fn score_rows(
    function: &str,
    state: SessionState,
    source: LogicalPlan,
    metadata: &Metadata,
    model: &Model,
) -> Result<Scored> {
    let label = model.label.name.clone();
    let scored = scored_plan(function, source, metadata, model)?;
    let plan = state.create_physical_plan(&scored).await?;
    let mut stream = execute_stream(plan, state.task_ctx())?;
    let classes = &model.label.classes;
    let k = classes.len();
    let (mut truth, mut values, mut probs, mut classes_seen) =
        (Vec::new(), Vec::<f64>::new(), Vec::new(), Vec::new());
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let (label_array, prediction) = (batch.column(0), batch.column(1));
        if model.model_type.is_classifier() {
            // In the training label's type, so that BIGINT 1 matches a DOUBLE
            // model's class "1.0".
            let label_array = &cast(label_array, &model.label.arrow_type().into_df()?)?;
            for (i, c) in class_indices(function, &label, label_array, classes)
                .into_df()?
                .into_iter()
                .enumerate()
            {
                match c {
                    Some(c) => classes_seen.push(c),
                    None => {
                        let value = datafusion::arrow::util::display::array_value_to_string(
                            label_array,
                            i,
                        )?;
                        return exec_err!(
                            "{function}: label {label} has the value {value}, which is not one \
                             of the model's classes ({})",
                            classes.join(", ")
                        );
                    }
                }
            }
            // Each row's list holds the k class probabilities in class order.
            let list = prediction.as_list::<i32>();
            let items = list.values().as_struct();
            let all = items
                .column_by_name("prob")
                .ok_or_else(|| exec_datafusion_err!("{function}: predictions have no prob"))?
                .as_primitive::<Float64Type>()
                .values();
            for w in list.value_offsets().windows(2) {
                let (start, end) = (w[0] as usize, w[1] as usize);
                if end - start != k {
                    return exec_err!(
                        "{function}: a prediction has {} classes, not {k}",
                        end - start
                    );
                }
                probs.extend_from_slice(&all[start..end]);
            }
        } else {
            truth.extend(numeric_label(function, &label, label_array).into_df()?);
            values.extend(prediction.as_primitive::<Float64Type>().values().iter());
        }
    }
    if truth.is_empty() && classes_seen.is_empty() {
        return exec_err!("{function}: the source has no rows to evaluate on");
    }
    Ok(if model.model_type.is_classifier() {
        let order = canonical_order(classes_seen.len(), |a, b| {
            probs[a * k..(a + 1) * k]
                .iter()
                .zip(&probs[b * k..(b + 1) * k])
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
                .then(classes_seen[a].cmp(&classes_seen[b]))
        });
        Scored::Classes {
            truth: order.iter().map(|&i| classes_seen[i]).collect(),
            probs: order
                .iter()
                .flat_map(|&i| probs[i * k..(i + 1) * k].iter().copied())
                .collect(),
        }
    } else {
        let order = canonical_order(truth.len(), |a, b| {
            values[a]
                .total_cmp(&values[b])
                .then(truth[a].total_cmp(&truth[b]))
        });
        Scored::Values {
            truth: order.iter().map(|&i| truth[i]).collect(),
            predicted: order.iter().map(|&i| values[i]).collect(),
        }
    })
}

/// The row indices `0..n` sorted by `cmp`. Metrics sum over rows, and a
/// floating-point sum depends on its order: scoring rows in an order fixed
/// by their values makes the metrics independent of the order the rows
/// arrived in (file layout, partitions, a cluster's executors).
fn canonical_order(n: usize, cmp: impl Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| cmp(a, b));
    order
}

/// The true class indices and the n × k probabilities of a classifier over
/// every row of `source`.
pub async fn score_classes(
    function: &str,
    state: SessionState,
    source: LogicalPlan,
    metadata: &Metadata,
    model: &Model,
) -> Result<(Vec<usize>, Vec<f64>)> {
    match score_rows(function, state, source, metadata, model).await? {
        Scored::Classes { truth, probs } => Ok((truth, probs)),
        Scored::Values { .. } => exec_err!("{function}: the model is not a classifier"),
    }
}

/// Loads the model and resolves the source of an evaluation function,
/// checking at planning that the source has the label and every feature.
pub fn model_and_source(
    function: &str,
    args: &TableFunctionArgs,
    classifier_only: bool,
) -> Result<(Metadata, Model, LogicalPlan)> {
    let (metadata, model, source) = model_and_source_args(function, args)?;
    if classifier_only && !model.model_type.is_classifier() {
        return plan_err!(
            "{function}: model {}@{} is a {}; {function} needs a classifier",
            metadata.model,
            metadata.version,
            model.model_type.name()
        );
    }
    let label = &model.label.name;
    if model.model_type != ModelType::Kmeans
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
    if model.model_type != ModelType::Kmeans {
        scored_plan(function, source.clone(), &metadata, &model)?;
    } else {
        predict_plan(function, source.clone(), &metadata, model.clone())?;
    }
    Ok((metadata, model, source))
}

impl TableFunctionImpl for MlEvaluate {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (metadata, model, source) = model_and_source(NAME, &args, false)?;
        let schema = schema_for(&model);
        let model = Arc::new(model);
        let out_schema = Arc::clone(&schema);
        Ok(Arc::new(ActionTable::new(
            NAME,
            schema,
            Box::new(move |state| {
                let (source, metadata, model, schema) = (
                    source.clone(),
                    metadata.clone(),
                    Arc::clone(&model),
                    Arc::clone(&out_schema),
                );
                Box::pin(async move {
                    let metrics = evaluate(NAME, state, source, &metadata, model).await?;
                    let columns: Vec<ArrayRef> = metrics
                        .into_iter()
                        .map(|(_, v)| Arc::new(Float64Array::from(vec![v])) as ArrayRef)
                        .collect();
                    Ok(vec![RecordBatch::try_new(schema, columns)?])
                })
            }),
        )))
    }
}
