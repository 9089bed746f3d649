//! Helpers shared by the tests that run the example binaries.
#![allow(
    dead_code,
    reason = "each test binary that includes this module uses a different subset of it"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Returns the path of the example binary that cargo built beside this test:
/// `target/<profile>/examples/<name>`.
pub(crate) fn example_binary(name: &str) -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary has a path");
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in target/<profile>/deps");
    profile_dir.join("examples").join(name)
}

/// A running example binary, stopped when dropped.
pub(crate) struct Example {
    child: Child,
    output: Vec<String>,
}

impl Example {
    /// Starts the example `name` on a free port with its own DevVault and reads its
    /// instructions, up to the line `Press Ctrl-C`.
    pub(crate) fn start(name: &str) -> Self {
        Self::start_with(name, &[])
    }

    /// Starts the example `name` against the backend that `env` names, or its own DevVault when
    /// `env` sets no `ALTER_API_KEY`.
    pub(crate) fn start_with(name: &str, env: &[(&str, String)]) -> Self {
        Self::start_on(name, "127.0.0.1:0", env)
    }

    /// Starts the example `name` as [`Example::start_with`] does, listening on `bind`.
    pub(crate) fn start_on(name: &str, bind: &str, env: &[(&str, String)]) -> Self {
        let binary = example_binary(name);
        assert!(
            binary.exists(),
            "{} is missing; `cargo test` builds examples before running tests",
            binary.display()
        );
        let mut child = Command::new(binary)
            .args(["--bind", bind])
            .env_remove("ALTER_API_KEY")
            .env_remove("ALTER_BASE_URL")
            .env_remove("ALTER_DEMO_API_URL")
            .env_remove("REDIS_URL")
            .env_remove("ALTER_MCP_AUTH_KEY")
            .envs(env.iter().map(|(name, value)| (name, value)))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("the example {name} starts: {error}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut output = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("the example prints UTF-8");
            let done = line.starts_with("Press Ctrl-C");
            output.push(line);
            if done {
                break;
            }
        }
        Self { child, output }
    }

    /// Runs the printed `export TOKEN=…` line in a shell and returns the token it sets.
    pub(crate) fn token_from_export_line(&self) -> String {
        let line = self
            .output
            .iter()
            .find(|l| l.trim_start().starts_with("export TOKEN="))
            .expect("a token line is printed");
        shell(&format!("{}; printf %s \"$TOKEN\"", line.trim()), "")
    }

    /// Returns the first URL of the first line, where the examples name their endpoint.
    pub(crate) fn app_url(&self) -> String {
        let first = &self.output[0];
        let start = first
            .find("http://")
            .expect("the first line names the app URL");
        first[start..].split(',').next().unwrap().to_owned()
    }

    /// Returns the user token of the printed `export TOKEN='…'` line.
    pub(crate) fn token(&self) -> String {
        let line = self
            .output
            .iter()
            .find(|l| l.trim_start().starts_with("export TOKEN="))
            .expect("a token line is printed");
        line.trim()
            .trim_start_matches("export TOKEN='")
            .trim_end_matches('\'')
            .to_owned()
    }

    /// Returns the printed command that follows the line starting with `step`.
    pub(crate) fn command_after(&self, step: &str) -> String {
        let index = self
            .output
            .iter()
            .position(|l| l.starts_with(step))
            .unwrap_or_else(|| panic!("no step {step:?} in {:#?}", self.output));
        self.output[index + 1..]
            .iter()
            .find(|l| l.trim_start().starts_with("curl "))
            .expect("a curl command follows the step")
            .trim()
            .to_owned()
    }

    /// Sends Ctrl-C (SIGINT) and waits up to ten seconds for the example to exit.
    pub(crate) fn interrupt(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().expect("the child can be waited for") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the example did not stop after Ctrl-C");
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `command` with `sh -c` and `$TOKEN` set, and returns its standard output.
pub(crate) fn shell(command: &str, token: &str) -> String {
    let output = Command::new("sh")
        .args(["-c", command])
        .env("TOKEN", token)
        .output()
        .expect("sh runs");
    assert!(
        output.status.success(),
        "`{command}` failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("curl prints UTF-8")
}

/// Fails the test with an install hint when `name` is not on the `PATH`.
pub(crate) fn require_tool(name: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "the printed commands use `{name}`; install it to run this test"
    );
}

/// Returns a loopback port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().unwrap().port()
}

/// A `redis-server` on a free loopback port that keeps nothing on disk, killed when dropped.
pub(crate) struct RedisProcess {
    child: Child,
    port: u16,
}

impl RedisProcess {
    /// Starts `redis-server` and waits until it replies to `PING`.
    pub(crate) fn start() -> Self {
        require_tool("redis-server");
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = Self { child, port };
        for _ in 0..250 {
            if server.replies_to_ping() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not reply to PING on port {port}");
    }

    /// Returns the `redis://` URL of the server.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn replies_to_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut reply = [0_u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
