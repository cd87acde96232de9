//! How `ml_split` marks its result, so that a training function reading it
//! (directly, in a query, or through views) records the split's parameters
//! as structured data: the `split` and `fold` columns carry the parameters
//! as field metadata, which follows the columns through projections,
//! filters, views and subqueries (and leaves with them).

use std::collections::BTreeMap;

use datafusion::common::metadata::FieldMetadata;
use datafusion::common::DFSchema;

use crate::registry::SplitSpec;

/// The field metadata key of the parameters (as JSON).
const KEY: &str = "mlfusion.split";

/// The metadata `ml_split` puts on its `split` and `fold` columns.
pub fn split_metadata(spec: &SplitSpec) -> FieldMetadata {
    let json = serde_json::to_string(spec).unwrap_or_default();
    FieldMetadata::from(BTreeMap::from([(KEY.to_string(), json)]))
}

/// Whether `schema` has `ml_split`'s `split` column (marked by it, not just
/// a column of that name).
pub fn has_split_column(schema: &DFSchema) -> bool {
    schema
        .field_with_unqualified_name("split")
        .is_ok_and(|f| f.metadata().contains_key(KEY))
}

/// The split whose columns `schema` has, if any.
pub fn split_of(schema: &DFSchema) -> Option<SplitSpec> {
    schema
        .fields()
        .iter()
        .find_map(|f| serde_json::from_str(f.metadata().get(KEY)?).ok())
}
