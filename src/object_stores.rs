//! Object stores beyond datafusion-cli's own (s3, oss, cos, gs, http):
//! Azure Blob Storage and ADLS Gen2 URLs (`az://`, `azure://`, `abfs://`,
//! `abfss://`, `adl://`), built from the standard `AZURE_*` environment
//! variables (`AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`,
//! `AZURE_STORAGE_SAS_TOKEN`, `AZURE_STORAGE_USE_EMULATOR`, …) the first time
//! a query needs one.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::object_store::ObjectStoreRegistry;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::ObjectStore;
use url::Url;

const AZURE_SCHEMES: &[&str] = &["az", "azure", "abfs", "abfss", "adl"];

/// Wraps a registry: URLs it has no store for get an Azure store when their
/// scheme is Azure's.
#[derive(Debug)]
pub struct CloudObjectStoreRegistry {
    inner: Arc<dyn ObjectStoreRegistry>,
}

impl CloudObjectStoreRegistry {
    pub fn new(inner: Arc<dyn ObjectStoreRegistry>) -> Self {
        Self { inner }
    }
}

impl ObjectStoreRegistry for CloudObjectStoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.inner.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.inner.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        match self.inner.get_store(url) {
            Err(_) if AZURE_SCHEMES.contains(&url.scheme()) => {
                let store: Arc<dyn ObjectStore> = Arc::new(
                    MicrosoftAzureBuilder::from_env()
                        .with_url(url.as_str())
                        .build()?,
                );
                self.inner.register_store(url, Arc::clone(&store));
                Ok(store)
            }
            other => other,
        }
    }
}
