//! `ml_split(source [, options])`: reproducible train / validation / test
//! splits and cross-validation folds, as a view over the source.
//!
//! The split is a logical plan (built with DataFusion's `Expr` API over
//! `row_fingerprint`, `abs_mod` and built-in window functions), so DataFusion
//! pushes projections and filters
//! into it, spills its window sorts when memory is short, and it can run
//! wherever the plan runs. See `docs/ml_split.md` for the exact rules.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::metadata::FieldMetadata;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{
    plan_datafusion_err, plan_err, Column, DFSchema, JoinType, NullEquality, Result, ScalarValue,
};
use datafusion::datasource::ViewTable;
use datafusion::functions_aggregate::count::{count_all, count_all_window};
use datafusion::functions_aggregate::expr_fn::{count_distinct, min};
use datafusion::functions_aggregate::min_max::{max_udaf, min_udaf};
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::functions_window::expr_fn::{dense_rank, row_number};
use datafusion::logical_expr::expr::{Sort, WindowFunction};
use datafusion::logical_expr::utils::find_window_exprs;
use datafusion::logical_expr::{
    binary_expr, cast, lit, when, AggregateUDF, Expr, ExprFunctionExt, LogicalPlan,
    LogicalPlanBuilder, Operator, WindowFrame, WindowFrameBound, WindowFrameUnits,
    WindowFunctionDefinition,
};
use mlfusion_udfs::expr_fn::{abs_mod, row_fingerprint};

use crate::functions::common::args::{session_state, Signature};
use crate::functions::common::options::Options;
use crate::functions::common::source::resolve;
use crate::functions::common::splits::split_metadata;
use crate::registry::{SplitMethod, SplitSpec};

const NAME: &str = "ml_split";

const KEYS: &[&str] = &[
    "test_fraction",
    "validation_fraction",
    "folds",
    "stratify",
    "group",
    "key",
    "salt",
    "method",
];

/// Parts per million: fractions are exact integers in the plan.
const PPM: u64 = 1_000_000;

/// The most folds: keeps the balanced arithmetic exact in 64 bits for
/// strata of up to 9 billion rows (n · k · PPM < 2^63).
const MAX_FOLDS: u32 = 1000;

/// Balanced ranks within strata are taken within buckets of the
/// fingerprint's top six bits (`fp >> 58`: 64 buckets, in the fingerprint's
/// order), then offset by the units of the stratum's lower buckets. Each
/// bucket sorts on its own, so a large stratum sorts on every core instead of
/// on one; 64 buckets per stratum spread it evenly over the partitions of a
/// machine.
const BUCKET_SHIFT: u32 = 58;

/// Prefix of the helper columns in the generated plan (and the name of the
/// source inside it); a source may not use it.
const HELPER: &str = "__mlfusion_";

#[derive(Debug, Default)]
pub struct MlSplit;

/// What the options ask for, checked against the source's columns.
#[derive(Debug)]
struct Spec {
    test_ppm: u64,
    validation_ppm: u64,
    folds: Option<u64>,
    stratify: Option<String>,
    group: Option<String>,
    /// The columns hashed for each row (all source columns by default).
    key: Vec<String>,
    salt: String,
    method: SplitMethod,
}

