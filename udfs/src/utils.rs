//! Helpers shared by the functions of this crate.

use arrow::datatypes::{DataType, FieldRef};
use datafusion_expr::{Signature, TypeSignature, Volatility};

/// A signature that accepts any non-empty argument list unchanged, so the
/// function's `return_type` validates the types itself and its planning
/// errors reach the user as written (no silent casts, no wrapped messages),
/// plus `examples`: argument lists `SHOW FUNCTIONS` and
/// `information_schema` show (they list a function only through examples).
pub(crate) fn any_arguments_with_examples(examples: &[&[DataType]]) -> Signature {
    let mut signatures = vec![TypeSignature::VariadicAny];
    signatures.extend(examples.iter().map(|e| TypeSignature::Exact(e.to_vec())));
    Signature::one_of(signatures, Volatility::Immutable)
}

/// The types of argument fields, for `return_field_from_args` to validate
/// them with `return_type`.
pub(crate) fn data_types(fields: &[FieldRef]) -> Vec<DataType> {
    fields.iter().map(|f| f.data_type().clone()).collect()
}
