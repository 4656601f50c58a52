//! The `kezctl` binary: parse the command line, run the library on a small runtime, turn the
//! result into an exit code. Everything else lives in the library so tests reach it.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use kezctl::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "kezctl: error: cannot start: {e}");
            return ExitCode::from(kezctl::error::exit::FAILURE);
        }
    };
    match runtime.block_on(kezctl::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of stdout went away (`| head`): nothing more to say, and nowhere to say it.
        Err(error) if error.is_quiet() => ExitCode::from(error.exit_code()),
        Err(error) => {
            if json && !error.already_reported() {
                let value = serde_json::json!({"error": {
                    "kind": error.kind(),
                    "code": error.server_code(),
                    "message": error.to_string(),
                }});
                // Best effort: the exit code and stderr still report the failure.
                let _ = kezctl::output::line(value);
            }
            let _ = writeln!(std::io::stderr(), "kezctl: error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
