//! `ml_evaluate(model, source)`: one row of BigQuery ML.EVALUATE's metrics
//! for the model on the source's rows (which must have the label column,
//! except for `kmeans`).
//! The predictions stream through; only the labels and scores are kept, as
//! ROC AUC and the median need them all.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{exec_err, plan_datafusion_err, plan_err, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::execute_stream;
use futures::StreamExt;

use crate::action_table::ActionTable;
use crate::ml_predict::load_model;
use crate::models::{class_indices, kmeans, metrics, numeric_label, Model, ModelType, Params};
use crate::source::{resolve, string_arg};

const NAME: &str = "ml_evaluate";

#[derive(Debug, Default)]
pub struct MlEvaluate;

/// ML.EVALUATE's k-means columns.
const KMEANS: &[&str] = &["davies_bouldin_index", "mean_squared_distance"];

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
        summary.add(&model.features.transform(&batch?)?);
    }
    Ok(summary.finish())
}

fn schema_for(model: &Model) -> SchemaRef {
    let names = match model.model_type {
        ModelType::Kmeans => KMEANS,
        t if t.is_classifier() => metrics::CLASSIFICATION,
        _ => metrics::REGRESSION,
    };
    Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Float64, true))
            .collect::<Vec<_>>(),
    ))
}

/// The model's metrics on every row of `source`.
async fn evaluate(
    state: SessionState,
    source: LogicalPlan,
    model: Arc<Model>,
) -> Result<Vec<(&'static str, Option<f64>)>> {
    let label = model.label.name.clone();
    let plan = state.create_physical_plan(&source).await?;
    let mut stream = execute_stream(plan, state.task_ctx())?;
    let classes = &model.label.classes;
    let k = classes.len();
    let (mut truth, mut values, mut probs, mut classes_seen) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let label_array = batch.column(batch.schema().index_of(&label)?);
        let p = model.predict(&batch)?;
        if model.model_type.is_classifier() {
            for (i, c) in class_indices(NAME, &label, label_array, classes)?
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
                            "{NAME}: label {label} has the value {value}, which is not one of \
                             the model's classes ({})",
                            classes.join(", ")
                        );
                    }
                }
            }
            probs.extend(p.probs.unwrap_or_default());
        } else {
            truth.extend(numeric_label(NAME, &label, label_array)?);
            values.extend(p.values);
        }
    }
    if truth.is_empty() && classes_seen.is_empty() {
        return plan_err!("{NAME}: the source has no rows to evaluate on");
    }
    Ok(if model.model_type.is_classifier() {
        metrics::classification(&classes_seen, &probs, k)
    } else {
        metrics::regression(&truth, &values)
    })
}

impl TableFunctionImpl for MlEvaluate {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.len() != 2 {
            return plan_err!(
                "{NAME}: expects (model, source), got {} arguments; e.g. \
                 ml_evaluate('churn', 'SELECT * FROM splits WHERE split = ''test''')",
                exprs.len()
            );
        }
        let model_text = string_arg(NAME, "model", &exprs[0])?;
        let source_text = string_arg(NAME, "source", &exprs[1])?;
        let state = args
            .session()
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| plan_datafusion_err!("{NAME}: needs a DataFusion SessionState"))?;
        let (metadata, model) = load_model(NAME, state, &model_text)?;
        let source = resolve(NAME, state, &source_text)?;
        let label = &model.label.name;
        let kmeans = model.model_type == ModelType::Kmeans;
        if !kmeans && source.schema().field_with_unqualified_name(label).is_err() {
            return plan_err!(
                "{NAME}: the source has no column {label}, the label of model {}@{}; \
                 evaluation needs the true values",
                metadata.model,
                metadata.version
            );
        }
        // Check the features now, so a missing one is a planning error.
        crate::ml_predict::predict_plan(NAME, source.clone(), &metadata, model.clone())?;
        let schema = schema_for(&model);
        let model = Arc::new(model);
        let out_schema = Arc::clone(&schema);
        Ok(Arc::new(ActionTable::new(
            NAME,
            schema,
            Box::new(move |state| {
                let (source, model, schema) =
                    (source.clone(), Arc::clone(&model), Arc::clone(&out_schema));
                Box::pin(async move {
                    let metrics = if kmeans {
                        evaluate_kmeans(state, source, model).await?
                    } else {
                        evaluate(state, source, model).await?
                    };
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
