//! Small helpers below every layer: [`block_on`] runs I/O from the
//! synchronous code DataFusion calls while planning.
//!
//! A table function is called synchronously while DataFusion plans the query,
//! but resolving a source needs I/O (listing files, reading footers, perhaps
//! from object storage). [`block_on`] runs that I/O without stalling the
//! runtime: on a multi-thread Tokio runtime (what `#[tokio::main]` gives, and
//! what embedding apps should use) the calling worker hands its other tasks
//! to the remaining workers while it waits; anywhere else (a current-thread
//! runtime, or none) the I/O runs on a helper thread with its own runtime.

use std::future::Future;

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs a future to completion from synchronous code inside or outside a
/// Tokio runtime (see the module docs).
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(future))
        }
        _ => std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a Tokio runtime for source resolution")
                        .block_on(future)
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }),
    }
}
