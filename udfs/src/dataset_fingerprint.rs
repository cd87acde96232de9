//! `dataset_fingerprint(x1, …, xn)`: an order-free checksum of a multiset of rows.
//!
//! Each row is fingerprinted with row encoding v1 (as `row_fingerprint`).
//! The state is three wrapping sums over those 64-bit fingerprints h: the
//! row count, Σh and Σmix(h) with an independent bijective mixer. Addition
//! commutes and associates, so the state is the same for any row order,
//! partitioning or merge order, and every copy of a row adds again (so
//! duplicates count, unlike an XOR). The result hashes the final state.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, UInt64Array};
use arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion_common::{not_impl_err, plan_err, Result, ScalarValue};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::utils::format_state_name;
use datafusion_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, Documentation, EmitTo, GroupsAccumulator,
    Signature,
};
use datafusion_macros::user_doc;

use crate::farmhash::fingerprint64;
use crate::row_encoding::{check_encodable, for_each_row_fingerprint, ROW_EXAMPLES};
use crate::utils::any_arguments_with_examples;

#[user_doc(
    doc_section(label = "General Functions"),
    description = "Computes an order-free BIGINT checksum of the rows of a table (a multiset): \
        the same rows in any order, file layout or partitioning give the same value, and a \
        duplicated, missing or changed row changes it. Rows are encoded as in row_fingerprint \
        (NULLs count). Returns NULL for no rows.",
    syntax_example = "dataset_fingerprint(x1[, x2, ..., xn])",
    sql_example = "```sql\n> SELECT dataset_fingerprint(id, name, score) FROM 'data/*.parquet';\n```",
    argument(name = "x1", description = "The first column of a row."),
    argument(
        name = "..., xn",
        description = "Further columns, of any types row_fingerprint accepts."
    ),
    related_udf(name = "row_fingerprint")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DatasetFingerprint {
    signature: Signature,
}

impl Default for DatasetFingerprint {
    fn default() -> Self {
        Self {
            signature: any_arguments_with_examples(ROW_EXAMPLES),
        }
    }
}

