//! `ml_validate_skew(model, serving [, options])`: how far serving data is
//! from the data a model was trained on, as BigQuery's
//! ML.VALIDATE_DATA_SKEW: per feature, the distance between its
//! distribution in the serving rows and the one stored with the model at
//! training (numeric features over the training histogram's buckets).

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;

use super::anomalies::{anomaly_rows, anomaly_schema, thresholds, Feature, KEYS};
use crate::functions::common::action::ActionTable;
use crate::functions::common::args::{session_state, Signature};
use crate::functions::common::options::Options;
use crate::functions::common::source::resolve;
use crate::profile;
use crate::profile::{kind_of, Kind, Profile, Request};
use crate::scoring::load_metadata;

const NAME: &str = "ml_validate_skew";

#[derive(Debug, Default)]
pub struct MlValidateSkew;

struct Plan {
    serving: LogicalPlan,
    features: Vec<Feature>,
    training: Vec<Profile>,
}

impl Plan {
    async fn run(&self, state: SessionState) -> Result<Vec<datafusion::arrow::array::RecordBatch>> {
        let requests: Vec<Request> = self
            .features
            .iter()
            .zip(&self.training)
            .map(|(f, p)| Request {
                name: f.name.clone(),
                kind: f.kind,
                range: match p {
                    Profile::Numeric { low, high, .. } => Some((*low, *high)),
                    Profile::Categorical { .. } => None,
                },
            })
            .collect();
        let (rows, serving) = profile::profiles(&state, &self.serving, &requests).await?;
        if rows == 0 {
            return exec_err!("{NAME}: the serving source has no rows");
        }
        Ok(vec![anomaly_rows(
            &self.features,
            &self.training,
            &serving,
        )?])
    }
}

/// The arguments of `ml_validate_skew`.
const SIGNATURE: Signature = Signature {
    function: NAME,
    names: &["model", "serving", "options"],
    required: 2,
    example: "ml_validate_skew('churn', 's3://lake/serving/today/')",
};

impl TableFunctionImpl for MlValidateSkew {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let bound = SIGNATURE.bind(&args)?;
        let (model_text, serving_text) = (bound.get("model"), bound.get("serving"));
        let options = Options::parse(NAME, bound.get("options"), KEYS)?;
        let state = session_state(NAME, args.session())?;
        let metadata = load_metadata(NAME, state, model_text)?;
        let Some(statistics) = &metadata.training_statistics else {
            return plan_err!(
                "{NAME}: model {}@{} has no training statistics (it was trained by an older \
                 mlfusion); train it again to check serving data against it",
                metadata.model,
                metadata.version
            );
        };
        let serving = resolve(NAME, state, serving_text)?;
        let schema = Arc::clone(serving.schema());
        let profiled: Vec<(&str, &Profile)> = statistics
            .features
            .iter()
            .filter_map(|f| Some((f.name.as_str(), f.profile.as_ref()?)))
            .collect();
        let wanted: Vec<String> = match options.columns("features", &schema)? {
            Some(names) => names,
            None => profiled.iter().map(|(n, _)| n.to_string()).collect(),
        };
        let mut features = Vec::new();
        let mut training = Vec::new();
        for name in wanted {
            let Some((_, profile)) = profiled.iter().find(|(n, _)| *n == name) else {
                return plan_err!(
                    "{NAME}: {name} is not a feature of model {}@{} with training statistics; \
                     those are {}",
                    metadata.model,
                    metadata.version,
                    profiled
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            let kind = match profile {
                Profile::Numeric { .. } => Kind::Numeric,
                Profile::Categorical { .. } => Kind::Categorical,
            };
            match schema.field_with_unqualified_name(&name) {
                Err(_) => {
                    return plan_err!(
                        "{NAME}: the serving source has no column {name}, a feature of model \
                         {}@{}",
                        metadata.model,
                        metadata.version
                    )
                }
                Ok(f) if kind_of(f.data_type()) != Some(kind) => {
                    return plan_err!(
                        "{NAME}: feature {name} has type {} in the serving source, not of the \
                         kind it had in training",
                        f.data_type()
                    )
                }
                Ok(_) => {}
            }
            features.push((name, kind));
            training.push((*profile).clone());
        }
        let features = thresholds(NAME, &options, &features)?;
        let plan = Arc::new(Plan {
            serving,
            features,
            training,
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
