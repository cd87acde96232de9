//! mlfusion-models' errors as DataFusion's errors of the same kind (the
//! numeric core has no DataFusion dependency, so the conversion lives here).

use datafusion::common::{DataFusionError, Result};

use crate::models;

/// Turns a [`models::Result`] into DataFusion's: a bad argument stays a
/// planning error, bad data an execution error, an Arrow error an Arrow
/// error.
pub(crate) trait IntoDataFusion<T> {
    fn into_df(self) -> Result<T>;
}

impl<T> IntoDataFusion<T> for models::Result<T> {
    fn into_df(self) -> Result<T> {
        self.map_err(|e| match e {
            models::Error::Plan(m) => DataFusionError::Plan(m),
            models::Error::Execution(m) => DataFusionError::Execution(m),
            models::Error::Internal(m) => DataFusionError::Internal(m),
            models::Error::Arrow(e) => DataFusionError::ArrowError(Box::new(e), None),
        })
    }
}
