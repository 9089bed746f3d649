//! `alter-dev`: runs DevVault as a standalone server.
//!
//! It prints shell `export` lines for the SDK's environment variables first, so they can be
//! pasted into another terminal, then logs to stderr until Ctrl-C.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool prints its setup lines and usage"
)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use alter::dev::{DEFAULT_SIGN_IN_USER, DevVault};
use tracing_subscriber::EnvFilter;

const DEFAULT_BIND: &str = "127.0.0.1:8787";

const USAGE: &str = "\
alter-dev: a local, in-memory Alter-compatible backend with a demo OAuth provider

Usage: alter-dev [--bind ADDR] [--auto-approve] [--sign-in-as NAME]

Options:
  --bind ADDR         address to listen on [default: 127.0.0.1:8787]; port 0 picks a free port
  --auto-approve      approve the demo provider's consent page and proxy approvals without a
                      click, so `curl -L <connect_url>` completes a connect flow, and complete
                      every new sign-in session at once as the --sign-in-as user
  --sign-in-as NAME   the user an auto-approved sign-in signs in [default: demo-user]
  -h, --help          print this help

Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=alter=debug) to change the level.";

#[derive(Debug)]
struct Options {
    bind: SocketAddr,
    auto_approve: bool,
    sign_in_as: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        bind: DEFAULT_BIND.parse().expect("the default address parses"),
        auto_approve: false,
        sign_in_as: DEFAULT_SIGN_IN_USER.to_owned(),
    };
    while let Some(arg) = args.next() {
        let (flag, inline_value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--auto-approve" if inline_value.is_none() => options.auto_approve = true,
            "--bind" => {
                let value = inline_value
                    .or_else(|| args.next())
                    .ok_or("--bind needs an address, e.g. --bind 127.0.0.1:8787")?;
                options.bind = value.parse().map_err(|_| {
                    format!(
                        "invalid --bind address {value:?}; expected IP:PORT, e.g. 127.0.0.1:8787"
                    )
                })?;
            }
            "--sign-in-as" => {
                options.sign_in_as = inline_value
                    .or_else(|| args.next())
                    .ok_or("--sign-in-as needs a user name, e.g. --sign-in-as alice")?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(options))
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("alter-dev: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("alter-dev: cannot start the Tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("alter-dev: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<(), alter::dev::StartError> {
    let dev = DevVault::builder()
        .bind(options.bind)
        .auto_approve(options.auto_approve)
        .sign_in_as(options.sign_in_as.as_str())
        .start()
        .await?;

    // The export lines come first on stdout, before any log line, so they can be copied as a
    // block. The dev key is printed on purpose: it is only valid for this process.
    let base_url = dev.base_url();
    println!("export ALTER_BASE_URL={base_url}");
    println!("export ALTER_API_KEY={}", dev.api_key().expose_secret());
    println!("export ALTER_DEMO_API_URL={}", dev.demo_api_url());
    println!("# Mint a user token (the user is created on first use):");
    println!("#   curl -s -X POST {base_url}/dev/users/alice/token");
    let _ = std::io::stdout().flush();

    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("alter=info")),
        )
        .init();
    tracing::info!(
        target: "alter::dev",
        %base_url,
        auto_approve = options.auto_approve,
        sign_in_as = %options.sign_in_as,
        "DevVault is listening; press Ctrl-C to stop"
    );

    wait_for_shutdown_signal().await;
    tracing::info!(target: "alter::dev", "shutting down");
    dev.shutdown().await;
    Ok(())
}

/// Waits for Ctrl-C, or on Unix also SIGTERM.
async fn wait_for_shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(target: "alter::dev", %error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(target: "alter::dev", %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>, String> {
        parse_args(args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn defaults() {
        let options = parse(&[]).unwrap().unwrap();
        assert_eq!(options.bind.to_string(), DEFAULT_BIND);
        assert!(!options.auto_approve);
        assert_eq!(options.sign_in_as, DEFAULT_SIGN_IN_USER);
    }

    #[test]
    fn sign_in_as_in_both_spellings() {
        let spaced = parse(&["--auto-approve", "--sign-in-as", "alice"])
            .unwrap()
            .unwrap();
        assert!(spaced.auto_approve);
        assert_eq!(spaced.sign_in_as, "alice");
        let inline = parse(&["--sign-in-as=bob"]).unwrap().unwrap();
        assert_eq!(inline.sign_in_as, "bob");
        assert!(
            parse(&["--sign-in-as"])
                .unwrap_err()
                .contains("needs a user name")
        );
    }

    #[test]
    fn bind_in_both_spellings() {
        let spaced = parse(&["--bind", "127.0.0.1:9000"]).unwrap().unwrap();
        assert_eq!(spaced.bind.port(), 9000);
        let inline = parse(&["--bind=[::1]:0", "--auto-approve"])
            .unwrap()
            .unwrap();
        assert!(inline.bind.is_ipv6());
        assert!(inline.auto_approve);
    }

    #[test]
    fn help_and_errors() {
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["-h"]).unwrap().is_none());
        assert!(parse(&["--bind"]).unwrap_err().contains("needs an address"));
        assert!(
            parse(&["--bind", "localhost"])
                .unwrap_err()
                .contains("invalid --bind")
        );
        assert!(
            parse(&["--verbose"])
                .unwrap_err()
                .contains("unknown argument")
        );
        assert!(
            parse(&["--auto-approve=yes"])
                .unwrap_err()
                .contains("unknown argument")
        );
    }
}
