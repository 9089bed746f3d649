//! The quickstart: DevVault, its demo provider and one axum app with REST routes and an
//! OAuth-protected MCP endpoint, with the commands to try them.
//!
//! ```sh
//! cargo run --example quickstart                 # app on 127.0.0.1:8000, MCP at /mcp
//! cargo run --example quickstart -- --bind ADDR  # another address
//! ```
//!
//! Without `ALTER_API_KEY` it starts DevVault in process, with consent pages that approve
//! without a click so that `curl -L` completes the connect flow. Signing in to the MCP
//! endpoint still shows DevVault's sign-in page, where the user picks a name, unless
//! `ALTER_DEV_AUTO_APPROVE=1` is set: then every sign-in completes at once as `alice`, so MCP
//! clients need no browser. With `ALTER_API_KEY` set (and `ALTER_BASE_URL` when the backend is
//! not the hosted one), the app runs against that backend and calls the API at
//! `ALTER_DEMO_API_URL`. `alter-dev` prints all three.
//!
//! The authorization server keeps clients and tokens in memory unless `REDIS_URL` is set: then
//! they live in that Redis, with user tokens encrypted under the base64 key in
//! `ALTER_MCP_AUTH_KEY` (`openssl rand -base64 32`), so several replicas can share them.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line example that prints its instructions"
)]

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;

use alter::axum::AlterAxum;
use alter::dev::DevVault;
use alter_examples::quickstart::{
    AppState, MCP_PATH, REDIS_URL_ENV, app, mcp_auth_builder, redis_store_from_env,
};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

const DEFAULT_BIND: &str = "127.0.0.1:8000";
/// The dev user that the REST commands act for, and that an auto-approved sign-in signs in.
const DEV_USER: &str = "alice";
const USAGE: &str = "usage: quickstart [--bind ADDR]

  --bind ADDR   address of the app (default 127.0.0.1:8000; port 0 picks a free port)

