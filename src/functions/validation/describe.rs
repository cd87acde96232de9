//! `ml_describe(source [, options])`: per-column statistics of a source, as
//! BigQuery's ML.DESCRIBE_DATA: one row per column.
//!
//! Every statistic of every column is one aggregate of a single aggregation
//! over the source, so the source is read once, streaming, and memory is
//! bounded whatever its size: counts, sums and extremes are O(1), distinct
//! counts a HyperLogLog sketch, quantiles a t-digest, top values a
//! Misra–Gries summary (`approx_top_values`).

use std::sync::Arc;

use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, Float64Builder, Int64Builder, ListBuilder,
    RecordBatch, StringBuilder,
};
use datafusion::arrow::compute::{cast, concat};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Column, Result};
use datafusion::dataframe::DataFrame;
use datafusion::execution::SessionState;
use datafusion::functions::expr_fn::character_length;
use datafusion::functions_aggregate::expr_fn::{
    approx_distinct, approx_percentile_cont, avg, count, max, min, stddev, sum,
};
use datafusion::logical_expr::{cast as cast_expr, col, lit, when, Expr, LogicalPlan};
use mlfusion_udfs::expr_fn::approx_top_values;

use crate::functions::common::action::ActionTable;
use crate::functions::common::args::{session_state, Signature};
use crate::functions::common::options::Options;
use crate::functions::common::source::resolve;
use crate::profile;

const NAME: &str = "ml_describe";

/// BigQuery's defaults: quantiles [min, median, max], the top value.
const DEFAULT_QUANTILES: u32 = 2;
const DEFAULT_TOP_K: u32 = 1;

#[derive(Debug, Default)]
pub struct MlDescribe;

/// What statistics a column gets, by its type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Integers, floats, decimals: every statistic.
    Numeric,
    /// Strings: extremes, distinct count, length, top values.
    Text,
    /// Booleans, dates, times, timestamps: extremes, distinct count, top values.
    Ordered,
    /// Binaries, lists, structs, maps: counts only.
    Other,
}

fn kind(data_type: &DataType) -> Kind {
    match data_type {
        DataType::Dictionary(_, value) => kind(value),
        t if t.is_numeric() => Kind::Numeric,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::Text,
        DataType::Boolean
        | DataType::Date32
        | DataType::Date64
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Timestamp(_, _) => Kind::Ordered,
        _ => Kind::Other,
    }
}

fn output_schema() -> SchemaRef {
    let top = DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(
            vec![
                Field::new("value", DataType::Utf8, false),
                Field::new("count", DataType::Int64, false),
            ]
            .into(),
        ),
        false,
    )));
    Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("type", DataType::Utf8, false),
        Field::new("num_rows", DataType::Int64, false),
        Field::new("num_nulls", DataType::Int64, false),
        Field::new("num_zeros", DataType::Int64, true),
        Field::new("min", DataType::Utf8, true),
        Field::new("max", DataType::Utf8, true),
        Field::new("mean", DataType::Float64, true),
        Field::new("stddev", DataType::Float64, true),
        Field::new("median", DataType::Float64, true),
        Field::new(
            "quantiles",
            DataType::List(Arc::new(Field::new("item", DataType::Float64, true))),
            true,
        ),
        Field::new("unique", DataType::Int64, true),
        Field::new("avg_string_length", DataType::Float64, true),
        Field::new("top_values", top, true),
    ]))
}

/// Where each statistic of one column sits among the aggregates.
#[derive(Debug, Default)]
struct Slots {
    count: usize,
    zeros: Option<usize>,
    min: Option<usize>,
    max: Option<usize>,
    mean: Option<usize>,
    stddev: Option<usize>,
    median: Option<usize>,
    quantiles: Vec<usize>,
    unique: Option<usize>,
    avg_length: Option<usize>,
    top: Option<usize>,
}

/// The aggregates of every column, and where each column's are.
struct Plan {
    source: LogicalPlan,
    columns: Vec<(String, DataType)>,
    aggregates: Vec<Expr>,
    slots: Vec<Slots>,
}