impl Spec {
    fn new(options: &Options, columns: &[String], schema: &DFSchema) -> Result<Self> {
        let test_ppm = options.fraction_ppm("test_fraction", 0.1)? as u64;
        let validation_ppm = options.fraction_ppm("validation_fraction", 0.0)? as u64;
        if test_ppm + validation_ppm >= PPM {
            return plan_err!(
                "{NAME}: test_fraction + validation_fraction must be below 1 so that rows are \
                 left to train on, got {} + {}",
                test_ppm as f64 / PPM as f64,
                validation_ppm as f64 / PPM as f64
            );
        }
        let folds = options.integer("folds", 2)?;
        if folds.is_some_and(|k| k > MAX_FOLDS) {
            return plan_err!(
                "{NAME}: option folds={} is too large; give an integer from 2 to {MAX_FOLDS}",
                folds.unwrap_or_default()
            );
        }
        let folds = folds.map(u64::from);
        let single = |key: &str| -> Result<Option<String>> {
            match options.columns(key, schema)? {
                Some(mut cols) if cols.len() == 1 => Ok(cols.pop()),
                Some(_) => plan_err!("{NAME}: option {key} takes one column"),
                None => Ok(None),
            }
        };
        let stratify = single("stratify")?;
        let group = single("group")?;
        let key = options.columns("key", schema)?;
        if key.is_some() && group.is_some() {
            return plan_err!(
                "{NAME}: options key and group cannot be combined: with group, each row is \
                 assigned by its group's value"
            );
        }
        let method = match options.enumerated::<SplitMethod>("method")? {
            Some(SplitMethod::Hash) if stratify.is_some() => {
                return plan_err!(
                    "{NAME}: stratify needs method=balanced (method=hash assigns each row on its \
                     own, so it cannot balance strata); drop method or set method=balanced"
                );
            }
            Some(method) => method,
            None if stratify.is_some() => SplitMethod::Balanced,
            None => SplitMethod::Hash,
        };
        Ok(Self {
            test_ppm,
            validation_ppm,
            folds,
            stratify,
            group,
            key: key.unwrap_or_else(|| columns.to_vec()),
            salt: options.get("salt").unwrap_or("").to_string(),
            method,
        })
    }

    /// The parameters a model trained on this split records.
    fn recorded(&self, source: &str) -> SplitSpec {
        SplitSpec {
            source: source.to_string(),
            method: self.method,
            test_fraction: self.test_ppm as f64 / PPM as f64,
            validation_fraction: self.validation_ppm as f64 / PPM as f64,
            folds: self.folds,
            stratify: self.stratify.clone(),
            group: self.group.clone(),
            key: if self.group.is_some() {
                vec![]
            } else {
                self.key.clone()
            },
            salt: self.salt.clone(),
        }
    }

    /// `row_fingerprint(salt, columns…)`.
    fn salted_fingerprint(&self, columns: &[String]) -> Expr {
        row_fingerprint(
            Some(&self.salt),
            columns.iter().map(|c| column(c)).collect(),
        )
    }

    /// The fingerprint a row is assigned by: of its group, or of its key.
    fn fingerprint(&self) -> Expr {
        match &self.group {
            Some(group) => self.salted_fingerprint(std::slice::from_ref(group)),
            None => self.salted_fingerprint(&self.key),
        }
    }

