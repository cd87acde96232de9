//! The model registry: versioned, immutable model artifacts under a root URL
//! on any object store (`SET mlfusion.registry = 's3://bucket/models'`;
//! default `./mlfusion_registry`).
//!
//! Layout: `<root>/<name>/<version>/model.json` (the model: deterministic
//! bytes) and `<root>/<name>/<version>/metadata.json` (when, from what, how
//! well). Both are created with a conditional put (`PutMode::Create`), the
//! model first: a version is visible once its metadata exists, so a crash
//! mid-write leaves no visible version, and two trainings racing for one
//! number cannot both win it: the loser takes the next number.
//!
//! Aliases (`champion`) live in an append-only log of deployments,
//! `<root>/<name>/aliases/<seq>.json`, also created conditionally: the
//! latest entry for an alias wins, and the log is the deployment history.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::common::{exec_err, plan_err, DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::SessionState;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::MlfusionOptions;
use crate::errors::IntoDataFusion;
use crate::models::Model;

/// What `ml_models()` shows of a version, besides the model itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metadata {
    pub format_version: u32,
    pub model: String,
    pub version: u64,
    pub model_type: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub mlfusion_version: String,
    pub row_encoding: String,
    pub label: String,
    pub features: Vec<String>,
    pub options: BTreeMap<String, String>,
    /// Training metrics (on the training rows).
    pub metrics: BTreeMap<String, Option<f64>>,
    /// The rows the model was fitted on.
    pub training_rows: u64,
    /// The model's metrics on the rows held out of the fit for evaluation
    /// (none without such rows, and in versions older than the split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_metrics: Option<BTreeMap<String, Option<f64>>>,
    /// How many rows were held out for evaluation.
    #[serde(default)]
    pub eval_rows: u64,
    /// How the evaluation rows were chosen (`data_split_method`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_split: Option<String>,
    pub data_fingerprint: Option<i64>,
    pub source: String,
    /// Versions from before `split`: the text of the `ml_split(...)` call
    /// found in the source query (never written now; older mlfusion reads
    /// its absence as none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_spec: Option<String>,
    /// How the training rows were split: the `ml_split` the source reads
    /// (absent when it reads none). A field of its own, so that older
    /// mlfusion, which ignores it, still reads the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<SplitSpec>,
    /// Fingerprint64 of model.json, checked when the model is loaded.
    pub model_fingerprint: String,
    /// How `ml_tune` chose the hyperparameters, with every trial (absent
    /// for a model `ml_train` trained).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning: Option<Tuning>,
    /// The features' types and distributions in the training rows, which
    /// serving data is checked against (absent in versions from before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_statistics: Option<TrainingStatistics>,
    /// The registry this version was read from or written to (not stored:
    /// a registry can move), so that a cluster's executors can load it.
    #[serde(skip)]
    pub registry: String,
    /// Unique to the write that created the version: a writer tells its
    /// own document from another's when a put's answer was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_id: Option<String>,
}

impl Metadata {
    /// The split as `ml_models` shows it: its parameters as JSON, or in
    /// versions from before, the text of the `ml_split(...)` call.
    pub fn split_text(&self) -> Option<String> {
        match (&self.split, &self.split_spec) {
            (Some(split), _) => serde_json::to_string(split).ok(),
            (None, text) => text.clone(),
        }
    }
}

/// How `ml_split` splits its source: every option, resolved (defaults
/// filled in, the key's columns listed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitSpec {
    /// The source `ml_split` read, as given.
    pub source: String,
    pub method: SplitMethod,
    #[serde(with = "crate::models::exact")]
    pub test_fraction: f64,
    #[serde(with = "crate::models::exact")]
    pub validation_fraction: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stratify: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The columns each row is hashed by (empty with `group`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key: Vec<String>,
    pub salt: String,
}

/// `ml_split`'s `method` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitMethod {
    /// Each row by its own fingerprint: stable when rows are appended.
    Hash,
    /// Dealt in fingerprint order within each stratum: exact shares.
    Balanced,
}

/// The training rows as skew and schema checks see them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingStatistics {
    pub rows: u64,
    pub features: Vec<FeatureStatistics>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeatureStatistics {
    pub name: String,
    /// The Arrow type, as text.
    pub data_type: String,
    /// The distribution (none for types drift is not measured on, such as
    /// timestamps).
    pub profile: Option<crate::profile::Profile>,
}

