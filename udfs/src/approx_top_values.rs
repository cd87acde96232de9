//! `approx_top_values(x, k)`: the k most frequent values of a column with
//! their counts, in one pass and bounded memory.
//!
//! A Misra–Gries summary of at most [`CAPACITY`] counters. While a column
//! has at most that many distinct values the counts are exact. Past it, each
//! count is low by at most d, the total subtracted so far, with
//! d ≤ n / (CAPACITY + 1) for n values, and any value more frequent than d
//! is kept. Summaries merge (add the counters, then subtract the
//! (CAPACITY + 1)-th largest count from all and drop those that reach 0:
//! Agarwal et al., "Mergeable summaries", 2012), so partial aggregates of any
//! partitioning combine with the same guarantee. Once d > 0 only values
//! counted at least d times are returned: the others may be no more frequent
//! than values already dropped.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, ListArray, StringArray, StructArray, UInt64Array,
};
use arrow::buffer::OffsetBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type, UInt64Type};
use datafusion_common::{exec_err, not_impl_err, plan_err, Result, ScalarValue};
use datafusion_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion_expr::utils::format_state_name;
use datafusion_expr::{Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility};
use datafusion_macros::user_doc;

/// The counters a summary keeps.
pub const CAPACITY: usize = 1024;

/// The largest `k`.
const MAX_K: i64 = CAPACITY as i64;

const NAME: &str = "approx_top_values";

#[user_doc(
    doc_section(label = "General Functions"),
    description = "Returns the k most frequent non-NULL values of a column with their counts, \
        most frequent first (ties by value), as a list of {value, count}; values are shown as \
        text. One pass, bounded memory: exact while the column has at most 1024 distinct \
        values; past that, only values known to be frequent (counts low by at most n/1025 for \
        n values), possibly none.",
    syntax_example = "approx_top_values(x, k)",
    sql_example = "```sql\n> SELECT approx_top_values(plan, 3) FROM 'churn.parquet';\n```",
    argument(name = "x", description = "A column of any type that casts to text."),
    argument(
        name = "k",
        description = "How many values, an integer from 1 to 1024."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ApproxTopValues {
    signature: Signature,
}

impl Default for ApproxTopValues {
    fn default() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// `{value: VARCHAR, count: BIGINT}`, an element of the result.
fn entry_fields() -> Fields {
    Fields::from(vec![
        Field::new("value", DataType::Utf8, false),
        Field::new("count", DataType::Int64, false),
    ])
}

fn result_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(entry_fields()),
        false,
    )))
}