    /// The split and fold of every row of `source`. `read_twice`: whether
    /// the balanced method may read the source a second time for the counts
    /// of its strata (only if both reads give the same rows, see
    /// [`reads_same_rows_twice`]). `marker`: the metadata of the `split` and
    /// `fold` columns (the split's parameters).
    fn plan(
        &self,
        source: LogicalPlan,
        columns: &[String],
        read_twice: bool,
        marker: &FieldMetadata,
    ) -> Result<LogicalPlan> {
        // The source under one name, so that its columns are found by name.
        let source = LogicalPlanBuilder::from(source)
            .alias(format!("{HELPER}source"))?
            .build()?;
        let (t, tv) = (self.test_ppm, self.test_ppm + self.validation_ppm);
        let out: Vec<Expr> = columns.iter().map(|c| column(c)).collect();
        let fp = self.fingerprint();
        // Helper columns: the fingerprint, the rank r and the count n of the
        // stratum, the stratum (of a group, or as the key of the counts), the
        // stratum's phase u; when ranking in buckets, the bucket b, the rank
        // rb within it, its count c and the count before it in its stratum.
        let h = |name: &str| format!("{HELPER}{name}");
        let (h_fp, h_tie, h_r, h_n, h_s, h_u) = (h("fp"), h("tie"), h("r"), h("n"), h("s"), h("u"));
        let (h_b, h_rb, h_c, h_before) = (h("b"), h("rb"), h("c"), h("before"));
        let bucket = |fp: Expr| {
            binary_expr(
                fp,
                Operator::BitwiseShiftRight,
                int(u64::from(BUCKET_SHIFT)),
            )
        };
        // `rank() OVER (PARTITION BY partition ORDER BY order) - 1`, from 0.
        let ranked_from_0 = |rank: Expr, partition: Vec<Expr>, order: Vec<Sort>| -> Result<Expr> {
            let rank = rank.partition_by(partition).order_by(order).build()?;
            Ok(cast(rank, DataType::Int64) - int(1))
        };
        // The source read twice: the ranks of `units` (which has h_fp and
        // the stratum `s`, if any) by `rank` (row_number or dense_rank)
        // ordered by `order`, and their counts from `counts`, joined. Adds
        // h_r and h_n to the columns of `units`.
        // - With a stratum, ranks are taken within each stratum and bucket
        //   and offset by the counts of the stratum's lower buckets; `counts`
        //   has h_c units per (h_s, h_b). Every join key is NULL-safe (h_b is
        //   never NULL), so the join's keys are those the ranks are
        //   partitioned by, and the ranked rows are not partitioned again.
        // - Without one, the whole table is one window (a sort on one column,
        //   faster on one core than the buckets' on every core together with
        //   the counts' fingerprints); `counts` is the one count h_n.
        let read_twice_ranked = |rank: Expr,
                                 order: Vec<Sort>,
                                 units: LogicalPlan,
                                 s: Option<&str>,
                                 counts: LogicalPlan|
         -> Result<LogicalPlan> {
            let Some(s) = s else {
                let r = extend(units, vec![ranked_from_0(rank, vec![], order)?.alias(&h_r)])?;
                let r = LogicalPlanBuilder::from(r).alias("r")?.build()?;
                let c = LogicalPlanBuilder::from(counts).alias("c")?.build()?;
                let mut keep = qualified_columns(&r);
                keep.push(Expr::Column(Column::new(Some("c"), &h_n)));
                let joined = LogicalPlanBuilder::from(c).cross_join(r)?.build()?;
                return select(joined, keep);
            };
            let c = extend(
                counts,
                vec![
                    cast(
                        over(sum_udaf(), vec![column(&h_c)])
                            .partition_by(vec![column(&h_s)])
                            .build()?,
                        DataType::Int64,
                    )
                    .alias(&h_n),
                    (cast(
                        over(sum_udaf(), vec![column(&h_c)])
                            .partition_by(vec![column(&h_s)])
                            .order_by(vec![column(&h_b).sort(true, false)])
                            .window_frame(WindowFrame::new_bounds(
                                WindowFrameUnits::Rows,
                                WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
                                WindowFrameBound::CurrentRow,
                            ))
                            .build()?,
                        DataType::Int64,
                    ) - column(&h_c))
                    .alias(&h_before),
                ],
            )?;
            let c = LogicalPlanBuilder::from(c).alias("c")?.build()?;
            let units = extend(units, vec![bucket(column(&h_fp)).alias(&h_b)])?;
            let r = extend(
                units,
                vec![ranked_from_0(rank, vec![column(s), column(&h_b)], order)?.alias(&h_rb)],
            )?;
            let r = LogicalPlanBuilder::from(r).alias("r")?.build()?;
            let mut keep = qualified_columns(&r);
            keep.push(
                (Expr::Column(Column::new(Some("r"), &h_rb))
                    + Expr::Column(Column::new(Some("c"), &h_before)))
                .alias(&h_r),
            );
            keep.push(Expr::Column(Column::new(Some("c"), &h_n)));
            let joined = LogicalPlanBuilder::from(c)
                .join_detailed(
                    r,
                    JoinType::Inner,
                    (
                        vec![Column::new(Some("c"), &h_s), Column::new(Some("c"), &h_b)],
                        vec![Column::new(Some("r"), s), Column::new(Some("r"), &h_b)],
                    ),
                    None,
                    NullEquality::NullEqualsNull,
                )?
                .build()?;
            select(joined, keep)
        };
        if self.method == SplitMethod::Hash {
            // Each row on its own: a bucket in parts per million from the
            // fingerprint's low digits, the fold from the digits above.
            let rows = extend(source, vec![fp.alias(&h_fp)])?;
            let unit = || abs_mod(column(&h_fp), int(PPM));
            let fold = match self.folds {
                Some(k) => when(
                    unit().gt_eq(int(tv)),
                    cast(abs_mod(column(&h_fp) / int(PPM), int(k)), DataType::Int32),
                )
                .end()?,
                None => lit(ScalarValue::Int32(None)),
            };
            let split = when(unit().lt(int(t)), lit("test"))
                .when(unit().lt(int(tv)), lit("validation"))
                .otherwise(lit("train"))?;
            let mut exprs = out;
            exprs.extend(marked(split, fold, marker));
            return select(rows, exprs);
        }
        // Balanced: rank the units (rows, or groups) of each stratum by
        // fingerprint and deal them into contiguous runs whose ends are
        // floor((n × cumulative share + u) / PPM), with u in [0, PPM) a phase
        // drawn from the stratum's value: every split and fold of every
        // stratum is within one unit of its share, and over many small strata
        // the roundings cancel instead of all going down. Exact integer
        // arithmetic in parts per million.
        let (stratum, ranked) = match &self.group {
            None => {
                let stratum = self.stratify.clone();
                let by: Vec<Expr> = stratum.iter().map(|s| column(s)).collect();
                // When the key is a subset of the columns, rows with one key
                // but different values are ordered by the whole row. (Rows
                // that tie on every column are identical: their order does
                // not change the result.)
                let mut with_fp = vec![fp.clone().alias(&h_fp)];
                let mut order = vec![column(&h_fp).sort(true, false)];
                if self.key.as_slice() != columns {
                    with_fp.push(self.salted_fingerprint(columns).alias(&h_tie));
                    order.push(column(&h_tie).sort(true, false));
                }
                let rows = extend(source.clone(), with_fp)?;
                if !read_twice {
                    // n from a window over the stratum, in the one read.
                    let ranked = extend(
                        rows,
                        vec![ranked_from_0(row_number(), by.clone(), order)?.alias(&h_r)],
                    )?;
                    let n = count_all_window().partition_by(by).build()?;
                    (stratum, extend(ranked, vec![n.alias(&h_n)])?)
                } else {
                    // The counts per stratum and bucket (or the one count)
                    // from a GROUP BY joined back, not from count(*) OVER
                    // (PARTITION BY …): that window holds every row of a
                    // stratum in memory, where the sort of row_number spills.
                    // The counts (a few rows per stratum) are the join's build
                    // side.
                    let counts = match &stratum {
                        Some(s) => {
                            let keys = select(
                                source,
                                vec![column(s).alias(&h_s), bucket(fp.clone()).alias(&h_b)],
                            )?;
                            LogicalPlanBuilder::from(keys)
                                .aggregate(
                                    vec![column(&h_s), column(&h_b)],
                                    vec![count_all().alias(&h_c)],
                                )?
                                .build()?
                        }
                        None => LogicalPlanBuilder::from(source)
                            .aggregate(Vec::<Expr>::new(), vec![count_all().alias(&h_n)])?
                            .build()?,
                    };
                    let ranked =
                        read_twice_ranked(row_number(), order, rows, stratum.as_deref(), counts)?;
                    (stratum, ranked)
                }
            }
            Some(group) => {
                // A group is dealt as one unit, in the stratum of its smallest
                // stratify value.
                let g = column(group);
                let mut with_fp = vec![fp.clone().alias(&h_fp)];
                let (stratum, by) = match &self.stratify {
                    Some(s) => {
                        let smallest = over(min_udaf(), vec![column(s)])
                            .partition_by(vec![g.clone()])
                            .build()?;
                        with_fp.push(smallest.alias(&h_s));
                        (Some(h_s.clone()), vec![column(&h_s)])
                    }
                    None => (None, vec![]),
                };
                let units = extend(source.clone(), with_fp)?;
                let order = vec![column(&h_fp).sort(true, false)];
                if !read_twice {
                    // n from a window over the stratum, in the one read.
                    let ranked = extend(
                        units,
                        vec![ranked_from_0(dense_rank(), by.clone(), order)?.alias(&h_r)],
                    )?;
                    let n = over(max_udaf(), vec![column(&h_r)])
                        .partition_by(by)
                        .build()?
                        + int(1);
                    (stratum, extend(ranked, vec![n.alias(&h_n)])?)
                } else {
                    // The counts of units per stratum and bucket: their
                    // distinct group fingerprints (what dense_rank counts),
                    // from a GROUP BY joined back, as above.
                    let counts = match &self.stratify {
                        Some(s) => {
                            let groups = LogicalPlanBuilder::from(source)
                                .aggregate(vec![g], vec![min(column(s)).alias(&h_s)])?
                                .build()?;
                            let groups =
                                select(groups, vec![column(&h_s), fp.clone().alias(&h_fp)])?;
                            let groups = extend(groups, vec![bucket(column(&h_fp)).alias(&h_b)])?;
                            LogicalPlanBuilder::from(groups)
                                .aggregate(
                                    vec![column(&h_s), column(&h_b)],
                                    vec![count_distinct(column(&h_fp)).alias(&h_c)],
                                )?
                                .build()?
                        }
                        None => {
                            let units = select(source, vec![fp.clone().alias(&h_fp)])?;
                            LogicalPlanBuilder::from(units)
                                .aggregate(
                                    Vec::<Expr>::new(),
                                    vec![count_distinct(column(&h_fp)).alias(&h_n)],
                                )?
                                .build()?
                        }
                    };
                    let ranked =
                        read_twice_ranked(dense_rank(), order, units, stratum.as_deref(), counts)?;
                    (stratum, ranked)
                }
            }
        };
        let phase = abs_mod(
            row_fingerprint(
                Some(&self.salt),
                std::iter::once(lit("stratum"))
                    .chain(stratum.as_deref().map(column))
                    .collect(),
            ),
            int(PPM),
        );
        let ranked = extend(ranked, vec![phase.alias(&h_u)])?;
        let (r, n, u) = (column(&h_r), column(&h_n), column(&h_u));
        let end = |share_ppm: u64| (n.clone() * int(share_ppm) + u.clone()) / int(PPM);
        let fold = match self.folds {
            // The smallest f with r < floor((n·C_f·PPM + u) / PPM), where
            // C_f = (tv + (f+1)(PPM − tv)/k) / PPM:
            // f = ceil(((r+1)·PPM·k − n·tv·k − u·k) / (n·(PPM − tv))) − 1.
            Some(k) => {
                let rest = PPM - tv;
                let f = ((r.clone() + int(1)) * int(PPM * k)
                    - n.clone() * int(tv * k)
                    - u.clone() * int(k)
                    + n.clone() * int(rest)
                    - int(1))
                    / (n.clone() * int(rest))
                    - int(1);
                when(r.clone().gt_eq(end(tv)), cast(f, DataType::Int32)).end()?
            }
            None => lit(ScalarValue::Int32(None)),
        };
        let split = when(r.clone().lt(end(t)), lit("test"))
            .when(r.lt(end(tv)), lit("validation"))
            .otherwise(lit("train"))?;
        let mut exprs = out;
        exprs.extend(marked(split, fold, marker));
        select(ranked, exprs)
    }
}

