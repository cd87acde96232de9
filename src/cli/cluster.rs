//! The Ballista cluster processes (`mlfusion scheduler`, `mlfusion
//! executor`) and a client session that runs its queries on a cluster
//! (`--ballista df://host:port`).

use std::env;

use clap::Parser;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;

use super::args::{ExecutorArgs, SchedulerArgs};

#[cfg(feature = "ballista")]
pub(crate) async fn ballista_client(url: &str, ctx: SessionContext) -> Result<SessionContext> {
    mlfusion::ballista::remote(url, ctx.state()).await
}

#[cfg(not(feature = "ballista"))]
pub(crate) async fn ballista_client(_url: &str, _ctx: SessionContext) -> Result<SessionContext> {
    config_err!("--ballista: this mlfusion was built without the ballista feature")
}

/// Runs `mlfusion scheduler` (or, if not `scheduler`, `mlfusion executor`)
/// until the process is stopped. Logs at info level unless `RUST_LOG` says
/// otherwise.
#[cfg(feature = "ballista")]
pub(crate) async fn cluster_process(scheduler: bool) -> Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    // The subcommand is not one of its own flags.
    let args = env::args()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, a)| a);
    if scheduler {
        let args = SchedulerArgs::parse_from(args);
        mlfusion::ballista::run_scheduler(args.bind, args.external_host).await
    } else {
        let args = ExecutorArgs::parse_from(args);
        let (host, port) = args
            .scheduler
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
            .ok_or_else(|| {
                DataFusionError::Configuration(format!(
                    "--scheduler {}: expected host:port, e.g. 127.0.0.1:50050",
                    args.scheduler
                ))
            })?;
        mlfusion::ballista::run_executor(mlfusion::ballista::ExecutorOptions {
            scheduler_host: host,
            scheduler_port: port,
            bind: args.bind,
            grpc_port: args.grpc_port,
            external_host: args.external_host,
            work_dir: args.work_dir,
            concurrent_tasks: args.concurrent_tasks,
        })
        .await
    }
}

#[cfg(not(feature = "ballista"))]
pub(crate) async fn cluster_process(_scheduler: bool) -> Result<()> {
    config_err!("this mlfusion was built without the ballista feature: no scheduler or executor")
}
