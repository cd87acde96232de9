//! Distributions of columns ("profiles") and the distances between them,
//! as drift checks compare them (BigQuery's ML.VALIDATE_DATA_DRIFT,
//! TensorFlow Data Validation): the L-infinity distance between the value
//! frequencies of a categorical column, the Jensen–Shannon divergence
//! between histograms of a numeric column over shared buckets.
//!
//! NULL is a category (and a bucket) of its own, so a column that turns
//! NULL is a change like any other. A profile of many columns takes one
//! aggregation over the source (two for numeric columns whose range is not
//! given: their extremes first).

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::{exec_err, Column, Result, ScalarValue};
use datafusion::dataframe::DataFrame;
use datafusion::execution::SessionState;
use datafusion::functions::math::expr_fn::{floor, isnan};
use datafusion::functions_aggregate::count::count_all;
use datafusion::functions_aggregate::expr_fn::{count, max, min};
use datafusion::logical_expr::{cast as cast_expr, lit, when, Expr, LogicalPlan};
use mlfusion_udfs::approx_top_values::CAPACITY;
use mlfusion_udfs::expr_fn::approx_top_values;
use serde::{Deserialize, Serialize};

/// Histogram buckets of a numeric column.
pub const BUCKETS: usize = 10;

/// How a column's distribution is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Integers, floats, decimals: a histogram of [`BUCKETS`] equal-width
    /// buckets over a range.
    Numeric,
    /// Strings and booleans: value frequencies.
    Categorical,
}

pub fn kind_of(data_type: &DataType) -> Option<Kind> {
    match data_type {
        DataType::Dictionary(_, value) => kind_of(value),
        t if t.is_numeric() => Some(Kind::Numeric),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => {
            Some(Kind::Categorical)
        }
        _ => None,
    }
}

/// One column's distribution over a source's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Profile {
    /// Counts of the values in each of [`BUCKETS`] equal-width buckets over
    /// [low, high] (values outside go to the end buckets), and of NULLs
    /// (and NaNs).
    Numeric {
        #[serde(with = "crate::models::exact")]
        low: f64,
        #[serde(with = "crate::models::exact")]
        high: f64,
        counts: Vec<u64>,
        nulls: u64,
    },
    /// Counts of each value (as text; exact up to 1024 distinct values,
    /// past that only the values known to be frequent, see
    /// `approx_top_values`), and of NULLs.
    Categorical {
        counts: BTreeMap<String, u64>,
        nulls: u64,
    },
}

/// A column to profile: its name, kind, and for a numeric column the range
/// of its buckets (`None`: the column's own extremes in this source).
#[derive(Debug, Clone)]
pub struct Request {
    pub name: String,
    pub kind: Kind,
    pub range: Option<(f64, f64)>,
}

/// A column by its name as written.
fn column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

/// `CAST(column AS DOUBLE)`.
fn double(name: &str) -> Expr {
    cast_expr(column(name), DataType::Float64)
}

/// The (min, max) of numeric columns as DOUBLE (`None` when all NULL).
pub async fn ranges(
    state: &SessionState,
    source: &LogicalPlan,
    columns: &[String],
) -> Result<Vec<Option<(f64, f64)>>> {
    if columns.is_empty() {
        return Ok(vec![]);
    }
    let df = DataFrame::new(state.clone(), source.clone());
    let mut aggregates = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        aggregates.push(min(double(c)).alias(format!("lo{i}")));
        aggregates.push(max(double(c)).alias(format!("hi{i}")));
    }
    let row = one_row(df.aggregate(vec![], aggregates)?.collect().await?)?;
    Ok((0..columns.len())
        .map(|i| Some((float(&row, 2 * i)?, float(&row, 2 * i + 1)?)))
        .collect())
}