/// An `ml_tune` run, as `ml_trials` reads it back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tuning {
    /// The metric the trials were scored by, e.g. `roc_auc`.
    pub objective: String,
    pub maximize: bool,
    pub algorithm: String,
    pub seed: u64,
    /// Where the folds came from: `column fold` or `abs_mod(row_fingerprint(*), k)`.
    pub folds: String,
    /// The searched hyperparameters and their spaces, in the order of the
    /// trials' columns.
    pub search_space: Vec<(String, String)>,
    pub trials: Vec<Trial>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trial {
    pub trial_id: u64,
    /// The searched hyperparameters' values, in the order of `search_space`.
    #[serde(with = "crate::models::exact")]
    pub hyperparameters: Vec<f64>,
    /// The objective on each validation fold.
    #[serde(with = "crate::models::exact")]
    pub fold_values: Vec<f64>,
    #[serde(with = "crate::models::exact")]
    pub objective_mean: Option<f64>,
    #[serde(with = "crate::models::exact")]
    pub objective_stddev: Option<f64>,
    #[serde(with = "crate::models::exact")]
    pub training_seconds: f64,
    /// `succeeded` or `failed`.
    pub status: String,
    pub error_message: Option<String>,
    pub is_optimal: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AliasEntry {
    pub alias: String,
    pub version: u64,
    pub strategy: String,
    pub created: String,
    /// As [`Metadata::write_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_id: Option<String>,
}

/// Which version a `model` argument names: `name`, `name@7`, `name@alias`.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    Default,
    Version(u64),
    Alias(String),
}

/// Checks a model or alias name: letters, digits, `_`, `-`, `.`, starting
/// with a letter, digit or `_`, at most 128 characters, no `..`.
pub fn validate_name(function: &str, what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        plan_err!(
            "{function}: bad {what} '{}': use 1 to 128 letters, digits, '_', '-' or '.', \
             starting with a letter, digit or '_' (no '/', '..' or control characters)",
            name.escape_default()
        )
    }
}

/// Checks an alias name: a model name that is not a number (`name@3` is
/// version 3).
pub fn validate_alias(function: &str, alias: &str) -> Result<()> {
    if alias.parse::<u64>().is_ok() {
        return plan_err!(
            "{function}: bad alias '{alias}': a number would read as a version; use a name \
             such as champion or canary"
        );
    }
    validate_name(function, "alias", alias)
}

