//! Output columns the table functions share.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Builder, MapBuilder, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;

/// The type of a metrics column: MAP(VARCHAR, DOUBLE), as [`metrics_map`]
/// builds it (`ml_train`'s and `ml_tune`'s `metrics`, `ml_models`').
pub fn metrics_map_type() -> DataType {
    let mut builder = MapBuilder::new(None, StringBuilder::new(), Float64Builder::new());
    Array::data_type(&builder.finish()).clone()
}

/// A MAP(VARCHAR, DOUBLE) column with one map (or NULL) per row.
pub fn metrics_map<'a>(
    rows: impl IntoIterator<Item = Option<&'a BTreeMap<String, Option<f64>>>>,
) -> Result<ArrayRef> {
    let mut builder = MapBuilder::new(None, StringBuilder::new(), Float64Builder::new());
    for metrics in rows {
        for (k, v) in metrics.into_iter().flatten() {
            builder.keys().append_value(k);
            builder.values().append_option(*v);
        }
        builder.append(metrics.is_some())?;
    }
    Ok(Arc::new(builder.finish()))
}