impl AggregateUDFImpl for ApproxTopValues {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !arg_types[1].is_integer() {
            return plan_err!(
                "{NAME}: k has type {}; give an integer from 1 to {MAX_K}, e.g. \
                 {NAME}(plan, 5)",
                arg_types[1]
            );
        }
        Ok(result_type())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |name, t| {
            Arc::new(Field::new(
                format_state_name(args.name, name),
                DataType::List(Arc::new(Field::new("item", t, false))),
                true,
            ))
        };
        Ok(vec![
            list("values", DataType::Utf8),
            list("counts", DataType::UInt64),
            Arc::new(Field::new(
                format_state_name(args.name, "k"),
                DataType::Int64,
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "decrement"),
                DataType::UInt64,
                true,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if args.is_distinct {
            return not_impl_err!("{NAME}: DISTINCT is not supported (every value counts once)");
        }
        Ok(Box::new(Summary::default()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// A Misra–Gries summary: value → count, at most [`CAPACITY`] of them.
#[derive(Debug, Default)]
struct Summary {
    counts: HashMap<String, u64>,
    /// The total subtracted from the counters: every count is low by at
    /// most this much.
    decrement: u64,
    /// The `k` argument, once a row has shown it.
    k: Option<usize>,
}

impl Summary {
    /// Adds counts of distinct values (from a summary whose counts are low
    /// by up to `decrement`), keeping at most CAPACITY counters. Only the
    /// new values that survive are copied.
    fn absorb<'a>(&mut self, counted: impl IntoIterator<Item = (&'a str, u64)>, decrement: u64) {
        self.decrement += decrement;
        let mut fresh: Vec<(&'a str, u64)> = Vec::new();
        for (value, count) in counted {
            match self.counts.get_mut(value) {
                Some(c) => *c += count,
                None => fresh.push((value, count)),
            }
        }
        let cut = if self.counts.len() + fresh.len() > CAPACITY {
            let mut all: Vec<u64> = self.counts.values().copied().collect();
            all.extend(fresh.iter().map(|(_, c)| *c));
            // The (CAPACITY + 1)-th largest count.
            *all.select_nth_unstable_by(CAPACITY, |a, b| b.cmp(a)).1
        } else {
            0
        };
        self.decrement += cut;
        if cut > 0 {
            self.counts.retain(|_, c| {
                *c -= (*c).min(cut);
                *c > 0
            });
        }
        for (value, count) in fresh {
            if count > cut {
                self.counts.insert(value.to_string(), count - cut);
            }
        }
    }

    fn set_k(&mut self, k: i64) -> Result<()> {
        if !(1..=MAX_K).contains(&k) {
            return exec_err!("{NAME}: k = {k} is out of range; give an integer from 1 to {MAX_K}");
        }
        match self.k {
            Some(old) if old != k as usize => {
                exec_err!("{NAME}: k must be one constant, got {old} and {k}")
            }
            _ => {
                self.k = Some(k as usize);
                Ok(())
            }
        }
    }

    /// The counters, most frequent first, ties by value.
    fn sorted(&self) -> Vec<(&str, u64)> {
        let mut entries: Vec<(&str, u64)> =
            self.counts.iter().map(|(v, c)| (v.as_str(), *c)).collect();
        entries.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        entries
    }

    /// The values known to be frequent, most frequent first: all of them
    /// while the counts are exact, else those counted at least `decrement`
    /// times.
    fn frequent(&self) -> Vec<(&str, u64)> {
        let mut entries = self.sorted();
        if self.decrement > 0 {
            entries.retain(|(_, c)| *c >= self.decrement);
        }
        entries
    }
}

fn one_list(values: ArrayRef, field: Field) -> ScalarValue {
    let offsets = OffsetBuffer::from_lengths([values.len()]);
    ScalarValue::List(Arc::new(ListArray::new(
        Arc::new(field),
        offsets,
        values,
        None,
    )))
}

impl Accumulator for Summary {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [x, k] = values else {
            return exec_err!("{NAME}: expects (x, k)");
        };
        let k = cast(k, &DataType::Int64)?;
        if let Some(k) = k.as_primitive::<Int64Type>().iter().flatten().next() {
            self.set_k(k)?;
        }
        let text = cast(x, &DataType::Utf8)?;
        let mut counted: HashMap<&str, u64> = HashMap::new();
        for value in text.as_string::<i32>().iter().flatten() {
            *counted.entry(value).or_default() += 1;
        }
        self.absorb(counted, 0);
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [values, counts, k, decrement] = states else {
            return exec_err!("{NAME}: expects 4 state columns, got {}", states.len());
        };
        let decrement = decrement.as_primitive::<UInt64Type>();
        if let Some(k) = k.as_primitive::<Int64Type>().iter().flatten().next() {
            self.set_k(k)?;
        }
        let (values, counts) = (values.as_list::<i32>(), counts.as_list::<i32>());
        for row in 0..values.len() {
            if values.is_null(row) {
                continue;
            }
            let v = values.value(row);
            let c = counts.value(row);
            let (v, c): (&StringArray, &UInt64Array) =
                (v.as_string::<i32>(), c.as_primitive::<UInt64Type>());
            let d = if decrement.is_valid(row) {
                decrement.value(row)
            } else {
                0
            };
            self.absorb(v.iter().flatten().zip(c.values().iter().copied()), d);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let entries = self.sorted();
        let values = StringArray::from_iter_values(entries.iter().map(|(v, _)| *v));
        let counts = UInt64Array::from_iter_values(entries.iter().map(|(_, c)| *c));
        Ok(vec![
            one_list(Arc::new(values), Field::new("item", DataType::Utf8, false)),
            one_list(
                Arc::new(counts),
                Field::new("item", DataType::UInt64, false),
            ),
            ScalarValue::Int64(self.k.map(|k| k as i64)),
            ScalarValue::UInt64(Some(self.decrement)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut entries = self.frequent();
        entries.truncate(self.k.unwrap_or(0));
        let values = StringArray::from_iter_values(entries.iter().map(|(v, _)| *v));
        let counts = Int64Array::from_iter_values(entries.iter().map(|(_, c)| *c as i64));
        let structs = StructArray::new(
            entry_fields(),
            vec![Arc::new(values), Arc::new(counts)],
            None,
        );
        Ok(one_list(
            Arc::new(structs),
            Field::new("item", DataType::Struct(entry_fields()), false),
        ))
    }

    fn size(&self) -> usize {
        size_of_val(self)
            + self
                .counts
                .keys()
                .map(|k| k.capacity() + size_of::<(String, u64)>())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(summary: &Summary, k: usize) -> Vec<(String, u64)> {
        summary
            .frequent()
            .into_iter()
            .take(k)
            .map(|(v, c)| (v.to_string(), c))
            .collect()
    }

    #[test]
    fn counts_exactly_while_the_distinct_values_fit() {
        let mut s = Summary::default();
        s.absorb([("b", 2), ("a", 1), ("c", 1)], 0);
        s.absorb([("a", 2)], 0);
        assert_eq!(top(&s, 2), [("a".to_string(), 3), ("b".to_string(), 2)]);
    }

    #[test]
    fn returns_no_value_when_none_is_known_to_be_frequent() {
        let values: Vec<String> = (0..5000).map(|i| format!("v{i}")).collect();
        let mut s = Summary::default();
        for chunk in values.chunks(700) {
            s.absorb(chunk.iter().map(|v| (v.as_str(), 1)), 0);
        }
        assert!(s.decrement > 0);
        assert!(s.frequent().is_empty(), "{:?}", s.frequent());
    }

    /// Past the capacity every value more frequent than n / (CAPACITY + 1)
    /// stays, low by at most that much, however the rows are split and
    /// merged.
    #[test]
    fn frequent_values_survive_many_rare_ones_in_any_split() {
        let rare: Vec<String> = (0..20_000).map(|i| format!("r{i}")).collect();
        let mut rows: Vec<&str> = rare.iter().map(String::as_str).collect();
        rows.extend(std::iter::repeat_n("hot", 500));
        rows.extend(std::iter::repeat_n("warm", 200));
        let n = rows.len() as u64;
        let bound = n / (CAPACITY as u64 + 1);
        for parts in [1, 3, 8] {
            let mut merged = Summary::default();
            for chunk in rows.chunks(rows.len().div_ceil(parts)) {
                let mut part = Summary::default();
                for rows in chunk.chunks(1000) {
                    let mut counted: HashMap<&str, u64> = HashMap::new();
                    rows.iter()
                        .for_each(|r| *counted.entry(r).or_default() += 1);
                    part.absorb(counted, 0);
                }
                merged.absorb(part.sorted(), part.decrement);
            }
            assert!(merged.counts.len() <= CAPACITY);
            assert!(merged.decrement <= bound, "{} > {bound}", merged.decrement);
            // Only the values known to be frequent are returned.
            let frequent: Vec<&str> = merged.frequent().iter().map(|(v, _)| *v).collect();
            assert_eq!(frequent, ["hot", "warm"], "{parts} parts");
            let got = top(&merged, 2);
            assert_eq!(got[0].0, "hot", "{parts} parts");
            assert_eq!(got[1].0, "warm", "{parts} parts");
            assert!(
                got[0].1 <= 500 && got[0].1 + bound >= 500,
                "{got:?}, bound {bound}"
            );
            assert!(
                got[1].1 <= 200 && got[1].1 + bound >= 200,
                "{got:?}, bound {bound}"
            );
        }
    }
}