Without ALTER_API_KEY the app runs against an in-process DevVault; ALTER_DEV_AUTO_APPROVE=1
makes its sign-ins complete at once as alice, so MCP clients need no browser. With
ALTER_API_KEY set it runs against ALTER_BASE_URL (default: the hosted backend) and calls
ALTER_DEMO_API_URL.";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let bind = match parse_args(std::env::args().skip(1)) {
        Ok(Some(bind)) => bind,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(bind).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Returns the bind address, or `None` when help was asked for.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<SocketAddr>, String> {
    let mut bind = DEFAULT_BIND.to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => {
                bind = args
                    .next()
                    .ok_or("--bind needs an address, e.g. 127.0.0.1:8000")?
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    bind.parse()
        .map(Some)
        .map_err(|e| format!("invalid --bind address `{bind}`: {e}"))
}

async fn run(bind: SocketAddr) -> Result<(), Box<dyn Error>> {
    // Consent pages always approve without a click, so the printed `curl -L` completes a
    // connect flow. Sign-ins complete at once only when asked, because they decide who an MCP
    // client acts for.
    let auto_sign_in = std::env::var("ALTER_DEV_AUTO_APPROVE").is_ok_and(|v| v == "1");
    let (alter, demo_api_url, dev) = match std::env::var("ALTER_API_KEY") {
        Ok(api_key) => {
            let demo_api_url = std::env::var("ALTER_DEMO_API_URL").map_err(|_| {
                "ALTER_DEMO_API_URL is not set; with ALTER_API_KEY set, the quickstart calls the \
                 API at ALTER_DEMO_API_URL (alter-dev prints it)"
            })?;
            let alter = AlterAxum::new(api_key).caller("quickstart").build()?;
            (alter, demo_api_url, None)
        }
        Err(_) => {
            let dev = DevVault::builder()
                .auto_approve(true)
                .auto_approve_sign_in(auto_sign_in)
                .sign_in_as(DEV_USER)
                .start()
                .await?;
            let alter = AlterAxum::new(dev.api_key().expose_secret())
                .caller("quickstart")
                .base_url(dev.base_url())
                .build()?;
            (alter, dev.demo_api_url(), Some(dev))
        }
    };

    let listener = TcpListener::bind(bind).await?;
    let app_url = format!("http://{}", listener.local_addr()?);
    let mut auth = mcp_auth_builder(&alter, &format!("{app_url}{MCP_PATH}"));
    match redis_store_from_env().await? {
        Some(store) => {
            tracing::info!(
                prefix = store.prefix(),
                "the MCP authorization server stores its state in redis"
            );
            auth = auth.store(store);
        }
        None => tracing::debug!(
            "the MCP authorization server stores its state in memory; set {REDIS_URL_ENV} to share it"
        ),
    }
    let auth = auth.build()?;
    print_instructions(
        &app_url,
        alter.vault().base_url(),
        dev.as_ref(),
        auto_sign_in,
    );

    let app = app(
        AppState {
            alter: alter.clone(),
            demo_api_url,
        },
        &auth,
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;

    tracing::info!("stopping: sending pending audit rows");
    alter.shutdown().await;
    if let Some(dev) = dev {
        dev.shutdown().await;
    }
    Ok(())
}

fn print_instructions(
    app_url: &str,
    backend_url: &str,
    dev: Option<&DevVault>,
    auto_sign_in: bool,
) {
    println!("alter quickstart: app on {app_url}, backend {backend_url}");
    println!();
    match dev {
        Some(dev) => {
            println!("1. A dev user token for \"{DEV_USER}\" (DevVault mints one for any name:");
            println!(
                "   curl -s -X POST {}/dev/users/bob/token):",
                dev.base_url()
            );
            println!("   export TOKEN='{}'", dev.user_token(DEV_USER));
        }
        None => {
            println!("1. Use a signed-in user's bearer token from your identity provider.");
            println!("   With alter-dev as the backend, mint one for \"alice\":");
            println!(
                "   export TOKEN=\"$(curl -s -X POST {backend_url}/dev/users/alice/token | sed -E 's/.*\"user_token\":\"([^\"]*)\".*/\\1/')\""
            );
        }
    }
    println!();
    println!("2. Create a connect session for the demo provider:");
    println!("   curl -s -H \"Authorization: Bearer $TOKEN\" {app_url}/connect");
    println!();
    if dev.is_some() {
        println!("3. Authorize the provider: open connect_url in a browser, or in one line:");
    } else {
        println!("3. Authorize the provider: open connect_url in a browser. When the consent page");
        println!("   approves without a click (alter-dev --auto-approve), one line does it:");
    }
    println!(
        "   curl -sL \"$(curl -s -H \"Authorization: Bearer $TOKEN\" {app_url}/connect | sed -E 's/.*\"connect_url\":\"([^\"]*)\".*/\\1/')\""
    );
    println!();
    println!("4. Call the provider's API through the vault:");
    println!("   curl -s -X POST -H \"Authorization: Bearer $TOKEN\" {app_url}/chat");
    println!();
    println!("5. Point an MCP client at {app_url}{MCP_PATH}. It finds the authorization server in");
    println!("   the protected resource metadata, registers itself and signs you in:");
    println!("   curl -s {app_url}/.well-known/oauth-protected-resource{MCP_PATH}");
    match dev {
        Some(_) if auto_sign_in => {
            println!("   ALTER_DEV_AUTO_APPROVE=1 is set, so every MCP client is signed in as");
            println!("   {DEV_USER} at once, with no sign-in page and no browser.");
        }
        Some(_) => {
            println!(
                "   The sign-in page asks for a user name: enter {DEV_USER} to use the grant above."
            );
            println!(
                "   Start the quickstart with ALTER_DEV_AUTO_APPROVE=1 to sign every MCP client"
            );
            println!("   in as {DEV_USER} at once, so that clients need no browser.");
        }
        None => {}
    }
    println!();
    println!("Press Ctrl-C to stop.");
}