impl Plan {
    fn new(source: LogicalPlan, num_quantiles: usize, top_k: usize) -> Self {
        let columns: Vec<(String, DataType)> = source
            .schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        // count(*) first: the rows.
        let mut aggregates = vec![count(lit(1))];
        let mut add = |e: Expr| {
            aggregates.push(e.alias(format!("a{}", aggregates.len())));
            aggregates.len() - 1
        };
        let slots = columns
            .iter()
            .map(|(name, data_type)| {
                let c = col(Column::new_unqualified(name));
                // Dictionaries are read as their values.
                let plain = match data_type {
                    DataType::Dictionary(_, v) => cast_expr(c.clone(), v.as_ref().clone()),
                    _ => c.clone(),
                };
                let mut s = Slots {
                    count: add(count(c.clone())),
                    ..Default::default()
                };
                let kind = kind(data_type);
                if kind == Kind::Other {
                    return s;
                }
                s.min = Some(add(min(plain.clone())));
                s.max = Some(add(max(plain.clone())));
                s.top = Some(add(approx_top_values(plain.clone(), lit(top_k as i64))));
                match kind {
                    Kind::Numeric => {
                        let x = cast_expr(plain.clone(), DataType::Float64);
                        s.mean = Some(add(avg(x.clone())));
                        s.stddev = Some(add(stddev(x.clone())));
                        let zero = when(x.clone().eq(lit(0.0)), lit(1i64))
                            .otherwise(lit(0i64))
                            .unwrap_or_else(|_| lit(0i64));
                        s.zeros = Some(add(sum(zero)));
                        let quantile = |q: f64| {
                            approx_percentile_cont(x.clone().sort(true, false), lit(q), None)
                        };
                        // The end quantiles are the extremes (exact); the
                        // inner ones t-digest estimates.
                        let (lo, hi) = (s.min.unwrap_or_default(), s.max.unwrap_or_default());
                        s.quantiles = (0..=num_quantiles)
                            .map(|i| match i {
                                0 => lo,
                                i if i == num_quantiles => hi,
                                i => add(quantile(i as f64 / num_quantiles as f64)),
                            })
                            .collect();
                        s.median = Some(match num_quantiles % 2 {
                            0 => s.quantiles[num_quantiles / 2],
                            _ => add(quantile(0.5)),
                        });
                        // HyperLogLog has no float hashing: count the
                        // distinct values of their text.
                        let distinct = match data_type {
                            t if t.is_floating() => cast_expr(plain, DataType::Utf8),
                            _ => plain,
                        };
                        s.unique = Some(add(approx_distinct(distinct)));
                    }
                    Kind::Text => {
                        s.avg_length = Some(add(avg(character_length(plain.clone()))));
                        s.unique = Some(add(approx_distinct(plain)));
                    }
                    _ => s.unique = Some(add(approx_distinct(plain))),
                }
                s
            })
            .collect();
        Self {
            source,
            columns,
            aggregates,
            slots,
        }
    }

