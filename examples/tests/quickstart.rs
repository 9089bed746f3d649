//! Runs the quickstart example binary, as a user would, and follows its printed instructions.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Returns the example binary cargo built beside this test: `target/<profile>/examples/quickstart`.
fn quickstart_binary() -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary has a path");
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in target/<profile>/deps");
    profile_dir.join("examples").join("quickstart")
}

/// A running quickstart that is stopped with Ctrl-C (SIGINT) when dropped.
struct Quickstart {
    child: Child,
    output: Vec<String>,
}

impl Quickstart {
    /// Starts the quickstart with its own in-process DevVault.
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the quickstart against the backend that `env` names, or its own DevVault when
    /// `env` sets no `ALTER_API_KEY`.
    fn start_with(env: &[(&str, String)]) -> Self {
        let binary = quickstart_binary();
        assert!(
            binary.exists(),
            "{} is missing; `cargo test` builds examples before running tests",
            binary.display()
        );
        let mut child = Command::new(binary)
            .args(["--bind", "127.0.0.1:0"])
            .env_remove("ALTER_API_KEY")
            .env_remove("ALTER_BASE_URL")
            .env_remove("ALTER_DEMO_API_URL")
            .envs(env.iter().map(|(name, value)| (name, value)))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the quickstart starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut output = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("the quickstart prints UTF-8");
            let done = line.starts_with("Press Ctrl-C");
            output.push(line);
            if done {
                break;
            }
        }
        Self { child, output }
    }

    fn app_url(&self) -> String {
        let first = &self.output[0];
        let start = first
            .find("http://")
            .expect("the first line names the app URL");
        first[start..].split(',').next().unwrap().to_owned()
    }

    fn token(&self) -> String {
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

    /// Runs the printed `export TOKEN=…` line in a shell and returns the token it sets.
    fn token_from_export_line(&self) -> String {
        let line = self
            .output
            .iter()
            .find(|l| l.trim_start().starts_with("export TOKEN="))
            .expect("a token line is printed");
        shell(&format!("{}; printf %s \"$TOKEN\"", line.trim()), "")
    }

    /// Returns the printed command that follows the line starting with `step`.
    fn command_after(&self, step: &str) -> String {
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

    fn interrupt(&mut self) -> std::process::ExitStatus {
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
        panic!("the quickstart did not stop after Ctrl-C");
    }
}

impl Drop for Quickstart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn shell(command: &str, token: &str) -> String {
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
fn require_tool(name: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "the printed commands use `{name}`; install it to run this test"
    );
}

#[test]
fn printed_commands_work_verbatim() {
    require_tool("curl");
    require_tool("sed");
    let mut quickstart = Quickstart::start();
    let token = quickstart.token();

    let connect = shell(&quickstart.command_after("2."), &token);
    let session: serde_json::Value = serde_json::from_str(&connect).unwrap();
    assert!(
        session["connect_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert!(!session["session_token"].as_str().unwrap().is_empty());

    let chat_before = shell(&quickstart.command_after("4."), &token);
    let error: serde_json::Value = serde_json::from_str(&chat_before).unwrap();
    assert_eq!(error["connect_required"], true, "{chat_before}");
    assert_eq!(error["provider"], "demo", "{chat_before}");

    shell(&quickstart.command_after("3."), &token);

    let chat = shell(&quickstart.command_after("4."), &token);
    let profile: serde_json::Value = serde_json::from_str(&chat).unwrap();
    assert_eq!(profile["user"], "alice", "{chat}");

    let status = quickstart.interrupt();
    assert!(
        status.success(),
        "the quickstart exits cleanly on Ctrl-C: {status}"
    );
}

#[test]
fn printed_commands_work_against_alter_dev() {
    require_tool("curl");
    require_tool("sed");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dev = runtime
        .block_on(alter::dev::DevVault::builder().auto_approve(true).start())
        .expect("DevVault starts");
    let mut quickstart = Quickstart::start_with(&[
        ("ALTER_API_KEY", dev.api_key().expose_secret().to_owned()),
        ("ALTER_BASE_URL", dev.base_url().to_owned()),
        ("ALTER_DEMO_API_URL", dev.demo_api_url()),
    ]);

    let token = quickstart.token_from_export_line();
    assert!(token.starts_with("eyJ"), "not a user token: {token:?}");
    shell(&quickstart.command_after("2."), &token);
    shell(&quickstart.command_after("3."), &token);
    let chat = shell(&quickstart.command_after("4."), &token);
    let profile: serde_json::Value = serde_json::from_str(&chat).unwrap();
    assert_eq!(profile["user"], "alice", "{chat}");

    let status = quickstart.interrupt();
    assert!(status.success(), "the quickstart exits cleanly: {status}");
    runtime.block_on(dev.shutdown());
}

#[test]
fn app_rejects_missing_bearer() {
    require_tool("curl");
    let quickstart = Quickstart::start();
    let url = format!("{}/chat", quickstart.app_url());
    let output = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            &url,
        ])
        .output()
        .expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "401");
}
