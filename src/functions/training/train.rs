//! `ml_train(model, source, label [, options])`: trains a model on the rows
//! of the source (but those held out for evaluation: `eval_split`), scores it
//! on both, and stores it as a new version in the registry.
//!
//! The rows are put in a canonical order (by their row fingerprint) before
//! training, and every sum runs in a fixed order, so the same rows in any
//! order or file layout give a byte-identical `model.json`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, DataFusionError, Result};
use datafusion::execution::SessionState;

use super::shared::{
    all_classes, fit, held_out_scores, load_rows, plan_input, progress_printer, store,
    CancelOnDrop, TrainingInput,
};
use crate::errors::IntoDataFusion;
use crate::functions::common::action::ActionTable;
use crate::functions::common::args::Signature;
use crate::functions::common::schemas::{metrics_map, metrics_map_type};
use crate::models::hyperparameters::{self, Hyperparameters};
use crate::registry::Metadata;

const NAME: &str = "ml_train";

#[derive(Debug, Default)]
pub struct MlTrain;

pub fn result_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("version", DataType::Int64, false),
        Field::new("model_type", DataType::Utf8, false),
        Field::new("training_rows", DataType::Int64, false),
        Field::new("eval_rows", DataType::Int64, false),
        Field::new("data_fingerprint", DataType::Int64, true),
        Field::new("metrics", metrics_map_type(), false),
        Field::new("eval_metrics", metrics_map_type(), true),
        Field::new("artifact_uri", DataType::Utf8, false),
    ]))
}

/// The arguments of `ml_train`.
const SIGNATURE: Signature = Signature {
    function: NAME,
    names: &["model", "source", "label", "options"],
    required: 3,
    example: "ml_train('churn', 'train_rows', 'churned', 'model_type=logistic_reg')",
};

impl TableFunctionImpl for MlTrain {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (input, options) = plan_input(&SIGNATURE, &args, &[])?;
        let mut hyper = Hyperparameters::new(input.model_type);
        for h in hyperparameters::of(input.model_type) {
            if let Some(text) = options.get(h.key) {
                if text.contains('(') {
                    return plan_err!(
                        "{NAME}: option {}={text} is a search space; ml_tune searches it, \
                         ml_train takes one value",
                        h.key
                    );
                }
                hyper.given.insert(h.key, h.parse(NAME, text).into_df()?);
            }
        }
        let input = Arc::new(input);
        Ok(Arc::new(ActionTable::new(
            NAME,
            result_schema(),
            Box::new(move |state| {
                let (input, hyper) = (Arc::clone(&input), hyper.clone());
                Box::pin(async move { train_and_store(state, input, hyper).await })
            }),
        )))
    }
}

/// `ml_train`'s work when the query runs.
async fn train_and_store(
    state: SessionState,
    input: Arc<TrainingInput>,
    hyper: Hyperparameters,
) -> Result<Vec<RecordBatch>> {
    let rows = load_rows(NAME, &state, &input).await?;
    let held = Arc::new(input.eval_split.apply(NAME, &rows.data)?);
    let classes = all_classes(NAME, &input, &rows.data)?;
    let cancelled = Arc::new(AtomicBool::new(false));
    let guard = CancelOnDrop(Arc::clone(&cancelled));
    let (fit_input, rows_held) = (Arc::clone(&input), Arc::clone(&held));
    let (model, metrics, eval_metrics) = tokio::task::spawn_blocking(move || {
        let progress = progress_printer(NAME, &fit_input.name, &cancelled);
        let (input, held) = (&fit_input, &rows_held);
        let fit = fit(NAME, input, &hyper, &held.fit, classes.as_deref(), progress)?;
        let metrics = fit.metrics();
        let eval_metrics = match &held.eval {
            Some(eval) => Some(held_out_scores(NAME, input, &fit.model, eval)?),
            None => None,
        };
        Ok::<_, DataFusionError>((fit.model, metrics, eval_metrics))
    })
    .await
    .map_err(|e| DataFusionError::External(Box::new(e)))??;
    drop(guard);
    let (metadata, uri) = store(
        &state,
        &input,
        &model,
        metrics,
        eval_metrics,
        &held,
        &rows,
        None,
    )
    .await?;
    Ok(vec![result_row(&metadata, uri)?])
}

fn result_row(metadata: &Metadata, uri: String) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(
        result_schema(),
        vec![
            Arc::new(StringArray::from(vec![metadata.model.clone()])),
            Arc::new(Int64Array::from(vec![metadata.version as i64])),
            Arc::new(StringArray::from(vec![metadata.model_type.clone()])),
            Arc::new(Int64Array::from(vec![metadata.training_rows as i64])),
            Arc::new(Int64Array::from(vec![metadata.eval_rows as i64])),
            Arc::new(Int64Array::from(vec![metadata.data_fingerprint])),
            metrics_map([Some(&metadata.metrics)])?,
            metrics_map([metadata.eval_metrics.as_ref()])?,
            Arc::new(StringArray::from(vec![uri])),
        ],
    )?)
}
