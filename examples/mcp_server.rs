//! An MCP server whose tools call DevVault's demo provider for the user who made the call.
//!
//! ```sh
//! cargo run --example mcp_server                 # streamable HTTP on 127.0.0.1:8001/mcp
//! cargo run --example mcp_server -- --bind ADDR  # another address
//! cargo run --example mcp_server -- --stdio      # stdio, for clients that start the server
//! ```
//!
//! Over HTTP, without `ALTER_API_KEY`, it starts DevVault in process with consent pages that
//! approve without a click. With `ALTER_API_KEY` set (and `ALTER_BASE_URL` when the backend is
//! not the hosted one) it runs against that backend and calls the API at
//! `ALTER_DEMO_API_URL`. `alter-dev` prints all three.
//!
//! Over stdio the server needs those three, and `ALTER_USER_TOKEN`: every tool call acts for
//! that user. Logs go to stderr, because stdout carries the protocol.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line example that prints its instructions"
)]

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;

use alter::Vault;
use alter::dev::DevVault;
use alter::rmcp::ServiceExt as _;
use alter_examples::mcp_server::{DemoTools, router};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

const DEFAULT_BIND: &str = "127.0.0.1:8001";
const CALLER: &str = "mcp-example";
const USAGE: &str = "usage: mcp_server [--bind ADDR | --stdio]

  --bind ADDR   address of the MCP endpoint (default 127.0.0.1:8001; port 0 picks a free port)
  --stdio       serve on stdin and stdout for the user of ALTER_USER_TOKEN

Over HTTP without ALTER_API_KEY the server runs against an in-process DevVault. With
ALTER_API_KEY set it runs against ALTER_BASE_URL (default: the hosted backend) and calls
ALTER_DEMO_API_URL. --stdio always needs ALTER_API_KEY, ALTER_DEMO_API_URL and
ALTER_USER_TOKEN.";

/// How to serve the tools.
enum Mode {
    Http(SocketAddr),
    Stdio,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let mode = match parse_args(std::env::args().skip(1)) {
        Ok(Some(mode)) => mode,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let outcome = match mode {
        Mode::Http(bind) => serve_http(bind).await,
        Mode::Stdio => serve_stdio().await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Returns the mode, or `None` when help was asked for.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Mode>, String> {
    let mut mode = None;
    while let Some(arg) = args.next() {
        let next = match arg.as_str() {
            "--bind" => {
                let bind = args
                    .next()
                    .ok_or("--bind needs an address, e.g. 127.0.0.1:8001")?;
                let bind = bind
                    .parse()
                    .map_err(|e| format!("invalid --bind address `{bind}`: {e}"))?;
                Mode::Http(bind)
            }
            "--stdio" => Mode::Stdio,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument `{other}`")),
        };
        if mode.replace(next).is_some() {
            return Err("give one of --bind and --stdio, once".to_owned());
        }
    }
    match mode {
        Some(mode) => Ok(Some(mode)),
        None => DEFAULT_BIND
            .parse()
            .map(|bind| Some(Mode::Http(bind)))
            .map_err(|e| format!("invalid default address: {e}")),
    }
}

/// Reads an environment variable that the configuration needs.
fn required_env(name: &str, why: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set; {why}"))
}

async fn serve_http(bind: SocketAddr) -> Result<(), Box<dyn Error>> {
    let (vault, demo_api_url, dev) = match std::env::var("ALTER_API_KEY") {
        Ok(api_key) => {
            let demo_api_url = required_env(
                "ALTER_DEMO_API_URL",
                "with ALTER_API_KEY set, the tools call the API at ALTER_DEMO_API_URL \
                 (alter-dev prints it)",
            )?;
            let mut builder = Vault::builder(api_key).caller(CALLER);
            if let Ok(base_url) = std::env::var("ALTER_BASE_URL") {
                builder = builder.base_url(base_url);
            }
            (builder.build()?, demo_api_url, None)
        }
        Err(_) => {
            let dev = DevVault::builder().auto_approve(true).start().await?;
            let vault = Vault::builder(dev.api_key().expose_secret())
                .caller(CALLER)
                .base_url(dev.base_url())
                .build()?;
            (vault, dev.demo_api_url(), Some(dev))
        }
    };

    let listener = TcpListener::bind(bind).await?;
    let mcp_url = format!("http://{}/mcp", listener.local_addr()?);
    print_instructions(&mcp_url, vault.base_url(), dev.as_ref());

    let app = router(DemoTools::new(vault.clone(), &demo_api_url));
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;

    tracing::info!("stopping: sending pending audit rows");
    vault.flush().await;
    if let Some(dev) = dev {
        dev.shutdown().await;
    }
    Ok(())
}

async fn serve_stdio() -> Result<(), Box<dyn Error>> {
    let hint =
        "--stdio runs against a running backend; start `alter-dev` and export what it prints";
    let api_key = required_env("ALTER_API_KEY", hint)?;
    let demo_api_url = required_env("ALTER_DEMO_API_URL", hint)?;
    let user_token = required_env(
        "ALTER_USER_TOKEN",
        "--stdio acts for the user of ALTER_USER_TOKEN; set it to the user's bearer token",
    )?;
    let mut builder = Vault::builder(api_key).caller(CALLER);
    if let Ok(base_url) = std::env::var("ALTER_BASE_URL") {
        builder = builder.base_url(base_url);
    }
    let vault = builder.build()?;

    let tools = DemoTools::new(vault.clone(), &demo_api_url);
    let running = tools.serve(alter::mcp::stdio(user_token)).await?;
    tracing::info!("serving MCP on stdio");
    running.waiting().await?;
    vault.flush().await;
    Ok(())
}

fn print_instructions(mcp_url: &str, backend_url: &str, dev: Option<&DevVault>) {
    let call = |tool: &str, arguments: &str| {
        format!(
            "curl -s {mcp_url} -H \"Authorization: Bearer $TOKEN\" \
             -H 'Accept: application/json, text/event-stream' -H 'Content-Type: application/json' \
             -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{{\"name\":\"{tool}\",\"arguments\":{arguments}}}}}'"
        )
    };
    println!("alter MCP example: streamable HTTP on {mcp_url}, backend {backend_url}");
    println!();
    match dev {
        Some(dev) => {
            println!("1. Tools act for the user of the bearer token. A dev token for \"alice\":");
            println!("   export TOKEN='{}'", dev.user_token("alice"));
        }
        None => {
            println!("1. Tools act for the user of the bearer token:");
            println!("   export TOKEN='<user token>'");
        }
    }
    println!();
    println!(
        "2. Call a tool. Until the user connects the demo provider, the answer has a connect_url:"
    );
    println!("   {}", call("whoami", "{}"));
    println!();
    println!("3. Authorize the provider: open connect_url in a browser, or in one line:");
    println!(
        "   curl -sL \"$({} | sed -E 's/.*\"connect_url\":\"([^\"]*)\".*/\\1/')\" > /dev/null",
        call("whoami", "{}")
    );
    println!();
    println!("4. Call the tool again:");
    println!("   {}", call("whoami", "{}"));
    println!();
    println!("5. Posting needs the messages.write scope, so the first post answers with another");
    println!("   connect_url; authorize again as in step 3, then post again:");
    println!("   {}", call("post_message", "{\"text\":\"hello\"}"));
    println!();
    println!("MCP clients connect to {mcp_url} with the same bearer token.");
    println!("Press Ctrl-C to stop.");
}