/// The rows of `source` and the profile of each requested column, in one
/// aggregation (after one for the extremes of numeric columns without a
/// range).
pub async fn profiles(
    state: &SessionState,
    source: &LogicalPlan,
    requests: &[Request],
) -> Result<(u64, Vec<Profile>)> {
    let missing: Vec<String> = requests
        .iter()
        .filter(|r| r.kind == Kind::Numeric && r.range.is_none())
        .map(|r| r.name.clone())
        .collect();
    let mut found = ranges(state, source, &missing).await?.into_iter();
    let requests: Vec<Request> = requests
        .iter()
        .map(|r| match (r.kind, r.range) {
            (Kind::Numeric, None) => Request {
                range: Some(found.next().flatten().unwrap_or((0.0, 0.0))),
                ..r.clone()
            },
            _ => r.clone(),
        })
        .collect();
    let df = DataFrame::new(state.clone(), source.clone());
    let mut aggregates = vec![count_all().alias("rows")];
    for (i, r) in requests.iter().enumerate() {
        let c = &r.name;
        let values = match (r.kind, r.range) {
            (Kind::Numeric, Some((low, high))) => {
                // The bucket of each value: floor((x - low) / width × B),
                // kept within 0..B (a constant column has one bucket).
                let last = lit((BUCKETS - 1) as i64);
                let width = high - low;
                let bucket = if width > 0.0 && width.is_finite() {
                    cast_expr(
                        floor((double(c) - lit(low)) / lit(width) * lit(BUCKETS as i64)),
                        DataType::Int64,
                    )
                } else {
                    when(isnan(double(c)), lit(ScalarValue::Null)).otherwise(lit(0i64))?
                };
                when(bucket.clone().lt(lit(0i64)), lit(0i64))
                    .when(bucket.clone().gt(last.clone()), last)
                    .otherwise(bucket)?
            }
            _ => column(c),
        };
        aggregates.push(count(column(c)).alias(format!("n{i}")));
        aggregates.push(approx_top_values(values, lit(CAPACITY as i64)).alias(format!("v{i}")));
    }
    let row = one_row(df.aggregate(vec![], aggregates)?.collect().await?)?;
    let rows = int(&row, 0).unwrap_or(0) as u64;
    let profiles = requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let counted = top_counts(&row, 2 + 2 * i);
            // Categorical counts may hold only the frequent values: count the
            // NULLs. Buckets are exact (at most BUCKETS of them), and NaNs
            // fall in none: they count with the NULLs.
            let nonnull = match r.kind {
                Kind::Categorical => int(&row, 1 + 2 * i).unwrap_or(0) as u64,
                Kind::Numeric => counted.values().sum(),
            };
            let nulls = rows - nonnull.min(rows);
            match (r.kind, r.range) {
                (Kind::Numeric, Some((low, high))) => {
                    let mut counts = vec![0u64; BUCKETS];
                    for (bucket, n) in counted {
                        if let Ok(b) = bucket.parse::<usize>() {
                            counts[b.min(BUCKETS - 1)] += n;
                        }
                    }
                    Profile::Numeric {
                        low,
                        high,
                        counts,
                        nulls,
                    }
                }
                _ => Profile::Categorical {
                    counts: counted,
                    nulls,
                },
            }
        })
        .collect();
    Ok((rows, profiles))
}

/// The one row of an aggregation without GROUP BY.
pub(crate) fn one_row(batches: Vec<RecordBatch>) -> Result<RecordBatch> {
    match batches.into_iter().find(|b| b.num_rows() == 1) {
        Some(b) => Ok(b),
        None => exec_err!("the aggregation returned no row"),
    }
}

/// Column `i` of a one-row batch as a DOUBLE (`None` for NULL).
pub(crate) fn float(row: &RecordBatch, i: usize) -> Option<f64> {
    let a = cast(row.column(i), &DataType::Float64).ok()?;
    let a = a.as_primitive::<Float64Type>();
    a.is_valid(0).then(|| a.value(0))
}

/// Column `i` of a one-row batch as a BIGINT (`None` for NULL).
pub(crate) fn int(row: &RecordBatch, i: usize) -> Option<i64> {
    let a = cast(row.column(i), &DataType::Int64).ok()?;
    let a = a.as_primitive::<Int64Type>();
    a.is_valid(0).then(|| a.value(0))
}

/// The value → count pairs of an `approx_top_values` result.
fn top_counts(row: &RecordBatch, i: usize) -> BTreeMap<String, u64> {
    let list = row.column(i).as_list::<i32>();
    if list.is_null(0) {
        return BTreeMap::new();
    }
    let entries = list.value(0);
    let entries = entries.as_struct();
    let values = entries.column(0).as_string::<i32>();
    let counts = entries.column(1).as_primitive::<Int64Type>();
    (0..entries.len())
        .map(|j| (values.value(j).to_string(), counts.value(j) as u64))
        .collect()
}

fn total(counts: impl Iterator<Item = u64>, nulls: u64) -> f64 {
    let total = (counts.sum::<u64>() + nulls) as f64;
    if total > 0.0 {
        total
    } else {
        1.0
    }
}

