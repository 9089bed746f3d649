//! `alter-bench`: the load generator and helper servers that `bench/run` drives.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool whose output is read by bench/run"
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use alter_bench::load::{self, FixedRequest, LoadOptions, RequestSource};
use alter_bench::setup::{self, SetupTarget};
use alter_bench::signed::TokenRequests;
use alter_bench::{floor, hold};
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri};
use serde_json::json;

const USAGE: &str = "usage: alter-bench COMMAND [OPTIONS]

Commands:
  setup       --backend URL --app URL --users N --tokens-out FILE --access-token-out FILE
              mint N dev users, connect the demo provider for each through the app's /connect,
              write their tokens (one a line) and the first user's demo access token
  load        --url URL [--method M] [--header 'NAME: VALUE']... [--body TEXT] [--tokens FILE]
              [--expect TEXT] --connections N --duration SECONDS [--warmup SECONDS]
              send requests over N keep-alive connections; print one JSON report. A response
              counts as an error unless its status is 2xx and its body contains TEXT
  load-token  --backend URL --tokens FILE --connections N --duration SECONDS [--warmup SECONDS]
              the same with signed POST /sdk/token requests to DevVault
  floor       --bind ADDR --access-token-file FILE
              serve POST /chat calling the demo API with a fixed token, without a vault
  hold        --url URL --tokens FILE --connections N --seconds SECONDS
              open N connections, send one POST each, keep them open for SECONDS

setup, load-token and floor read ALTER_API_KEY and ALTER_DEMO_API_URL, as alter-dev prints
them. Durations are in seconds and may have a fraction.";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(command) = args.next() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let options = match Options::parse(args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("alter-bench: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command.as_str() {
        "setup" => run_setup(&options).await,
        "load" => run_load(&options).await,
        "load-token" => run_load_token(&options).await,
        "floor" => run_floor(&options).await,
        "hold" => run_hold(&options).await,
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("alter-bench {command}: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run_setup(options: &Options) -> Result<(), String> {
    let target = SetupTarget {
        backend_url: options.required("backend")?.to_owned(),
        app_url: options.required("app")?.to_owned(),
    };
    let users = options.number("users")?;
    let tokens = setup::connect_users(&target, "bench-user-", users).await?;
    write_secret(options.required("tokens-out")?, &tokens.join("\n"))?;

    let requests = token_requests(&target.backend_url, tokens.clone())?;
    let access_token = setup::fetch_access_token(&requests, &tokens[0]).await?;
    write_secret(options.required("access-token-out")?, &access_token)?;
    println!("{}", json!({ "users": users }));
    Ok(())
}

async fn run_load(options: &Options) -> Result<(), String> {
    let (uri, target) = options.url()?;
    let method = match options.optional("method") {
        Some(method) => Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("invalid --method `{method}`"))?,
        None => Method::POST,
    };
    let mut headers = HeaderMap::new();
    for header in options.all("header") {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("invalid --header `{header}`; expected 'NAME: VALUE'"))?;
        let name = HeaderName::try_from(name.trim())
            .map_err(|_| format!("invalid header name in `{header}`"))?;
        let value = HeaderValue::try_from(value.trim())
            .map_err(|_| format!("invalid header value in `{header}`"))?;
        headers.append(name, value);
    }
    let body = Bytes::from(options.optional("body").unwrap_or_default().to_owned());
    let tokens = match options.optional("tokens") {
        Some(path) => read_tokens(path)?,
        None => Vec::new(),
    };
    let source = FixedRequest::new(method, uri, headers, body, &tokens)?;
    report_load(Arc::new(source), target, options).await
}

async fn run_load_token(options: &Options) -> Result<(), String> {
    let backend = options.required("backend")?;
    let tokens = read_tokens(options.required("tokens")?)?;
    let requests = token_requests(backend, tokens)?;
    let target = socket_address(
        &backend
            .parse()
            .map_err(|e| format!("invalid --backend: {e}"))?,
    )?;
    report_load(Arc::new(requests), target, options).await
}

async fn report_load(
    source: Arc<dyn RequestSource>,
    target: SocketAddr,
    options: &Options,
) -> Result<(), String> {
    let load_options = LoadOptions {
        connections: options.number("connections")?,
        warmup: options.seconds_or("warmup", Duration::from_secs(1))?,
        duration: options.seconds("duration")?,
    };
    let expected = options
        .optional("expect")
        .map(|text| Arc::from(text.as_bytes()));
    let report = load::run(source, target, load_options, expected).await;
    println!("{}", report.to_json());
    Ok(())
}

