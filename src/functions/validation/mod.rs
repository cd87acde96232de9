//! Data validation: profiles of a source (`ml_describe`), drift between two
//! sources (`ml_validate_drift`), and serving data against a model's training
//! statistics (`ml_validate_skew`, `ml_validate_schema`), over `anomalies`
//! (what drift and skew share) and `crate::profile`.

mod anomalies;
mod describe;
mod drift;
mod schema;
mod skew;

pub use describe::MlDescribe;
pub use drift::MlValidateDrift;
pub use schema::MlValidateSchema;
pub use skew::MlValidateSkew;
