//! The allocator: mimalloc, with freed memory kept 10 s before it goes back
//! to the OS (see [`keep_freed_memory`]).

use mimalloc::MiMalloc;

use super::args::Args;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// `mi_option_purge_delay`: its index in mimalloc 3's `mi_option_e`, which
/// libmimalloc-sys does not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Memory freed by a query stays with the process for 10 s before mimalloc
/// returns it to the OS, not 1 s. A query over a 5M-row Parquet file reads
/// about 250 MB into buffers that it frees as it goes; memory returned
/// between two queries comes back as fresh pages that the kernel zeroes
/// again on first touch: 2-5% of the wall time of back-to-back queries.
/// Not under `--memory-limit`: keeping memory raised the peak RSS of a
/// spilling `ml_split` by 10-15%. `MIMALLOC_PURGE_DELAY` still overrides this
/// default.
fn keep_freed_memory() {
    // SAFETY: sets one integer option; called before any other thread runs.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, 10_000) }
}

/// Keeps freed memory (see [`keep_freed_memory`]) unless `args` (those of
/// the SQL CLI; `None` for a cluster process) set a memory limit.
pub(crate) fn set_up_allocator(args: Option<&Args>) {
    if args.is_none_or(|args| args.memory_limit.is_none()) {
        keep_freed_memory();
    }
}

#[cfg(test)]
mod tests {
    use std::env;

    use clap::Parser;

    use super::*;

    const CHILD: &str = "MLFUSION_TEST_PURGE_DELAY_CHILD";

    /// Index 15 is the purge delay: mimalloc reads `MIMALLOC_PURGE_DELAY`
    /// into it when a process starts, so a copy of this test started with
    /// that variable finds it there, and `set_up_allocator` leaves it.
    #[test]
    fn purge_delay_is_10_s_without_a_memory_limit_and_the_environment_overrides_it() {
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        if env::var_os(CHILD).is_some() {
            assert_eq!(get(), 4321);
            set_up_allocator(None);
            assert_eq!(get(), 4321);
            return;
        }
        if env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            let mimallocs = get();
            assert_ne!(mimallocs, 10_000);
            let limited = Args::parse_from(["mlfusion", "--memory-limit", "256M"]);
            set_up_allocator(Some(&limited));
            assert_eq!(get(), mimallocs, "a memory limit keeps mimalloc's delay");
            set_up_allocator(Some(&Args::parse_from(["mlfusion"])));
            assert_eq!(get(), 10_000);
        }
        let exe = env::current_exe().expect("the test binary");
        let child = std::process::Command::new(exe)
            .args([
                "--exact",
                "alloc::tests::purge_delay_is_10_s_without_a_memory_limit_and_the_environment_overrides_it",
            ])
            .env(CHILD, "1")
            .env("MIMALLOC_PURGE_DELAY", "4321")
            .output()
            .expect("the test binary runs");
        let out = String::from_utf8_lossy(&child.stdout);
        assert!(child.status.success(), "{out}");
        assert!(out.contains("1 passed"), "{out}");
    }
}
