//! The model registry in SQL: its versions (`ml_models`) and aliases
//! (`ml_deploy`), over `crate::registry`.

mod deploy;
mod models;

pub use deploy::MlDeploy;
pub use models::MlModels;
