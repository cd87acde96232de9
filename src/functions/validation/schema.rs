//! `ml_validate_schema(model, source [, options])`: what in `source` does
//! not match the data a model was trained on, as rows of anomalies in the
//! manner of TensorFlow Data Validation: missing features, unexpected
//! columns, type changes, more NULLs, unseen categories, numbers outside
//! the training range. Each has a severity: `error` where `ml_predict`
//! would refuse the data, `warning` where it would predict from data unlike
//! its training data.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;

use crate::functions::common::action::ActionTable;
use crate::functions::common::args::{session_state, Signature};
use crate::functions::common::options::Options;
use crate::functions::common::source::resolve;
use crate::models::recorded_type;
use crate::profile;
use crate::profile::{Kind, Profile, Request};
use crate::registry::TrainingStatistics;
use crate::scoring::load_metadata;

const NAME: &str = "ml_validate_schema";

const KEYS: &[&str] = &[
    "null_share_threshold",
    "unseen_share_threshold",
    "range_margin",
];

#[derive(Debug, Default)]
pub struct MlValidateSchema;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("input", DataType::Utf8, false),
        Field::new("anomaly", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("expected", DataType::Utf8, true),
        Field::new("observed", DataType::Utf8, true),
    ]))
}

/// The broad kind of a type (as its Arrow name, which the training
/// statistics store): a feature may change type within its kind
/// (`ml_predict` casts BIGINT to INT) but not across kinds.
fn family(data_type: &str) -> &'static str {
    fn of(t: &DataType) -> &'static str {
        match t {
            DataType::Dictionary(_, value) => of(value),
            t if t.is_numeric() => "number",
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string",
            DataType::Boolean => "boolean",
            t if t.is_temporal() => "temporal",
            _ => "other",
        }
    }
    DataType::from_str(data_type).map_or("other", |t| of(&t))
}

struct Anomaly {
    input: String,
    anomaly: &'static str,
    severity: &'static str,
    expected: Option<String>,
    observed: Option<String>,
}

struct Plan {
    source: LogicalPlan,
    statistics: TrainingStatistics,
    /// Anomalies found from the schemas alone.
    found: Vec<Anomaly>,
    /// Features present in the source, of the kind they had in training.
    compared: Vec<(String, Profile)>,
    null_share: f64,
    unseen_share: f64,
    margin: f64,
}

fn share(x: f64) -> String {
    format!("{:.4}", x)
}

impl Plan {
    async fn run(&self, state: SessionState) -> Result<Vec<RecordBatch>> {
        let numeric: Vec<String> = self
            .compared
            .iter()
            .filter(|(_, p)| matches!(p, Profile::Numeric { .. }))
            .map(|(n, _)| n.clone())
            .collect();
        let mut found = profile::ranges(&state, &self.source, &numeric)
            .await?
            .into_iter();
        // The observed extremes of each compared feature (numeric ones).
        let extremes: Vec<Option<(f64, f64)>> = self
            .compared
            .iter()
            .map(|(_, p)| match p {
                Profile::Numeric { .. } => found.next().flatten(),
                Profile::Categorical { .. } => None,
            })
            .collect();
        let requests: Vec<Request> = self
            .compared
            .iter()
            .map(|(name, p)| match p {
                Profile::Numeric { low, high, .. } => Request {
                    name: name.clone(),
                    kind: Kind::Numeric,
                    range: Some((*low, *high)),
                },
                Profile::Categorical { .. } => Request {
                    name: name.clone(),
                    kind: Kind::Categorical,
                    range: None,
                },
            })
            .collect();
        let (rows, observed) = profile::profiles(&state, &self.source, &requests).await?;
        if rows == 0 {
            return exec_err!("{NAME}: the source has no rows");
        }
        let trained_rows = self.statistics.rows.max(1) as f64;
        let mut anomalies: Vec<&Anomaly> = self.found.iter().collect();
        let mut data_anomalies = Vec::new();
        for (((name, trained), seen), extremes) in self.compared.iter().zip(&observed).zip(extremes)
        {
            let (trained_nulls, seen_nulls) = match (trained, seen) {
                (Profile::Numeric { nulls: a, .. }, Profile::Numeric { nulls: b, .. })
                | (Profile::Categorical { nulls: a, .. }, Profile::Categorical { nulls: b, .. }) => {
                    (*a as f64 / trained_rows, *b as f64 / rows as f64)
                }
                _ => continue,
            };
            if seen_nulls - trained_nulls > self.null_share {
                data_anomalies.push(Anomaly {
                    input: name.clone(),
                    anomaly: "null_share",
                    severity: "warning",
                    expected: Some(share(trained_nulls)),
                    observed: Some(share(seen_nulls)),
                });
            }
            match (trained, seen) {
                (
                    Profile::Categorical { counts: known, .. },
                    Profile::Categorical { counts, .. },
                ) => {
                    let mut unseen: Vec<(&String, &u64)> = counts
                        .iter()
                        .filter(|(v, _)| !known.contains_key(*v))
                        .collect();
                    let count: u64 = unseen.iter().map(|(_, c)| **c).sum();
                    let fraction = count as f64 / rows as f64;
                    if fraction > self.unseen_share {
                        unseen.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
                        let examples: Vec<&str> =
                            unseen.iter().take(3).map(|(v, _)| v.as_str()).collect();
                        data_anomalies.push(Anomaly {
                            input: name.clone(),
                            anomaly: "unseen_values",
                            severity: "warning",
                            expected: Some(share(0.0)),
                            observed: Some(format!(
                                "{} ({})",
                                share(fraction),
                                examples.join(", ")
                            )),
                        });
                    }
                }
                (Profile::Numeric { low, high, .. }, _) => {
                    let Some((min, max)) = extremes else {
                        continue;
                    };
                    let slack = self.margin * (high - low);
                    if min < low - slack || max > high + slack {
                        data_anomalies.push(Anomaly {
                            input: name.clone(),
                            anomaly: "out_of_range",
                            severity: "warning",
                            expected: Some(format!("[{low}, {high}]")),
                            observed: Some(format!("[{min}, {max}]")),
                        });
                    }
                }
                _ => {}
            }
        }
        anomalies.extend(data_anomalies.iter());
        let column = |f: &dyn Fn(&Anomaly) -> Option<&str>| -> ArrayRef {
            Arc::new(StringArray::from_iter(anomalies.iter().map(|a| f(a))))
        };
        Ok(vec![RecordBatch::try_new(
            schema(),
            vec![
                column(&|a| Some(&a.input)),
                column(&|a| Some(a.anomaly)),
                column(&|a| Some(a.severity)),
                column(&|a| a.expected.as_deref()),
                column(&|a| a.observed.as_deref()),
            ],
        )?])
    }
}

