//! `ml_split(source [, options])`: reproducible train / validation / test
//! splits and cross-validation folds, as a view over the source.
//!
//! The split is a logical plan (SQL over `row_fingerprint`, `abs_mod` and
//! built-in window functions), so DataFusion pushes projections and filters
//! into it, spills its window sorts when memory is short, and it can run
//! wherever the plan runs. See `docs/ml_split.md` for the exact rules.

use std::sync::Arc;

use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    MemorySchemaProvider, SchemaProvider, TableFunctionArgs, TableFunctionImpl, TableProvider,
};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{plan_datafusion_err, plan_err, DFSchema, Result};
use datafusion::config::Dialect;
use datafusion::datasource::ViewTable;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

use crate::functions::common::args::{options_arg, session_state, string_arg};
use crate::functions::common::options::Options;
use crate::functions::common::source::resolve;
use crate::util::{block_on, quote_ident, quote_literal};

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
    balanced: bool,
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
        let balanced = match options.choice("method", &["hash", "balanced"])? {
            Some("hash") if stratify.is_some() => {
                return plan_err!(
                    "{NAME}: stratify needs method=balanced (method=hash assigns each row on its \
                     own, so it cannot balance strata); drop method or set method=balanced"
                );
            }
            Some(m) => m == "balanced",
            None => stratify.is_some(),
        };
        Ok(Self {
            test_ppm,
            validation_ppm,
            folds,
            stratify,
            group,
            key: key.unwrap_or_else(|| columns.to_vec()),
            salt: options.get("salt").unwrap_or("").to_string(),
            balanced,
        })
    }

    /// `row_fingerprint(salt, columns…)` as SQL.
    fn salted_fingerprint(&self, columns: &[String]) -> String {
        let args = std::iter::once(quote_literal(&self.salt))
            .chain(columns.iter().map(|c| quote_ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        format!("row_fingerprint({args})")
    }

    /// The fingerprint a row is assigned by: of its group, or of its key.
    fn fingerprint(&self) -> String {
        match &self.group {
            Some(group) => self.salted_fingerprint(std::slice::from_ref(group)),
            None => self.salted_fingerprint(&self.key),
        }
    }

    /// The split and fold of every row, as SQL over the table `source`.
    /// `read_twice`: whether the balanced method may read the source a second
    /// time for the counts of its strata (only if both reads give the same
    /// rows, see [`reads_same_rows_twice`]).
    fn sql(&self, source: &str, columns: &[String], read_twice: bool) -> String {
        let (t, tv) = (self.test_ppm, self.test_ppm + self.validation_ppm);
        let out_cols = columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let fp = self.fingerprint();
        // Helper columns: the fingerprint, the rank r and the count n of the
        // stratum, the stratum (of a group, or as the key of the counts), the
        // stratum's phase u; when ranking in buckets, the bucket b, the rank
        // rb within it, its count c and the count before it in its stratum.
        let (h_fp, h_tie, h_r, h_n, h_s, h_u) = (
            format!("{HELPER}fp"),
            format!("{HELPER}tie"),
            format!("{HELPER}r"),
            format!("{HELPER}n"),
            format!("{HELPER}s"),
            format!("{HELPER}u"),
        );
        let (h_b, h_rb, h_c, h_before) = (
            format!("{HELPER}b"),
            format!("{HELPER}rb"),
            format!("{HELPER}c"),
            format!("{HELPER}before"),
        );
        // The source read twice: the ranks of `units` (which has h_fp and
        // the stratum `s`, if any) by `rank` (row_number or dense_rank)
        // ordered by `order`, and their counts from `counts`, joined. Adds
        // h_r and h_n to the columns of `units`.
        // - With a stratum, ranks are taken within each stratum and bucket
        //   and offset by the counts of the stratum's lower buckets; `counts`
        //   has h_c units per (h_s, h_b). Every join key IS NOT DISTINCT FROM
        //   (h_b is never NULL), so the join's keys are those the ranks are
        //   partitioned by, and the ranked rows are not partitioned again.
        // - Without one, the whole table is one window (a sort on one column,
        //   faster on one core than the buckets' on every core together with
        //   the counts' fingerprints); `counts` is the one count h_n.
        let read_twice_ranked =
            |rank: &str, order: &str, units: String, s: Option<&str>, counts| {
                let Some(s) = s else {
                    return format!(
                        "SELECT r.*, c.{h_n} FROM ({counts}) AS c CROSS JOIN \
                         (SELECT *, CAST({rank}() OVER (ORDER BY {order}) AS BIGINT) - 1 \
                         AS {h_r} FROM ({units})) AS r"
                    );
                };
                format!(
                    "SELECT r.*, r.{h_rb} + c.{h_before} AS {h_r}, c.{h_n} FROM \
                     (SELECT *, CAST(sum({h_c}) OVER (PARTITION BY {h_s}) AS BIGINT) AS {h_n}, \
                     CAST(sum({h_c}) OVER (PARTITION BY {h_s} ORDER BY {h_b} \
                     ROWS UNBOUNDED PRECEDING) AS BIGINT) - {h_c} AS {h_before} \
                     FROM ({counts})) AS c \
                     JOIN (SELECT *, CAST({rank}() OVER (PARTITION BY {s}, {h_b} ORDER BY {order}) \
                     AS BIGINT) - 1 AS {h_rb} FROM (\
                     SELECT *, {h_fp} >> {BUCKET_SHIFT} AS {h_b} FROM ({units}))) AS r \
                     ON (r.{s} IS NOT DISTINCT FROM c.{h_s}) \
                     AND (r.{h_b} IS NOT DISTINCT FROM c.{h_b})"
                )
            };
        if !self.balanced {
            // Each row on its own: a bucket in parts per million from the
            // fingerprint's low digits, the fold from the digits above.
            let fold = match self.folds {
                Some(k) => format!(
                    "CASE WHEN abs_mod({h_fp}, {PPM}) >= {tv} \
                     THEN CAST(abs_mod({h_fp} / {PPM}, {k}) AS INT) END"
                ),
                None => "CAST(NULL AS INT)".to_string(),
            };
            return format!(
                "SELECT {out_cols}, \
                 CASE WHEN abs_mod({h_fp}, {PPM}) < {t} THEN 'test' \
                 WHEN abs_mod({h_fp}, {PPM}) < {tv} THEN 'validation' ELSE 'train' END AS split, \
                 {fold} AS fold \
                 FROM (SELECT *, {fp} AS {h_fp} FROM {source})"
            );
        }
        // Balanced: rank the units (rows, or groups) of each stratum by
        // fingerprint and deal them into contiguous runs whose ends are
        // floor((n × cumulative share + u) / PPM), with u in [0, PPM) a phase
        // drawn from the stratum's value: every split and fold of every
        // stratum is within one unit of its share, and over many small strata
        // the roundings cancel instead of all going down. Exact integer
        // arithmetic in parts per million.
        let salt = quote_literal(&self.salt);
        let (stratum, ranked) = match &self.group {
            None => {
                let stratum = self.stratify.as_deref().map(quote_ident);
                let by = stratum
                    .as_deref()
                    .map(|s| format!("PARTITION BY {s}"))
                    .unwrap_or_default();
                // When the key is a subset of the columns, rows with one key
                // but different values are ordered by the whole row. (Rows
                // that tie on every column are identical: their order does
                // not change the result.)
                let (tie, order) = if self.key.as_slice() == columns {
                    (String::new(), h_fp.clone())
                } else {
                    (
                        format!(", {} AS {h_tie}", self.salted_fingerprint(columns)),
                        format!("{h_fp}, {h_tie}"),
                    )
                };
                let rows = format!("SELECT *, {fp} AS {h_fp}{tie} FROM {source}");
                if !read_twice {
                    // n from a window over the stratum, in the one read.
                    let ranked = format!(
                        "SELECT *, count(*) OVER ({by}) AS {h_n} FROM (\
                         SELECT *, CAST(row_number() OVER ({by} ORDER BY {order}) AS BIGINT) - 1 \
                         AS {h_r} FROM ({rows}))"
                    );
                    (stratum, ranked)
                } else {
                    // The counts per stratum and bucket (or the one count)
                    // from a GROUP BY joined back, not from count(*) OVER
                    // (PARTITION BY …): that window holds every row of a
                    // stratum in memory, where the sort of row_number spills.
                    // The counts (a few rows per stratum) are the join's build
                    // side.
                    let counts = match &stratum {
                        Some(s) => format!(
                            "SELECT {h_s}, {h_b}, count(*) AS {h_c} FROM (\
                             SELECT {s} AS {h_s}, {fp} >> {BUCKET_SHIFT} AS {h_b} FROM {source}) \
                             GROUP BY {h_s}, {h_b}"
                        ),
                        None => format!("SELECT count(*) AS {h_n} FROM {source}"),
                    };
                    let ranked =
                        read_twice_ranked("row_number", &order, rows, stratum.as_deref(), counts);
                    (stratum, ranked)
                }
            }
            Some(group) => {
                // A group is dealt as one unit, in the stratum of its smallest
                // stratify value.
                let g = quote_ident(group);
                let (stratum, by, with_stratum) = match &self.stratify {
                    Some(s) => (
                        Some(h_s.clone()),
                        format!("PARTITION BY {h_s}"),
                        format!(", min({}) OVER (PARTITION BY {g}) AS {h_s}", quote_ident(s)),
                    ),
                    None => (None, String::new(), String::new()),
                };
                let units = format!("SELECT *, {fp} AS {h_fp}{with_stratum} FROM {source}");
                if !read_twice {
                    // n from a window over the stratum, in the one read.
                    let ranked = format!(
                        "SELECT *, max({h_r}) OVER ({by}) + 1 AS {h_n} FROM (\
                         SELECT *, CAST(dense_rank() OVER ({by} ORDER BY {h_fp}) AS BIGINT) - 1 \
                         AS {h_r} FROM ({units}))"
                    );
                    (stratum, ranked)
                } else {
                    // The counts of units per stratum and bucket: their
                    // distinct group fingerprints (what dense_rank counts),
                    // from a GROUP BY joined back, as above.
                    let counts = match &self.stratify {
                        Some(s) => format!(
                            "SELECT {h_s}, {h_b}, count(DISTINCT {h_fp}) AS {h_c} FROM (\
                             SELECT *, {h_fp} >> {BUCKET_SHIFT} AS {h_b} FROM (\
                             SELECT min({}) AS {h_s}, {fp} AS {h_fp} FROM {source} GROUP BY {g})) \
                             GROUP BY {h_s}, {h_b}",
                            quote_ident(s)
                        ),
                        None => format!(
                            "SELECT count(DISTINCT {h_fp}) AS {h_n} FROM (\
                             SELECT {fp} AS {h_fp} FROM {source})"
                        ),
                    };
                    let ranked =
                        read_twice_ranked("dense_rank", &h_fp, units, stratum.as_deref(), counts);
                    (stratum, ranked)
                }
            }
        };
        let phase = format!(
            "abs_mod(row_fingerprint({salt}, 'stratum'{}), {PPM})",
            stratum.map(|s| format!(", {s}")).unwrap_or_default()
        );
        let end = |share_ppm: u64| format!("({h_n} * {share_ppm} + {h_u}) / {PPM}");
        let fold = match self.folds {
            // The smallest f with r < floor((n·C_f·PPM + u) / PPM), where
            // C_f = (tv + (f+1)(PPM − tv)/k) / PPM:
            // f = ceil(((r+1)·PPM·k − n·tv·k − u·k) / (n·(PPM − tv))) − 1.
            Some(k) => format!(
                "CASE WHEN {h_r} >= {tv_end} THEN CAST(\
                 (({h_r} + 1) * {pk} - {h_n} * {tvk} - {h_u} * {k} + {h_n} * {rest} - 1) \
                 / ({h_n} * {rest}) - 1 AS INT) END",
                tv_end = end(tv),
                pk = PPM * k,
                tvk = tv * k,
                rest = PPM - tv,
            ),
            None => "CAST(NULL AS INT)".to_string(),
        };
        format!(
            "SELECT {out_cols}, \
             CASE WHEN {h_r} < {t_end} THEN 'test' WHEN {h_r} < {tv_end} THEN 'validation' \
             ELSE 'train' END AS split, \
             {fold} AS fold \
             FROM (SELECT *, {phase} AS {h_u} FROM ({ranked}))",
            t_end = end(t),
            tv_end = end(tv),
        )
    }
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

/// Plans `sql`, which reads the table `{HELPER}source`, over `source` in a
/// private catalog (nothing is registered in the caller's) and with the
/// generic dialect (the SQL is ours, whatever dialect the session speaks).
fn plan_over(state: &SessionState, source: LogicalPlan, sql: &str) -> Result<LogicalPlan> {
    let options = state.config_options();
    let schema = Arc::new(MemorySchemaProvider::new());
    schema.register_table(
        format!("{HELPER}source"),
        Arc::new(ViewTable::new(source, None)),
    )?;
    let catalog = Arc::new(MemoryCatalogProvider::new());
    catalog.register_schema(&options.catalog.default_schema, schema)?;
    let catalogs = Arc::new(MemoryCatalogProviderList::new());
    catalogs.register_catalog(options.catalog.default_catalog.clone(), catalog);
    let mut private = SessionStateBuilder::new_from_existing(state.clone())
        .with_catalog_list(catalogs)
        .build();
    private.config_mut().options_mut().sql_parser.dialect = Dialect::Generic;
    let ctx = SessionContext::new_with_state(private);
    block_on(async { ctx.sql(sql).await })
        .map(|df| df.into_unoptimized_plan())
        .map_err(|e| plan_datafusion_err!("{NAME}: {}", e.strip_backtrace()))
}

impl TableFunctionImpl for MlSplit {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.is_empty() || exprs.len() > 2 {
            return plan_err!(
                "{NAME}: expects (source [, options]), got {} arguments; e.g. \
                 ml_split('data/*.parquet', 'test_fraction=0.1, folds=5')",
                exprs.len()
            );
        }
        let source_text = string_arg(NAME, "source", &exprs[0])?;
        let options_text = options_arg(NAME, exprs, 1)?;
        let options = Options::parse(NAME, &options_text, KEYS)?;
        let state = session_state(NAME, args.session())?;
        let source = resolve(NAME, state, &source_text)?;
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
        let sql = spec.sql(&format!("{HELPER}source"), &columns, read_twice);
        let plan = plan_over(state, source, &sql)?;
        Ok(Arc::new(ViewTable::new(plan, Some(sql))))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

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