async fn run_floor(options: &Options) -> Result<(), String> {
    let bind: SocketAddr = options
        .required("bind")?
        .parse()
        .map_err(|e| format!("invalid --bind: {e}"))?;
    let access_token = std::fs::read_to_string(options.required("access-token-file")?)
        .map_err(|e| format!("failed to read --access-token-file: {e}"))?;
    let app = floor::router(&demo_api_url()?, access_token.trim())?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("failed to bind {bind}: {e}"))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("failed to read the bound address: {e}"))?;
    println!("floor on http://{address}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("the server failed: {e}"))
}

async fn run_hold(options: &Options) -> Result<(), String> {
    let (uri, target) = options.url()?;
    let tokens = read_tokens(options.required("tokens")?)?;
    let source = FixedRequest::new(Method::POST, uri, HeaderMap::new(), Bytes::new(), &tokens)?;
    let connections = options.number("connections")?;
    let (open, succeeded) = hold::open(Arc::new(source), target, connections).await?;
    println!(
        "{}",
        json!({ "connections": open.len(), "succeeded": succeeded })
    );
    tokio::time::sleep(options.seconds("seconds")?).await;
    drop(open);
    Ok(())
}

fn token_requests(backend_url: &str, tokens: Vec<String>) -> Result<TokenRequests, String> {
    let api_key = std::env::var("ALTER_API_KEY")
        .map_err(|_| "ALTER_API_KEY is not set; use the key alter-dev prints".to_owned())?;
    let provider_url = format!("{}/me", demo_api_url()?.trim_end_matches('/'));
    TokenRequests::new(backend_url, &api_key, "demo", &provider_url, tokens)
}

fn demo_api_url() -> Result<String, String> {
    std::env::var("ALTER_DEMO_API_URL")
        .map_err(|_| "ALTER_DEMO_API_URL is not set; use the URL alter-dev prints".to_owned())
}

fn read_tokens(path: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to read tokens from {path}: {e}"))?;
    let tokens: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if tokens.is_empty() {
        return Err(format!("{path} contains no tokens"));
    }
    Ok(tokens)
}

/// Writes `contents` to a file that only its owner can read.
fn write_secret(path: &str, contents: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("failed to create {path}: {e}"))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| format!("failed to write {path}: {e}"))
}

fn socket_address(uri: &Uri) -> Result<SocketAddr, String> {
    let host = uri.host().ok_or_else(|| format!("{uri} has no host"))?;
    let port = uri.port_u16().unwrap_or(80);
    format!("{host}:{port}")
        .parse()
        .map_err(|_| format!("{uri} must name an IP address such as 127.0.0.1, not `{host}`"))
}

/// Command-line options: `--name value` pairs, where a name may repeat.
struct Options(HashMap<String, Vec<String>>);

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        while let Some(arg) = args.next() {
            let name = arg
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument `{arg}`"))?;
            let value = args
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?;
            values.entry(name.to_owned()).or_default().push(value);
        }
        Ok(Self(values))
    }

    fn optional(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.last()).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.optional(name)
            .ok_or_else(|| format!("--{name} is missing"))
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0.get(name).into_iter().flatten().map(String::as_str)
    }

    fn number(&self, name: &str) -> Result<usize, String> {
        let raw = self.required(name)?;
        match raw.parse() {
            Ok(0) | Err(_) => Err(format!("--{name} must be a positive integer, got `{raw}`")),
            Ok(value) => Ok(value),
        }
    }

    fn seconds(&self, name: &str) -> Result<Duration, String> {
        let raw = self.required(name)?;
        raw.parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| format!("--{name} must be a number of seconds, got `{raw}`"))
    }

    fn seconds_or(&self, name: &str, default: Duration) -> Result<Duration, String> {
        match self.optional(name) {
            Some(_) => self.seconds(name),
            None => Ok(default),
        }
    }

    fn url(&self) -> Result<(Uri, SocketAddr), String> {
        let raw = self.required("url")?;
        let uri: Uri = raw
            .parse()
            .map_err(|e| format!("invalid --url `{raw}`: {e}"))?;
        let target = socket_address(&uri)?;
        Ok((uri, target))
    }
}
