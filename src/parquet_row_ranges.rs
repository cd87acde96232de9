//! Parquet scans that give each partition an equal share of a file's rows.
//!
//! DataFusion parallelizes a scan of few large files by cutting each file
//! into byte ranges, one per partition; a partition then reads the row
//! groups whose middle byte falls in its range. Row groups are the unit, so
//! a file of five row groups splits 3:2 between two partitions and one core
//! idles for the last fifth of the scan (the 5M-row benchmark table, written
//! with a million rows per row group, did exactly that). This rule turns each
//! byte range into the same fraction of the file's rows, as a
//! [`ParquetRowSelection`]: the pieces stay contiguous and in file order,
//! and a row group on a boundary is read in part by each neighbour.
//!
//! The price is that boundary row group: without a page index in the file,
//! both neighbours fetch its column chunks, and one decodes past the rows it
//! skips, so at most `partitions - 1` row groups are fetched twice. Files
//! that were not cut into ranges (small files, or
//! `datafusion.optimizer.repartition_file_scans = false`) are left alone.
//!
//! Only local sessions use this rule: a file's row selection is not part of
//! DataFusion's plan serialization, so plans that a Ballista scheduler sends
//! to executors must not carry one (mlfusion's Ballista sessions leave the
//! rule out).

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{ParquetAccessPlan, ParquetRowSelection};
use datafusion::datasource::physical_plan::{FileScanConfig, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::Result;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;

/// The physical optimizer rule that splits Parquet files between partitions
/// by rows (see the module documentation). Put it after DataFusion's rules,
/// which cut the files into byte ranges.
#[derive(Debug, Default)]
pub struct ParquetRowRanges;

impl ParquetRowRanges {
    pub const NAME: &'static str = "parquet_row_ranges";
}

impl PhysicalOptimizerRule for ParquetRowRanges {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|plan| {
            let Some(exec) = plan.downcast_ref::<DataSourceExec>() else {
                return Ok(Transformed::no(plan));
            };
            let Some((config, _)) = exec.downcast_to_file_source::<ParquetSource>() else {
                return Ok(Transformed::no(plan));
            };
            let mut config: FileScanConfig = config.clone();
            let mut changed = false;
            for group in &mut config.file_groups {
                for i in 0..group.len() {
                    changed |= select_rows_of_range(&mut group[i]);
                }
            }
            if !changed {
                return Ok(Transformed::no(plan));
            }
            let exec = exec.clone().with_data_source(Arc::new(config));
            Ok(Transformed::yes(Arc::new(exec) as Arc<dyn ExecutionPlan>))
        })
        .data()
    }

    fn name(&self) -> &str {
        Self::NAME
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Replaces `file`'s byte range by the rows in the same fraction of the
/// file, when its exact row count is known and no other access plan is set.
/// Returns whether `file` changed.
fn select_rows_of_range(file: &mut PartitionedFile) -> bool {
    let (Some(range), Some(statistics)) = (&file.range, &file.statistics) else {
        return false;
    };
    let Precision::Exact(rows) = statistics.num_rows else {
        return false;
    };
    if file.extension::<ParquetAccessPlan>().is_some()
        || file.extension::<ParquetRowSelection>().is_some()
    {
        return false;
    }
    let size = file.object_meta.size;
    let (Ok(start), Ok(end)) = (u64::try_from(range.start), u64::try_from(range.end)) else {
        return false;
    };
    if size == 0 || start > end || end > size {
        return false;
    }
    // The same bytes-to-rows map at every cut, so neighbouring ranges meet
    // at the same row: each row is read once.
    let row_at = |byte: u64| (rows as u128 * byte as u128 / size as u128) as usize;
    let (first, last) = (row_at(start), row_at(end));
    let selection = RowSelection::from(vec![
        RowSelector::skip(first),
        RowSelector::select(last - first),
        RowSelector::skip(rows - last),
    ]);
    file.range = None;
    file.extensions.insert(ParquetRowSelection::new(selection));
    true
}

/// `state` with [`ParquetRowRanges`] after its physical optimizer rules
/// (once: a state that has it is returned as it is).
pub fn with_parquet_row_ranges(state: SessionState) -> SessionState {
    if has_rule(&state) {
        return state;
    }
    let session_id = state.session_id().to_string();
    SessionStateBuilder::new_from_existing(state)
        .with_session_id(session_id)
        .with_physical_optimizer_rule(Arc::new(ParquetRowRanges))
        .build()
}

/// `state` without [`ParquetRowRanges`]: for sessions whose physical plans
/// are serialized (a Ballista scheduler's), which would drop the row
/// selections and read every file whole in each partition.
pub fn without_parquet_row_ranges(state: SessionState) -> SessionState {
    if !has_rule(&state) {
        return state;
    }
    let rules = state
        .physical_optimizers()
        .iter()
        .filter(|rule| rule.name() != ParquetRowRanges::NAME)
        .cloned()
        .collect();
    let session_id = state.session_id().to_string();
    SessionStateBuilder::new_from_existing(state)
        .with_session_id(session_id)
        .with_physical_optimizer_rules(rules)
        .build()
}

fn has_rule(state: &SessionState) -> bool {
    state
        .physical_optimizers()
        .iter()
        .any(|rule| rule.name() == ParquetRowRanges::NAME)
}

#[cfg(test)]
mod tests {
    use datafusion::common::Statistics;
    use datafusion::datasource::listing::FileRange;
    use datafusion::prelude::SessionContext;

    use super::*;

    fn file(size: u64, rows: Precision<usize>, range: Option<(u64, u64)>) -> PartitionedFile {
        let mut file = PartitionedFile::new("t.parquet", size);
        file.range = range.map(|(start, end)| FileRange {
            start: start as i64,
            end: end as i64,
        });
        let mut statistics =
            Statistics::new_unknown(&datafusion::arrow::datatypes::Schema::empty());
        statistics.num_rows = rows;
        file.statistics = Some(Arc::new(statistics));
        file
    }

    fn selected(file: &PartitionedFile) -> Vec<RowSelector> {
        let selection = file
            .extension::<ParquetRowSelection>()
            .expect("a row selection");
        selection.selection().iter().copied().collect()
    }

    #[test]
    fn ranges_become_contiguous_row_shares() {
        // 1001 rows in 7000 bytes, cut in three uneven ranges.
        let cuts = [0, 2333, 4667, 7000];
        let mut next = 0;
        for piece in cuts.windows(2) {
            let mut f = file(7000, Precision::Exact(1001), Some((piece[0], piece[1])));
            assert!(select_rows_of_range(&mut f));
            assert!(f.range.is_none());
            let selectors = selected(&f);
            let skipped = selectors
                .first()
                .filter(|s| s.skip)
                .map_or(0, |s| s.row_count);
            assert_eq!(skipped, next, "pieces meet");
            let taken: usize = selectors
                .iter()
                .filter(|s| !s.skip)
                .map(|s| s.row_count)
                .sum();
            let total: usize = selectors.iter().map(|s| s.row_count).sum();
            assert_eq!(total, 1001);
            assert_eq!(taken, 1001 * piece[1] as usize / 7000 - next);
            next += taken;
        }
        assert_eq!(next, 1001, "every row once");
    }

    #[test]
    fn files_without_a_range_or_exact_rows_are_left_alone() {
        for mut f in [
            file(7000, Precision::Exact(10), None),
            file(7000, Precision::Inexact(10), Some((0, 3500))),
            file(7000, Precision::Absent, Some((0, 3500))),
            file(7000, Precision::Exact(10), Some((0, 3500)))
                .with_extension(ParquetAccessPlan::new_all(1)),
        ] {
            let before = format!("{f:?}");
            assert!(!select_rows_of_range(&mut f));
            assert_eq!(before, format!("{f:?}"));
        }
    }

    #[test]
    fn the_rule_is_added_once_and_removed() {
        let count = |state: &SessionState| {
            let names = state.physical_optimizers().iter().map(|r| r.name());
            names.filter(|n| *n == ParquetRowRanges::NAME).count()
        };
        let ctx = SessionContext::new();
        crate::register_all(&ctx);
        crate::register_all(&ctx);
        let state = ctx.state();
        assert_eq!(count(&state), 1);
        let id = state.session_id().to_string();
        let without = without_parquet_row_ranges(state);
        assert_eq!(count(&without), 0);
        assert_eq!(without.session_id(), id);
        assert!(
            without.physical_optimizers().len() > 5,
            "DataFusion's rules kept"
        );
    }
}