/// `ml_validate_schema`'s options: the shares and margin past which a
/// change is an anomaly.
struct SchemaOptions {
    /// `null_share_threshold`: NULLs past the training share by this much.
    null_share: f64,
    /// `unseen_share_threshold`: the share of values training never saw.
    unseen_share: f64,
    /// `range_margin`: how far past the training range, as a share of it.
    margin: f64,
}

impl SchemaOptions {
    fn parse(text: &str) -> Result<Self> {
        let options = Options::parse(NAME, text, KEYS)?;
        let number =
            |key, default| -> Result<f64> { Ok(options.number(key, 0.0)?.unwrap_or(default)) };
        Ok(Self {
            null_share: number("null_share_threshold", 0.1)?,
            unseen_share: number("unseen_share_threshold", 0.01)?,
            margin: number("range_margin", 0.1)?,
        })
    }
}

/// The arguments of `ml_validate_schema`.
const SIGNATURE: Signature = Signature {
    function: NAME,
    names: &["model", "source", "options"],
    required: 2,
    example: "ml_validate_schema('churn', 's3://lake/serving/today/')",
};

impl TableFunctionImpl for MlValidateSchema {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let bound = SIGNATURE.bind(&args)?;
        let (model_text, source_text) = (bound.get("model"), bound.get("source"));
        let SchemaOptions {
            null_share,
            unseen_share,
            margin,
        } = SchemaOptions::parse(bound.get("options"))?;
        let state = session_state(NAME, args.session())?;
        let metadata = load_metadata(NAME, state, model_text)?;
        let Some(statistics) = metadata.training_statistics.clone() else {
            return plan_err!(
                "{NAME}: model {}@{} has no training statistics (it was trained by an older \
                 mlfusion); train it again to check data against it",
                metadata.model,
                metadata.version
            );
        };
        let source = resolve(NAME, state, source_text)?;
        let fields = source.schema().fields();
        let mut found = Vec::new();
        let mut compared = Vec::new();
        for feature in &statistics.features {
            let Some(field) = fields.iter().find(|f| f.name() == &feature.name) else {
                found.push(Anomaly {
                    input: feature.name.clone(),
                    anomaly: "missing_feature",
                    severity: "error",
                    expected: Some(feature.data_type.clone()),
                    observed: None,
                });
                continue;
            };
            let observed = field.data_type().to_string();
            // Types that differ only in layout (Utf8View and Utf8) are the
            // same type: a model trained on a Ballista cluster saw Utf8.
            let same_type = DataType::from_str(&feature.data_type)
                .is_ok_and(|t| recorded_type(&t) == recorded_type(field.data_type()));
            if !same_type {
                let same_family = family(&observed) == family(&feature.data_type);
                found.push(Anomaly {
                    input: feature.name.clone(),
                    anomaly: "type_change",
                    severity: if same_family { "warning" } else { "error" },
                    expected: Some(feature.data_type.clone()),
                    observed: Some(observed),
                });
                if !same_family {
                    continue;
                }
            }
            if let Some(p) = &feature.profile {
                compared.push((feature.name.clone(), p.clone()));
            }
        }
        let known: HashSet<&str> = statistics
            .features
            .iter()
            .map(|f| f.name.as_str())
            .chain([metadata.label.as_str(), "split", "fold"])
            .collect();
        for field in fields.iter().filter(|f| !known.contains(f.name().as_str())) {
            found.push(Anomaly {
                input: field.name().clone(),
                anomaly: "unexpected_column",
                severity: "warning",
                expected: None,
                observed: Some(field.data_type().to_string()),
            });
        }
        let plan = Arc::new(Plan {
            source,
            statistics,
            found,
            compared,
            null_share,
            unseen_share,
            margin,
        });
        Ok(Arc::new(ActionTable::new(
            NAME,
            schema(),
            Box::new(move |state| {
                let plan = Arc::clone(&plan);
                Box::pin(async move { plan.run(state).await })
            }),
        )))
    }
}