    async fn run(&self, state: SessionState) -> Result<Vec<RecordBatch>> {
        let row = profile::one_row(
            DataFrame::new(state, self.source.clone())
                .aggregate(vec![], self.aggregates.clone())?
                .collect()
                .await?,
        )?;
        let int = |i: Option<usize>| profile::int(&row, i?);
        let float = |i: Option<usize>| profile::float(&row, i?);
        let text = |i: Option<usize>| -> Option<String> {
            let a = cast(row.column(i?), &DataType::Utf8).ok()?;
            let a = a.as_string::<i32>();
            a.is_valid(0).then(|| a.value(0).to_string())
        };
        let rows = int(Some(0)).unwrap_or(0);
        let schema = output_schema();
        let (mut name, mut data_type) = (StringBuilder::new(), StringBuilder::new());
        let (mut num_rows, mut nulls, mut zeros, mut unique) = (
            Int64Builder::new(),
            Int64Builder::new(),
            Int64Builder::new(),
            Int64Builder::new(),
        );
        let (mut lo, mut hi) = (StringBuilder::new(), StringBuilder::new());
        let (mut mean, mut sd, mut median, mut length) = (
            Float64Builder::new(),
            Float64Builder::new(),
            Float64Builder::new(),
            Float64Builder::new(),
        );
        let mut quantiles = ListBuilder::new(Float64Builder::new());
        let top_type = schema.field(schema.fields().len() - 1).data_type().clone();
        let mut tops: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for ((column, t), s) in self.columns.iter().zip(&self.slots) {
            name.append_value(column);
            data_type.append_value(t.to_string());
            num_rows.append_value(rows);
            nulls.append_value(rows - int(Some(s.count)).unwrap_or(0));
            zeros.append_option(s.zeros.map(|_| int(s.zeros).unwrap_or(0)));
            lo.append_option(text(s.min));
            hi.append_option(text(s.max));
            mean.append_option(float(s.mean));
            sd.append_option(float(s.stddev));
            median.append_option(float(s.median));
            if s.quantiles.is_empty() || float(s.quantiles.first().copied()).is_none() {
                quantiles.append(false);
            } else {
                for q in &s.quantiles {
                    quantiles.values().append_option(float(Some(*q)));
                }
                quantiles.append(true);
            }
            unique.append_option(int(s.unique));
            length.append_option(float(s.avg_length));
            tops.push(match s.top {
                Some(i) => cast(row.column(i), &top_type)?,
                None => new_null_array(&top_type, 1),
            });
        }
        let tops: Vec<&dyn Array> = tops.iter().map(|a| a.as_ref()).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(name.finish()),
            Arc::new(data_type.finish()),
            Arc::new(num_rows.finish()),
            Arc::new(nulls.finish()),
            Arc::new(zeros.finish()),
            Arc::new(lo.finish()),
            Arc::new(hi.finish()),
            Arc::new(mean.finish()),
            Arc::new(sd.finish()),
            Arc::new(median.finish()),
            Arc::new(quantiles.finish()),
            Arc::new(unique.finish()),
            Arc::new(length.finish()),
            concat(&tops)?,
        ];
        Ok(vec![RecordBatch::try_new(schema, columns)?])
    }
}

/// `ml_describe`'s options.
struct DescribeOptions {
    /// Quantiles per numeric column (1 to 100).
    num_quantiles: usize,
    /// Most frequent values per column (1 to `approx_top_values`' capacity).
    top_k: usize,
}

impl DescribeOptions {
    fn parse(text: &str) -> Result<Self> {
        let options = Options::parse(NAME, text, &["num_quantiles", "top_k"])?;
        let num_quantiles = options
            .integer("num_quantiles", 1)?
            .unwrap_or(DEFAULT_QUANTILES) as usize;
        if num_quantiles > 100 {
            return plan_err!(
                "{NAME}: option num_quantiles={num_quantiles} is not valid; give an integer \
                 from 1 to 100"
            );
        }
        let top_k = options.integer("top_k", 1)?.unwrap_or(DEFAULT_TOP_K) as usize;
        if top_k > mlfusion_udfs::approx_top_values::CAPACITY {
            return plan_err!(
                "{NAME}: option top_k={top_k} is not valid; give an integer from 1 to {}",
                mlfusion_udfs::approx_top_values::CAPACITY
            );
        }
        Ok(Self {
            num_quantiles,
            top_k,
        })
    }
}

/// The arguments of `ml_describe`.
const SIGNATURE: Signature = Signature {
    function: NAME,
    names: &["source", "options"],
    required: 1,
    example: "ml_describe('data/*.parquet', 'num_quantiles=4, top_k=3')",
};

impl TableFunctionImpl for MlDescribe {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let bound = SIGNATURE.bind(&args)?;
        let source_text = bound.get("source");
        let options = DescribeOptions::parse(bound.get("options"))?;
        let state = session_state(NAME, args.session())?;
        let source = resolve(NAME, state, source_text)?;
        let plan = Arc::new(Plan::new(source, options.num_quantiles, options.top_k));
        Ok(Arc::new(ActionTable::new(
            NAME,
            output_schema(),
            Box::new(move |state| {
                let plan = Arc::clone(&plan);
                Box::pin(async move { plan.run(state).await })
            }),
        )))
    }
}