/// The `split` and `fold` columns, marked with the split's parameters.
fn marked(split: Expr, fold: Expr, marker: &FieldMetadata) -> [Expr; 2] {
    [
        split.alias_with_metadata("split", Some(marker.clone())),
        fold.alias_with_metadata("fold", Some(marker.clone())),
    ]
}

/// A column by its name as written (any case, dots included).
fn column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

/// A BIGINT literal, as SQL reads an integer (every integer of the plan is
/// below 2^63: fractions in parts per million times at most 1000 folds).
fn int(v: u64) -> Expr {
    lit(v as i64)
}

/// `aggregate(args) OVER (…)`: an aggregate function as a window function.
fn over(aggregate: Arc<AggregateUDF>, args: Vec<Expr>) -> Expr {
    Expr::from(WindowFunction::new(
        WindowFunctionDefinition::AggregateUDF(aggregate),
        args,
    ))
}

/// The columns of `plan`, qualified as its schema has them (`r.*`).
fn qualified_columns(plan: &LogicalPlan) -> Vec<Expr> {
    plan.schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect()
}

/// `SELECT exprs FROM plan`, window functions among `exprs` computed first
/// (as DataFusion's SQL planner and `DataFrame::select` plan them).
fn select(plan: LogicalPlan, exprs: Vec<Expr>) -> Result<LogicalPlan> {
    let windows = find_window_exprs(&exprs);
    let plan = if windows.is_empty() {
        plan
    } else {
        LogicalPlanBuilder::window_plan(plan, windows)?
    };
    LogicalPlanBuilder::from(plan).project(exprs)?.build()
}

