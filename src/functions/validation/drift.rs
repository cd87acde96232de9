//! `ml_validate_drift(base, study [, options])`: how far each feature's
//! distribution moved between two sources, as BigQuery's
//! ML.VALIDATE_DATA_DRIFT: one row per feature with `input`, `metric`,
//! `threshold`, `value`, `is_anomaly`.
//!
//! Categorical features compare by the L-infinity distance of their value
//! frequencies, numeric ones by the Jensen–Shannon divergence of their
//! histograms over shared buckets (equal-width over the range of both
//! sources); see `profile`.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{exec_err, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;

use super::anomalies::{
    anomaly_rows, anomaly_schema, compared_features, thresholds, Feature, KEYS,
};
use crate::functions::common::action::ActionTable;
use crate::functions::common::args::{session_state, Signature};
use crate::functions::common::options::Options;
use crate::functions::common::source::resolve;
use crate::profile;
use crate::profile::{Kind, Request};

const NAME: &str = "ml_validate_drift";

#[derive(Debug, Default)]
pub struct MlValidateDrift;

struct Plan {
    base: LogicalPlan,
    study: LogicalPlan,
    features: Vec<Feature>,
}

impl Plan {
    async fn run(&self, state: SessionState) -> Result<Vec<RecordBatch>> {
        // Shared buckets: over the range of both sources.
        let numeric: Vec<String> = self
            .features
            .iter()
            .filter(|f| f.kind == Kind::Numeric)
            .map(|f| f.name.clone())
            .collect();
        let base_ranges = profile::ranges(&state, &self.base, &numeric).await?;
        let study_ranges = profile::ranges(&state, &self.study, &numeric).await?;
        let mut shared = numeric
            .iter()
            .zip(base_ranges.iter().zip(&study_ranges))
            .map(|(_, (a, b))| match (a, b) {
                (Some(a), Some(b)) => (a.0.min(b.0), a.1.max(b.1)),
                (Some(r), None) | (None, Some(r)) => *r,
                (None, None) => (0.0, 0.0),
            });
        let requests: Vec<Request> = self
            .features
            .iter()
            .map(|f| Request {
                name: f.name.clone(),
                kind: f.kind,
                range: match f.kind {
                    Kind::Numeric => shared.next(),
                    Kind::Categorical => None,
                },
            })
            .collect();
        let (base_rows, base) = profile::profiles(&state, &self.base, &requests).await?;
        let (study_rows, study) = profile::profiles(&state, &self.study, &requests).await?;
        for (rows, which) in [(base_rows, "base"), (study_rows, "study")] {
            if rows == 0 {
                return exec_err!("{NAME}: the {which} source has no rows");
            }
        }
        Ok(vec![anomaly_rows(&self.features, &base, &study)?])
    }
}

/// The arguments of `ml_validate_drift`.
const SIGNATURE: Signature = Signature {
    function: NAME,
    names: &["base", "study", "options"],
    required: 2,
    example: "ml_validate_drift('last_week', 'this_week', 'thresholds=[age:0.1]')",
};

impl TableFunctionImpl for MlValidateDrift {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let bound = SIGNATURE.bind(&args)?;
        let (base_text, study_text) = (bound.get("base"), bound.get("study"));
        let options = Options::parse(NAME, bound.get("options"), KEYS)?;
        let state = session_state(NAME, args.session())?;
        let base = resolve(NAME, state, base_text)?;
        let study = resolve(NAME, state, study_text)?;
        let features = compared_features(
            NAME,
            &options,
            base.schema(),
            study.schema(),
            "study source",
        )?;
        let features = thresholds(NAME, &options, &features)?;
        let plan = Arc::new(Plan {
            base,
            study,
            features,
        });
        Ok(Arc::new(ActionTable::new(
            NAME,
            anomaly_schema(),
            Box::new(move |state| {
                let plan = Arc::clone(&plan);
                Box::pin(async move { plan.run(state).await })
            }),
        )))
    }
}