impl AggregateUDFImpl for DatasetFingerprint {
    fn name(&self) -> &str {
        "dataset_fingerprint"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if arg_types.is_empty() {
            return plan_err!("dataset_fingerprint: expects at least one argument (x1, ..., xn)");
        }
        check_encodable("dataset_fingerprint", arg_types)?;
        Ok(DataType::Int64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(["count", "sum", "sum_mixed"]
            .into_iter()
            .map(|s| {
                Arc::new(Field::new(
                    format_state_name(args.name, s),
                    DataType::UInt64,
                    true,
                ))
            })
            .collect())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        check_not_distinct(&args)?;
        Ok(Box::new(DatasetFingerprintAccumulator::default()))
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        !args.is_distinct
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        check_not_distinct(&args)?;
        Ok(Box::new(DatasetFingerprintGroups::default()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

fn check_not_distinct(args: &AccumulatorArgs) -> Result<()> {
    if args.is_distinct {
        // DataFusion rewrites a lone DISTINCT aggregate into a GROUP BY, so
        // only the forms it cannot rewrite reach this point.
        return not_impl_err!(
            "dataset_fingerprint: this DISTINCT form is not supported; fingerprint the \
             distinct rows in a subquery: SELECT dataset_fingerprint(a, b) FROM (SELECT \
             DISTINCT a, b FROM t)"
        );
    }
    Ok(())
}

/// The fold of one multiset: count, Σh, Σmix(h), all wrapping. Public so
/// that code which already has the rows' fingerprints (`row_fingerprint` of
/// the same columns) can compute `dataset_fingerprint` without a second pass.
#[derive(Debug, Default, Clone, Copy)]
pub struct State {
    count: u64,
    sum: u64,
    sum_mixed: u64,
}

/// MurmurHash3's 64-bit finalizer: a bijection, so Σmix(h) is a second,
/// independent linear checksum of the h values.
#[inline]
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl State {
    #[inline]
    pub fn add_row(&mut self, h: u64) {
        self.count = self.count.wrapping_add(1);
        self.sum = self.sum.wrapping_add(h);
        self.sum_mixed = self.sum_mixed.wrapping_add(mix(h));
    }

    /// Undoes [`Self::add_row`], for sliding window frames.
    #[inline]
    fn remove_row(&mut self, h: u64) {
        self.count = self.count.wrapping_sub(1);
        self.sum = self.sum.wrapping_sub(h);
        self.sum_mixed = self.sum_mixed.wrapping_sub(mix(h));
    }

    #[inline]
    fn merge(&mut self, other: State) {
        self.count = self.count.wrapping_add(other.count);
        self.sum = self.sum.wrapping_add(other.sum);
        self.sum_mixed = self.sum_mixed.wrapping_add(other.sum_mixed);
    }

    /// The checksum, as `dataset_fingerprint` returns it (None for no rows).
    pub fn finish(&self) -> Option<i64> {
        if self.count == 0 {
            return None;
        }
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&self.count.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.sum.to_le_bytes());
        bytes[16..].copy_from_slice(&self.sum_mixed.to_le_bytes());
        Some(fingerprint64(&bytes) as i64)
    }
}

/// Reads the three state columns of a partial aggregate.
fn state_columns(states: &[ArrayRef]) -> Result<[&UInt64Array; 3]> {
    match states {
        [c, s, m] => Ok([
            c.as_primitive::<UInt64Type>(),
            s.as_primitive::<UInt64Type>(),
            m.as_primitive::<UInt64Type>(),
        ]),
        _ => plan_err!(
            "dataset_fingerprint: expected 3 state columns, got {}",
            states.len()
        ),
    }
}

fn state_at(columns: &[&UInt64Array; 3], i: usize) -> State {
    State {
        count: columns[0].value(i),
        sum: columns[1].value(i),
        sum_mixed: columns[2].value(i),
    }
}

fn as_columns(values: &[ArrayRef]) -> Vec<ColumnarValue> {
    values.iter().cloned().map(ColumnarValue::Array).collect()
}

fn num_rows(values: &[ArrayRef]) -> usize {
    values.first().map_or(0, |v| v.len())
}

#[derive(Debug, Default)]
struct DatasetFingerprintAccumulator {
    state: State,
}

impl Accumulator for DatasetFingerprintAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let state = &mut self.state;
        for_each_row_fingerprint(&as_columns(values), num_rows(values), |_, h| {
            state.add_row(h)
        })
    }

    /// Sums subtract exactly, so sliding window frames cost one row each.
    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let state = &mut self.state;
        for_each_row_fingerprint(&as_columns(values), num_rows(values), |_, h| {
            state.remove_row(h)
        })
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let columns = state_columns(states)?;
        for i in 0..columns[0].len() {
            if columns[0].is_valid(i) {
                self.state.merge(state_at(&columns, i));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let s = self.state;
        Ok(vec![
            ScalarValue::UInt64(Some(s.count)),
            ScalarValue::UInt64(Some(s.sum)),
            ScalarValue::UInt64(Some(s.sum_mixed)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(self.state.finish()))
    }

    fn size(&self) -> usize {
        size_of_val(self)
    }
}

/// The GROUP BY form: one [`State`] per group.
#[derive(Debug, Default)]
struct DatasetFingerprintGroups {
    states: Vec<State>,
}

impl DatasetFingerprintGroups {
    fn take(&mut self, emit_to: EmitTo) -> Vec<State> {
        emit_to.take_needed(&mut self.states)
    }
}

fn is_selected(filter: Option<&BooleanArray>, row: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(row) && f.value(row))
}

impl GroupsAccumulator for DatasetFingerprintGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.states.resize(total_num_groups, State::default());
        let states = &mut self.states;
        for_each_row_fingerprint(&as_columns(values), num_rows(values), |row, h| {
            if is_selected(opt_filter, row) {
                states[group_indices[row]].add_row(h);
            }
        })
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.states.resize(total_num_groups, State::default());
        let columns = state_columns(values)?;
        for (row, &group) in group_indices.iter().enumerate() {
            if columns[0].is_valid(row) {
                self.states[group].merge(state_at(&columns, row));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let states = self.take(emit_to);
        Ok(Arc::new(
            states.iter().map(State::finish).collect::<Int64Array>(),
        ))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(state_arrays(&self.take(emit_to)))
    }

    /// Each input row becomes the state of a one-row multiset (or of an
    /// empty one where the filter drops it), so partial aggregation can be
    /// skipped for high-cardinality GROUP BYs.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let mut states = vec![State::default(); num_rows(values)];
        for_each_row_fingerprint(&as_columns(values), states.len(), |row, h| {
            if is_selected(opt_filter, row) {
                states[row].add_row(h);
            }
        })?;
        Ok(state_arrays(&states))
    }

    fn size(&self) -> usize {
        self.states.capacity() * size_of::<State>()
    }
}

/// The three state columns of a list of states.
fn state_arrays(states: &[State]) -> Vec<ArrayRef> {
    let column = |f: fn(&State) -> u64| -> ArrayRef {
        Arc::new(UInt64Array::from_iter_values(states.iter().map(f)))
    };
    vec![
        column(|s| s.count),
        column(|s| s.sum),
        column(|s| s.sum_mixed),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_order_free_and_counts_duplicates() {
        let hashes = [3u64, 99, u64::MAX, 7, 99];
        let mut forward = State::default();
        hashes.iter().for_each(|&h| forward.add_row(h));
        let mut merged = State::default();
        let (mut left, mut right) = (State::default(), State::default());
        hashes.iter().rev().take(2).for_each(|&h| left.add_row(h));
        hashes.iter().rev().skip(2).for_each(|&h| right.add_row(h));
        merged.merge(right);
        merged.merge(left);
        assert_eq!(forward.finish(), merged.finish());

        let mut once = State::default();
        [3u64, 99, u64::MAX, 7]
            .iter()
            .for_each(|&h| once.add_row(h));
        assert_ne!(forward.finish(), once.finish());
        assert_eq!(State::default().finish(), None);
    }
}
