//! mlfusion's table functions, grouped by what they do. A function module
//! uses what its group shares and [`common`], never another function's
//! module; what two functions need lives in [`common`] or the domain layer
//! below (`registry`, `scoring`, `profile`, `models`).

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;

pub(crate) mod common;
/// Applying a model: `ml_predict`, `ml_evaluate`, `ml_confusion_matrix`,
/// `ml_roc_curve`.
pub mod inference;
/// The model registry: `ml_models`, `ml_deploy`.
pub mod registry;
/// Reproducible splits and folds: `ml_split`.
pub mod split;
/// Training and tuning: `ml_train`, `ml_tune`, `ml_trials`.
pub mod training;
/// Data validation: `ml_describe`, `ml_validate_drift`, `ml_validate_skew`,
/// `ml_validate_schema`.
pub mod validation;

/// mlfusion's table functions and their SQL names.
pub fn table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    vec![
        ("ml_split", Arc::new(split::MlSplit)),
        ("ml_train", Arc::new(training::MlTrain)),
        ("ml_tune", Arc::new(training::MlTune)),
        ("ml_trials", Arc::new(training::MlTrials)),
        ("ml_predict", Arc::new(inference::MlPredict)),
        ("ml_evaluate", Arc::new(inference::MlEvaluate)),
        (
            "ml_confusion_matrix",
            Arc::new(inference::MlConfusionMatrix),
        ),
        ("ml_roc_curve", Arc::new(inference::MlRocCurve)),
        ("ml_models", Arc::new(registry::MlModels)),
        ("ml_describe", Arc::new(validation::MlDescribe)),
        ("ml_validate_drift", Arc::new(validation::MlValidateDrift)),
        ("ml_validate_skew", Arc::new(validation::MlValidateSkew)),
        ("ml_validate_schema", Arc::new(validation::MlValidateSchema)),
        ("ml_deploy", Arc::new(registry::MlDeploy)),
    ]
}
