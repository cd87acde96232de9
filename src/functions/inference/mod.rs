//! Applying a model to rows: `ml_predict` (a view), and the evaluations
//! `ml_evaluate`, `ml_confusion_matrix` and `ml_roc_curve`, over
//! `crate::scoring`.

mod confusion_matrix;
mod evaluate;
mod predict;
mod roc_curve;

pub use confusion_matrix::MlConfusionMatrix;
pub use evaluate::MlEvaluate;
pub use predict::MlPredict;
pub use roc_curve::MlRocCurve;
