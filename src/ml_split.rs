//! `ml_split(source [, options])`: reproducible train / validation / test
//! splits and cross-validation folds, as a view over the source.
//!
//! The split is a logical plan (SQL over `row_fingerprint`, `abs_mod` and
//! built-in window functions), so DataFusion pushes projections and filters
//! into it, spills its window sorts when memory is short, and it can run
//! wherever the plan runs. See `docs/ml_split.md` for the exact rules.

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_datafusion_err, plan_err, Result};
use datafusion::datasource::ViewTable;
use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;

use crate::options::Options;
use crate::source::{block_on, quote_ident, quote_literal, resolve, string_arg};

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
    fn new(
        options: &Options,
        columns: &[String],
        schema: &datafusion::common::DFSchema,
    ) -> Result<Self> {
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
        let folds = options.integer("folds", 2)?.map(u64::from);
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

    /// The fingerprint a row is assigned by: of its group, or of its key.
    fn fingerprint(&self) -> String {
        let hashed = match &self.group {
            Some(g) => vec![g.clone()],
            None => self.key.clone(),
        };
        let args = std::iter::once(quote_literal(&self.salt))
            .chain(hashed.iter().map(|c| quote_ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        format!("row_fingerprint({args})")
    }

    /// The split and fold of every row, as SQL over `source`.
    fn sql(&self, source: &str, columns: &[String]) -> String {
        let (t, tv) = (self.test_ppm, self.test_ppm + self.validation_ppm);
        let out_cols = columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let fp = self.fingerprint();
        if !self.balanced {
            // Each row on its own: a bucket in parts per million from the
            // fingerprint's low digits, the fold from the digits above.
            let fold = match self.folds {
                Some(k) => format!(
                    "CASE WHEN abs_mod(__fp, {PPM}) >= {tv} THEN CAST(abs_mod(__fp / {PPM}, {k}) AS INT) END"
                ),
                None => "CAST(NULL AS INT)".to_string(),
            };
            return format!(
                "SELECT {out_cols}, \
                 CASE WHEN abs_mod(__fp, {PPM}) < {t} THEN 'test' \
                      WHEN abs_mod(__fp, {PPM}) < {tv} THEN 'validation' ELSE 'train' END AS split, \
                 {fold} AS fold \
                 FROM (SELECT *, {fp} AS __fp FROM ({source}))"
            );
        }
        // Balanced: rank the units (rows, or groups) of each stratum by
        // fingerprint and deal them into contiguous runs whose ends are
        // floor(n × cumulative share), so every split and fold of every
        // stratum is within one unit of its share. All arithmetic is exact
        // integer arithmetic in parts per million.
        let partition = |col: &str| format!("PARTITION BY {col}");
        let ranked = match (&self.group, &self.stratify) {
            (None, stratify) => {
                let by = stratify
                    .as_deref()
                    .map(|s| partition(&quote_ident(s)))
                    .unwrap_or_default();
                // When the key is a subset of the columns, rows with one key
                // but different values are ordered by the whole row. (Rows
                // that tie on every column are identical: their order does
                // not change the result.)
                let tie = if self.key.as_slice() == columns {
                    String::new()
                } else {
                    let all = std::iter::once(quote_literal(&self.salt))
                        .chain(columns.iter().map(|c| quote_ident(c)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!(", row_fingerprint({all}) AS __tie")
                };
                let order = if tie.is_empty() {
                    "__fp"
                } else {
                    "__fp, __tie"
                };
                format!(
                    "SELECT *, CAST(row_number() OVER ({by} ORDER BY {order}) AS BIGINT) - 1 AS __r, \
                     count(*) OVER ({by}) AS __n \
                     FROM (SELECT *, {fp} AS __fp{tie} FROM ({source}))"
                )
            }
            (Some(group), stratify) => {
                // A group is dealt as one unit, in the stratum of its
                // smallest stratify value.
                let g = quote_ident(group);
                let (stratum, by) = match stratify {
                    Some(s) => (
                        format!(", min({}) OVER (PARTITION BY {g}) AS __s", quote_ident(s)),
                        partition("__s"),
                    ),
                    None => (String::new(), String::new()),
                };
                format!(
                    "SELECT *, max(__r) OVER ({by}) + 1 AS __n FROM (\
                     SELECT *, CAST(dense_rank() OVER ({by} ORDER BY __fp) AS BIGINT) - 1 AS __r FROM (\
                     SELECT *, {fp} AS __fp{stratum} FROM ({source})))"
                )
            }
        };
        let ends = |share_ppm: u64| format!("(__n * {share_ppm}) / {PPM}");
        let fold = match self.folds {
            // The smallest f with r < floor(n × C_f), C_f = (tv + (f+1)(PPM - tv)/k) / PPM:
            // f = ceil(((r+1)·PPM·k − n·tv·k) / (n·(PPM − tv))) − 1.
            Some(k) => format!(
                "CASE WHEN __r >= {tv_end} THEN CAST(((__r + 1) * {pk} - __n * {tvk} + __n * {rest} - 1) / (__n * {rest}) - 1 AS INT) END",
                tv_end = ends(tv),
                pk = PPM * k,
                tvk = tv * k,
                rest = PPM - tv,
            ),
            None => "CAST(NULL AS INT)".to_string(),
        };
        format!(
            "SELECT {out_cols}, \
             CASE WHEN __r < {t_end} THEN 'test' WHEN __r < {tv_end} THEN 'validation' ELSE 'train' END AS split, \
             {fold} AS fold FROM ({ranked})",
            t_end = ends(t),
            tv_end = ends(tv),
        )
    }
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
        let options_text = match exprs.get(1) {
            Some(e) => string_arg(NAME, "options", e)?,
            None => String::new(),
        };
        let options = Options::parse(NAME, &options_text, KEYS)?;
        let state = args
            .session()
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| plan_datafusion_err!("{NAME}: needs a DataFusion SessionState"))?;
        let source = resolve(NAME, state, &source_text)?;
        let columns: Vec<String> = source
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        for taken in ["split", "fold"] {
            if columns.iter().any(|c| c.eq_ignore_ascii_case(taken)) {
                return plan_err!(
                    "{NAME}: the source already has a column named {taken}, which ml_split \
                     adds; rename or drop it first, e.g. SELECT * EXCLUDE ({taken}) FROM ..."
                );
            }
        }
        let spec = Spec::new(&options, &columns, &source.schema)?;
        let sql = spec.sql(&source.sql, &columns);
        let ctx = SessionContext::new_with_state(state.clone());
        let plan = block_on(async { ctx.sql(&sql).await })
            .map_err(|e| plan_datafusion_err!("{NAME}: {}", e.strip_backtrace()))?
            .into_unoptimized_plan();
        Ok(Arc::new(ViewTable::new(plan, Some(sql))))
    }
}