/// The name of the distance between profiles of a kind.
pub fn metric(kind: Kind) -> &'static str {
    match kind {
        Kind::Numeric => "jensen_shannon_divergence",
        Kind::Categorical => "l_infinity",
    }
}

/// How far apart two profiles of one column are, by their kind's
/// [`metric`]; `None` when they are not profiles of the same kind over the
/// same buckets.
pub fn distance(a: &Profile, b: &Profile) -> Option<f64> {
    match (a, b) {
        (
            Profile::Numeric {
                low: la,
                high: ha,
                counts: ca,
                nulls: na,
            },
            Profile::Numeric {
                low: lb,
                high: hb,
                counts: cb,
                nulls: nb,
            },
        ) if la == lb && ha == hb && ca.len() == cb.len() => Some(jensen_shannon(
            &histogram_shares(ca, *na),
            &histogram_shares(cb, *nb),
        )),
        (
            Profile::Categorical {
                counts: ca,
                nulls: na,
            },
            Profile::Categorical {
                counts: cb,
                nulls: nb,
            },
        ) => Some(l_infinity(ca, *na, cb, *nb)),
        _ => None,
    }
}

/// Each bucket's share of the rows, then NULL's.
fn histogram_shares(counts: &[u64], nulls: u64) -> Vec<f64> {
    let n = total(counts.iter().copied(), nulls);
    counts
        .iter()
        .chain([&nulls])
        .map(|c| *c as f64 / n)
        .collect()
}

/// The largest difference in the share of any value, or of NULL.
fn l_infinity(a: &BTreeMap<String, u64>, na: u64, b: &BTreeMap<String, u64>, nb: u64) -> f64 {
    let (ta, tb) = (
        total(a.values().copied(), na),
        total(b.values().copied(), nb),
    );
    let share =
        |m: &BTreeMap<String, u64>, k: &String, t: f64| m.get(k).map_or(0.0, |c| *c as f64 / t);
    a.keys()
        .chain(b.keys())
        .map(|k| (share(a, k, ta) - share(b, k, tb)).abs())
        .fold((na as f64 / ta - nb as f64 / tb).abs(), f64::max)
}

/// The Jensen–Shannon divergence, base 2 (so in [0, 1]), of two
/// distributions over the same outcomes.
fn jensen_shannon(p: &[f64], q: &[f64]) -> f64 {
    let m: Vec<f64> = p.iter().zip(q).map(|(x, y)| 0.5 * (x + y)).collect();
    let kl = |x: &[f64]| -> f64 {
        x.iter()
            .zip(&m)
            .filter(|(xi, _)| **xi > 0.0)
            .map(|(xi, mi)| xi * (xi / mi).log2())
            .sum()
    };
    (0.5 * kl(p) + 0.5 * kl(q)).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(counts: &[u64], nulls: u64) -> Profile {
        Profile::Numeric {
            low: 0.0,
            high: 1.0,
            counts: counts.to_vec(),
            nulls,
        }
    }

    fn categorical(counts: &[(&str, u64)], nulls: u64) -> Profile {
        Profile::Categorical {
            counts: counts.iter().map(|(v, n)| (v.to_string(), *n)).collect(),
            nulls,
        }
    }

    #[test]
    fn distances_of_known_distributions() {
        let js = |a, b| distance(&a, &b).unwrap();
        // Disjoint histograms diverge by 1 bit; proportional ones by 0.
        assert_eq!(js(numeric(&[5, 0], 0), numeric(&[0, 5], 0)), 1.0);
        assert_eq!(js(numeric(&[2, 2], 1), numeric(&[4, 4], 2)), 0.0);
        // scipy.spatial.distance.jensenshannon([.5, .5, 0], [.25, .25, .5], base=2) ** 2
        let v = js(numeric(&[1, 1], 0), numeric(&[1, 1], 2));
        assert!((v - 0.311_278_124_459_132_8).abs() < 1e-12, "{v}");
        // A value that vanishes, NULL that appears.
        assert_eq!(
            js(
                categorical(&[("a", 3), ("b", 1)], 0),
                categorical(&[("b", 2)], 2)
            ),
            0.75
        );
        // Profiles of different kinds or buckets do not compare.
        assert!(distance(&numeric(&[1], 0), &categorical(&[], 1)).is_none());
        assert!(distance(&numeric(&[1], 0), &numeric(&[1, 2], 0)).is_none());
    }
}