/// `SELECT *, exprs FROM plan`.
fn extend(plan: LogicalPlan, exprs: Vec<Expr>) -> Result<LogicalPlan> {
    let mut all = qualified_columns(&plan);
    all.extend(exprs);
    select(plan, all)
}

/// Whether reading `plan` twice surely gives the same rows: not if it calls a
/// volatile function (`random()`, `uuid()`, …) or takes a LIMIT (which may
/// take other rows each time), also inside views and subqueries. Balanced
/// splits of other sources count their strata in the same read as they rank
/// them, or the counts could disagree with the ranks.
fn reads_same_rows_twice(plan: &LogicalPlan) -> Result<bool> {
    let mut same = true;
    plan.apply_with_subqueries(|node| {
        let view_differs = match node {
            LogicalPlan::TableScan(scan) => {
                scan.fetch.is_some()
                    || match scan.source.get_logical_plan() {
                        Some(view) => !reads_same_rows_twice(&view)?,
                        None => false,
                    }
            }
            _ => false,
        };
        if view_differs
            || matches!(node, LogicalPlan::Limit(_))
            || node.expressions().iter().any(|e| e.is_volatile())
        {
            same = false;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(same)
}

const SIGNATURE: Signature = Signature {
    function: NAME,
    names: &["source", "options"],
    required: 1,
    example: "ml_split('data/*.parquet', 'test_fraction=0.1, folds=5')",
};

impl TableFunctionImpl for MlSplit {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let bound = SIGNATURE.bind(&args)?;
        let source_text = bound.get("source");
        let options = Options::parse(NAME, bound.get("options"), KEYS)?;
        let state = session_state(NAME, args.session())?;
        let source = resolve(NAME, state, source_text)?;
        let schema = Arc::clone(source.schema());
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        for taken in ["split", "fold"] {
            if columns.iter().any(|c| c.eq_ignore_ascii_case(taken)) {
                return plan_err!(
                    "{NAME}: the source already has a column named {taken}, which ml_split \
                     adds; rename or drop it first, e.g. SELECT * EXCLUDE ({taken}) FROM ..."
                );
            }
        }
        if let Some(c) = columns.iter().find(|c| c.starts_with(HELPER)) {
            return plan_err!(
                "{NAME}: the source has a column named {c}; names starting with {HELPER} are \
                 reserved for ml_split's own columns, rename it first"
            );
        }
        let spec = Spec::new(&options, &columns, &schema)?;
        let read_twice = reads_same_rows_twice(&source)?;
        let marker = split_metadata(&spec.recorded(source_text));
        let plan = spec
            .plan(source, &columns, read_twice, &marker)
            .map_err(|e| plan_datafusion_err!("{NAME}: {}", e.strip_backtrace()))?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;
    use crate::util::block_on;

    /// Whether `ml_split` may read `source` (resolved as it resolves it) twice.
    fn read_twice(ctx: &SessionContext, source: &str) -> bool {
        let plan = resolve(NAME, &ctx.state(), source).expect("resolves");
        reads_same_rows_twice(&plan).expect("walks")
    }

    #[test]
    fn only_sources_that_read_the_same_rows_are_read_twice() {
        let ctx = SessionContext::new();
        block_on(async {
            for sql in [
                "CREATE TABLE t AS VALUES (1, 'a'), (2, 'b')",
                "CREATE VIEW fixed AS SELECT column1 * 2 AS x FROM t",
                "CREATE VIEW drawn AS SELECT column1, random() AS r FROM t",
                "CREATE VIEW first AS SELECT * FROM t LIMIT 1",
            ] {
                ctx.sql(sql).await?.collect().await?;
            }
            Result::<()>::Ok(())
        })
        .expect("setup");
        for same in [
            "t",
            "fixed",
            "SELECT * FROM t WHERE column1 > 1",
            "SELECT x FROM fixed ORDER BY x",
            "SELECT * FROM t WHERE column1 IN (SELECT x FROM fixed)",
        ] {
            assert!(read_twice(&ctx, same), "{same}");
        }
        for other in [
            "drawn",
            "first",
            "SELECT *, random() AS r FROM t",
            "SELECT * FROM t LIMIT 1",
            "SELECT * FROM fixed WHERE x > (SELECT max(r) FROM drawn)",
            "SELECT * FROM t WHERE column1 IN (SELECT column1 FROM first)",
            "SELECT * FROM t WHERE random() < 0.5",
        ] {
            assert!(!read_twice(&ctx, other), "{other}");
        }
    }
}