/// Splits `name[@version|@alias]`.
pub fn parse_model_ref(function: &str, text: &str) -> Result<(String, Selector)> {
    let (name, selector) = match text.split_once('@') {
        None => (text, Selector::Default),
        Some((name, sel)) => match sel.parse::<u64>() {
            Ok(v) => (name, Selector::Version(v)),
            Err(_) => {
                validate_alias(function, sel)?;
                (name, Selector::Alias(sel.to_string()))
            }
        },
    };
    validate_name(function, "model name", name)?;
    Ok((name.to_string(), selector))
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An id no other write has: the process, the time and a counter.
pub fn write_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{:x}-{nanos:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// How many times a registry write is tried when the store's answer leaves
/// unknown whether it landed (the store's client has retried what it can).
const WRITE_ATTEMPTS: u32 = 5;

/// What a conditional write found.
enum Written {
    /// These bytes are at the path: this write's (or an earlier attempt's
    /// whose answer was lost).
    Ours,
    /// Another writer's bytes are there.
    Taken,
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value)
        .map_err(|e| DataFusionError::Internal(format!("registry JSON: {e}")))
}

pub struct Registry {
    store: Arc<dyn ObjectStore>,
    root: Path,
    /// The root as the user gave it, for messages and URIs.
    url: String,
}

impl Registry {
    /// The registry that `mlfusion.registry` names in this session.
    pub fn for_session(state: &SessionState) -> Result<Self> {
        let url = state
            .config_options()
            .extensions
            .get::<MlfusionOptions>()
            .map(|o| o.registry.clone())
            .unwrap_or_else(|| MlfusionOptions::default().registry);
        Self::open(&url, state.runtime_env())
    }

    /// The registry at `url` (a folder or an object store URL), through the
    /// object stores of `runtime`.
    pub fn open(url: &str, runtime: &RuntimeEnv) -> Result<Self> {
        // Parsed as a plain folder or URL (not as a listing path, which would
        // read glob characters such as `[` as a pattern).
        let bad = |e: &dyn std::fmt::Display| {
            DataFusionError::Plan(format!(
                "mlfusion.registry = '{url}' is not a folder or URL: {e}"
            ))
        };
        let parsed = if url.contains("://") {
            Url::parse(url).map_err(|e| bad(&e))?
        } else {
            let absolute = std::path::absolute(url).map_err(|e| bad(&e))?;
            Url::from_directory_path(&absolute).map_err(|_| bad(&"not an absolute path"))?
        };
        let store_url = ObjectStoreUrl::parse(&parsed[..url::Position::BeforePath])?;
        let store = runtime.object_store(&store_url)?;
        let root = Path::from_url_path(parsed.path()).map_err(|e| bad(&e))?;
        Ok(Self {
            store,
            root,
            url: parsed.as_str().trim_end_matches('/').to_string(),
        })
    }

    fn path(&self, parts: &[&str]) -> Path {
        parts
            .iter()
            .fold(self.root.clone(), |p, part| p.join(*part))
    }

    /// The registry's root URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn uri(&self, name: &str, version: u64) -> String {
        format!("{}/{name}/{version}/", self.url)
    }

    /// An object store's error, saying which registry and what it was
    /// doing (the store's own message may name neither).
    fn failed(&self, what: String) -> impl FnOnce(object_store::Error) -> DataFusionError + '_ {
        move |e| DataFusionError::Execution(format!("registry {}: {what}: {e}", self.url))
    }

    /// The child folder names of `prefix`.
    async fn children(&self, prefix: &Path) -> Result<Vec<String>> {
        let listing = self
            .store
            .list_with_delimiter(Some(prefix))
            .await
            .map_err(self.failed(format!("listing {prefix}")))?;
        Ok(listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect())
    }

    /// The model names in the registry, sorted.
    pub async fn names(&self) -> Result<Vec<String>> {
        let mut names = self.children(&self.root).await?;
        names.retain(|n| validate_name("", "", n).is_ok());
        names.sort();
        Ok(names)
    }

    /// Every version number that has a folder, complete or not.
    async fn version_folders(&self, name: &str) -> Result<Vec<u64>> {
        let mut v: Vec<u64> = self
            .children(&self.path(&[name]))
            .await?
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        v.sort();
        Ok(v)
    }

    /// The visible versions of `name` with their metadata, oldest first.
    pub async fn versions(&self, name: &str) -> Result<Vec<Metadata>> {
        let mut out = Vec::new();
        for v in self.version_folders(name).await? {
            if let Some(m) = self.metadata(name, v).await? {
                out.push(m);
            }
        }
        Ok(out)
    }

    pub async fn metadata(&self, name: &str, version: u64) -> Result<Option<Metadata>> {
        let path = self.path(&[name, &version.to_string(), "metadata.json"]);
        match self.store.get(&path).await {
            Ok(r) => {
                let bytes = r
                    .bytes()
                    .await
                    .map_err(self.failed(format!("reading {path}")))?;
                match serde_json::from_slice::<Metadata>(&bytes) {
                    Ok(m) => Ok(Some(Metadata {
                        registry: self.url.clone(),
                        ..m
                    })),
                    Err(e) => exec_err!("registry: {} is corrupt: {e}", self.uri(name, version)),
                }
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failed(format!("reading {path}"))(e)),
        }
    }

    /// Writes `bytes` at `path` unless something is there, and says whose
    /// bytes are there then. A put whose outcome is unknown is checked by
    /// reading the path back, and tried again while nothing is there.
    async fn put_new(&self, path: &Path, bytes: &[u8]) -> object_store::Result<Written> {
        let create = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let put = self
                .store
                .put_opts(path, PutPayload::from(bytes.to_vec()), create.clone())
                .await;
            let error = match put {
                Ok(_) => return Ok(Written::Ours),
                Err(object_store::Error::AlreadyExists { .. }) => None,
                // Nothing was written, and trying again will not change that.
                Err(
                    e @ (object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. }
                    | object_store::Error::NotImplemented { .. }
                    | object_store::Error::NotSupported { .. }
                    | object_store::Error::InvalidPath { .. }),
                ) => return Err(e),
                Err(e) => Some(e),
            };
            let found = match self.store.get(path).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            };
            // The put's error first: it says why nothing was written.
            let error = match found {
                Ok(Some(found)) if found == bytes => return Ok(Written::Ours),
                Ok(Some(_)) => return Ok(Written::Taken),
                Ok(None) => error.unwrap_or_else(|| object_store::Error::Generic {
                    store: "registry",
                    source: format!("{path} was reported to exist, and is not there").into(),
                }),
                Err(read) => error.unwrap_or(read),
            };
            if attempt >= WRITE_ATTEMPTS {
                return Err(error);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
        }
    }

    /// Writes a new version of `name` and returns its metadata (with the
    /// version number it got). On an error the version is not visible,
    /// unless the error says it could not tell.
    pub async fn create_version(
        &self,
        model_json: &[u8],
        mut metadata: Metadata,
    ) -> Result<Metadata> {
        let name = metadata.model.clone();
        metadata.registry = self.url.clone();
        metadata.write_id = Some(write_id());
        let mut version = self
            .version_folders(&name)
            .await?
            .last()
            .copied()
            .unwrap_or(0)
            + 1;
        let failed = |version: u64, what: &str, e: object_store::Error| {
            DataFusionError::Execution(format!(
                "registry {}: could not write version {version} of model {name}: {what} ({e})",
                self.url
            ))
        };
        loop {
            let folder = version.to_string();
            let model_path = self.path(&[&name, &folder, "model.json"]);
            match self.put_new(&model_path, model_json).await {
                Ok(Written::Ours) => {}
                Ok(Written::Taken) => {
                    version += 1;
                    continue;
                }
                Err(e) => {
                    return Err(failed(
                        version,
                        "model.json was not written; the version is not visible",
                        e,
                    ))
                }
            }
            metadata.version = version;
            let meta_path = self.path(&[&name, &folder, "metadata.json"]);
            match self.put_new(&meta_path, &to_json(&metadata)?).await {
                Ok(Written::Ours) => return Ok(metadata),
                // Another writer's model had the same bytes, and its
                // metadata came first: the number is its.
                Ok(Written::Taken) => version += 1,
                Err(e) => {
                    return Err(failed(
                        version,
                        "metadata.json could not be written or confirmed; the version \
                         is not visible unless ml_models() lists it",
                        e,
                    ))
                }
            }
        }
    }

    /// The deployment log of `name`, oldest first.
    pub async fn alias_log(&self, name: &str) -> Result<Vec<AliasEntry>> {
        let prefix = self.path(&[name, "aliases"]);
        let mut entries: Vec<(u64, AliasEntry)> = Vec::new();
        let objects: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(self.failed(format!("listing {prefix}")))?;
        for meta in objects {
            let Some(seq) = meta
                .location
                .filename()
                .and_then(|f| f.strip_suffix(".json"))
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let read = self.failed(format!("reading {}", meta.location));
            let bytes = match self.store.get(&meta.location).await {
                Ok(r) => r.bytes().await.map_err(read)?,
                Err(e) => return Err(read(e)),
            };
            match serde_json::from_slice(&bytes) {
                Ok(e) => entries.push((seq, e)),
                Err(e) => return exec_err!("registry: {} is corrupt: {e}", meta.location),
            }
        }
        entries.sort_by_key(|(seq, _)| *seq);
        Ok(entries.into_iter().map(|(_, e)| e).collect())
    }

    /// The current version of every alias of `name`.
    pub async fn aliases(&self, name: &str) -> Result<BTreeMap<String, u64>> {
        Ok(self
            .alias_log(name)
            .await?
            .into_iter()
            .map(|e| (e.alias, e.version))
            .collect())
    }

    /// Appends a deployment to the log.
    pub async fn set_alias(&self, name: &str, entry: &AliasEntry) -> Result<()> {
        let entry = AliasEntry {
            write_id: Some(write_id()),
            ..entry.clone()
        };
        let bytes = to_json(&entry)?;
        let mut seq = self.alias_log(name).await?.len() as u64 + 1;
        loop {
            let path = self.path(&[name, "aliases", &format!("{seq:08}.json")]);
            match self.put_new(&path, &bytes).await {
                Ok(Written::Ours) => return Ok(()),
                Ok(Written::Taken) => seq += 1,
                Err(e) => {
                    return exec_err!(
                        "registry {}: could not move {name}@{} to version {}: the deployment \
                         log entry {path} could not be written or confirmed ({e}); the alias \
                         has not moved unless ml_models() shows it",
                        self.url,
                        entry.alias,
                        entry.version
                    )
                }
            }
        }
    }

    /// Resolves `name[@…]` to a version's metadata.
    pub async fn resolve(
        &self,
        function: &str,
        name: &str,
        selector: &Selector,
    ) -> Result<Metadata> {
        let versions = self.versions(name).await?;
        if versions.is_empty() {
            return plan_err!(
                "{function}: no model named {name} in the registry {}; train one with \
                 ml_train('{name}', ...) or check SET mlfusion.registry",
                self.url
            );
        }
        let find = |v: u64| versions.iter().find(|m| m.version == v).cloned();
        match selector {
            Selector::Version(v) => find(*v).map_or_else(
                || {
                    plan_err!(
                        "{function}: model {name} has no version {v}; it has versions {}",
                        versions
                            .iter()
                            .map(|m| m.version.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                Ok,
            ),
            Selector::Alias(alias) => match self.aliases(name).await?.get(alias) {
                Some(&v) => find(v).map_or_else(
                    || exec_err!("{function}: alias {name}@{alias} points at missing version {v}"),
                    Ok,
                ),
                None => plan_err!(
                    "{function}: model {name} has no alias {alias}; set one with \
                     ml_deploy('{name}', ...)"
                ),
            },
            Selector::Default => match self.aliases(name).await?.get("champion") {
                Some(&v) => find(v).map_or_else(
                    || exec_err!("{function}: alias {name}@champion points at missing version {v}"),
                    Ok,
                ),
                None => Ok(versions[versions.len() - 1].clone()),
            },
        }
    }

    /// Loads a version's model, checking it against its metadata.
    pub async fn load(&self, metadata: &Metadata) -> Result<Model> {
        let (name, version) = (&metadata.model, metadata.version);
        let path = self.path(&[name, &version.to_string(), "model.json"]);
        let read = self.failed(format!("reading {path}"));
        let bytes = match self.store.get(&path).await {
            Ok(r) => r.bytes().await.map_err(read)?,
            Err(e) => return Err(read(e)),
        };
        let what = format!("model {name}@{version} ({})", self.uri(name, version));
        if model_fingerprint(&bytes) != metadata.model_fingerprint {
            return exec_err!(
                "{what} is corrupt: model.json does not match the fingerprint in its metadata"
            );
        }
        Model::from_json(&bytes, &what).into_df()
    }
}

/// Fingerprint64 of an artifact's bytes, as 16 hex digits.
pub fn model_fingerprint(bytes: &[u8]) -> String {
    format!("{:016x}", mlfusion_udfs::farmhash::fingerprint64(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The split is written as structured data in a field of its own; the
    /// text versions from before wrote still reads, and versions without a
    /// split write neither field.
    #[test]
    fn recorded_splits_of_every_version_read() {
        let split = SplitSpec {
            source: "data/x.parquet".to_string(),
            method: SplitMethod::Hash,
            test_fraction: 0.1,
            validation_fraction: 0.0,
            folds: Some(5),
            stratify: None,
            group: Some("user".to_string()),
            key: vec![],
            salt: "s".to_string(),
        };
        let json = serde_json::to_string(&split).unwrap();
        assert_eq!(
            json,
            r#"{"source":"data/x.parquet","method":"hash","test_fraction":"0.1","validation_fraction":"0","folds":5,"group":"user","salt":"s"}"#
        );
        assert_eq!(serde_json::from_str::<SplitSpec>(&json).unwrap(), split);
        #[derive(Serialize, Deserialize)]
        struct Splits {
            #[serde(default, skip_serializing_if = "Option::is_none")]
            split_spec: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            split: Option<SplitSpec>,
        }
        let old: Splits = serde_json::from_str(r#"{"split_spec": "ml_split('x')"}"#).unwrap();
        assert_eq!(old.split_spec.as_deref(), Some("ml_split('x')"));
        let old: Splits = serde_json::from_str(r#"{"split_spec": null}"#).unwrap();
        assert!(old.split_spec.is_none() && old.split.is_none());
        let none = Splits {
            split_spec: None,
            split: None,
        };
        assert_eq!(serde_json::to_string(&none).unwrap(), "{}");
    }
}
