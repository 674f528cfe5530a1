//! The `daprd` binary: parse flags, set up logging, run, map errors to exit codes.
//!
//! Exit codes: 0 after a graceful shutdown (or `--version`, `--help`);
//! 1 for invalid flags or a failed start-up, with one line saying why.

use std::process::ExitCode;
use std::time::Duration;

use daprd::config::{flags, Options};
use daprd::runtime::{Driver, Tuning};

fn main() -> ExitCode {
    let flags = match flags::parse_from(std::env::args_os()) {
        Ok(f) => f,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let opts = match Options::from_flags(flags, &|k| std::env::var(k).ok()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("daprd: {e}");
            return ExitCode::from(1);
        }
    };
    if opts.print_version {
        println!("{}", daprd::api::metadata::RUNTIME_VERSION);
        return ExitCode::SUCCESS;
    }
    if opts.build_info {
        println!("Version: {}", daprd::api::metadata::RUNTIME_VERSION);
        println!("Implementation: daprd-rs {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if opts.wait {
        let ok = daprd::runtime::wait_for_sidecar(opts.http_port, Duration::from_secs(60));
        return if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }

    daprd::logging::init(&daprd::logging::LogConfig::from_options(&opts));
    let driver = match opts.io_driver.parse::<Driver>() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("daprd: invalid value for flag --io-driver: {e}");
            return ExitCode::from(1);
        }
    };
    let tuning = Tuning {
        driver,
        release_startup_pages: true,
        ..Tuning::default()
    };
    match daprd::runtime::run(opts, tuning) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("daprd: {e}");
            ExitCode::from(1)
        }
    }
}
