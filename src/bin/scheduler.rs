//! The `scheduler` binary: parse flags, set up logging, run, map errors to
//! exit codes.
//!
//! Exit codes, as Go's: 0 after a graceful shutdown (or `--help`); 2 for a
//! flag or value that does not parse (pflag's `ExitOnError`); 1 for flags
//! that parse but cannot run (this build's refusals included) and for a
//! failed start-up, with one line saying why.

use std::process::ExitCode;

use daprd::logging::{self, LogConfig};
use daprd::scheduler::{self, flags};

fn main() -> ExitCode {
    let parsed = match flags::parse_from(std::env::args_os()) {
        Ok(f) => f,
        Err(e) => {
            // clap prints help to stdout (exit 0) and usage errors to stderr.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let opts = match flags::Options::from_flags(parsed) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("scheduler: {e}");
            return ExitCode::from(1);
        }
    };
    logging::init(&LogConfig {
        level: opts.log_level,
        json: opts.log_as_json,
        app_id: String::new(),
    });
    match scheduler::run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(target: "daprd::scheduler", fatal = true, "{e}");
            eprintln!("scheduler: {e}");
            ExitCode::from(1)
        }
    }
}
