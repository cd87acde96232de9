//! Object stores made on first use, from the standard environment
//! variables: Azure Blob Storage and ADLS Gen2 URLs (`az://`, `azure://`,
//! `abfs://`, `abfss://`, `adl://`; `AZURE_STORAGE_ACCOUNT_NAME`,
//! `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_SAS_TOKEN`,
//! `AZURE_STORAGE_USE_EMULATOR`, …), and `s3://` (`AWS_*`, including
//! `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP`) and `gs://` (`GOOGLE_*`) URLs
//! that no table has registered yet, such as a model registry's.
//! (datafusion-cli registers the stores of the tables it reads itself, with
//! their `OPTIONS('aws.…')`; those take precedence.)

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::object_store::ObjectStoreRegistry;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
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
            Err(e) => {
                let store: Arc<dyn ObjectStore> = match url.scheme() {
                    s if AZURE_SCHEMES.contains(&s) => Arc::new(
                        MicrosoftAzureBuilder::from_env()
                            .with_url(url.as_str())
                            .build()?,
                    ),
                    "s3" => Arc::new(AmazonS3Builder::from_env().with_url(url.as_str()).build()?),
                    "gs" => Arc::new(
                        GoogleCloudStorageBuilder::from_env()
                            .with_url(url.as_str())
                            .build()?,
                    ),
                    _ => return Err(e),
                };
                self.inner.register_store(url, Arc::clone(&store));
                Ok(store)
            }
            ok => ok,
        }
    }
}
