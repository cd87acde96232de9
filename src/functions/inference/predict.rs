//! `ml_predict(model, source)`: the source's rows with the model's
//! predictions, as a view: a projection over the source calling a scalar
//! function that holds the loaded model. It streams batch by batch (memory
//! does not grow with the data), and filters and projections push through.
//!
//! Output: the source columns, then `predicted_<label>` (the label's type
//! for a classifier, DOUBLE for a regressor) and, for a classifier,
//! `predicted_<label>_probs`: one `{label, prob}` per class, as BigQuery ML;
//! for `kmeans`, `centroid_id` (BIGINT, from 1).

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;

use crate::functions::common::args::Signature;
use crate::functions::common::model_args::model_and_source_args;
use crate::scoring::predict_plan;

const NAME: &str = "ml_predict";

#[derive(Debug, Default)]
pub struct MlPredict;

/// The arguments of `ml_predict`.
const SIGNATURE: Signature = Signature {
    function: NAME,
    names: &["model", "source"],
    required: 2,
    example: "ml_predict('churn', 'data/new.parquet') or ml_predict('churn@3', 'new_rows')",
};

impl TableFunctionImpl for MlPredict {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (metadata, model, source) = model_and_source_args(&SIGNATURE, &args)?;
        let plan = predict_plan(NAME, source, &metadata, model)?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}
