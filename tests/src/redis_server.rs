//! A `redis-server` child process on `127.0.0.1`, with nothing persisted to disk.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

/// How often, and how many times, [`RedisServer::start`] checks that the server replies.
const READY_POLL_INTERVAL: Duration = Duration::from_millis(20);
const READY_POLL_ATTEMPTS: u32 = 500;

/// A running `redis-server`; dropping it kills the process.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port and waits until it replies to `PING`.
    ///
    /// # Panics
    ///
    /// Panics when `redis-server` is not installed or does not start.
    pub fn start() -> Self {
        let port = free_port();
        let mut server = Self { port, child: None };
        server.start_again();
        server
    }

    /// Returns the `redis://` URL of the server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Returns the process id, while the server runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server and waits for the process to exit. Its data is lost.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty, and waits until it replies to `PING`.
    ///
    /// # Panics
    ///
    /// Panics when the server still runs, or does not start.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the redis server is still running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "start redis-server ({error}): install it with `apt-get install -y \
                     redis-server`"
                )
            });
        self.child = Some(child);
        self.wait_until_ready();
    }

    /// Opens a plain synchronous connection, for tests that inspect the raw keyspace.
    ///
    /// # Panics
    ///
    /// Panics when the server does not accept the connection.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("parse the redis URL")
            .get_connection()
            .expect("connect to the test redis server")
    }

    fn wait_until_ready(&mut self) {
        let client = redis::Client::open(self.url()).expect("parse the redis URL");
        for _ in 0..READY_POLL_ATTEMPTS {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("redis-server on port {} exited with {status}", self.port);
            }
            let replied = client
                .get_connection_with_timeout(Duration::from_secs(1))
                .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection));
            if replied.is_ok() {
                return;
            }
            sleep(READY_POLL_INTERVAL);
        }
        panic!("redis-server on port {} did not reply to PING", self.port);
    }
}

/// Lists every key in the database with a text dump of its value, read per type so that no
/// value is hidden by the compression of `DUMP`.
///
/// # Panics
///
/// Panics when a command fails or a key has a type the authorization store never writes.
pub fn dump_keyspace(connection: &mut redis::Connection) -> Vec<(String, String)> {
    use redis::Commands as _;

    let keys: Vec<String> = connection.keys("*").expect("list the keys");
    let mut entries = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query(connection)
            .expect("read the key's type");
        let value = match kind.as_str() {
            "string" => connection.get::<_, String>(&key).expect("read a string"),
            "hash" => format!(
                "{:?}",
                connection
                    .hgetall::<_, Vec<(String, String)>>(&key)
                    .expect("read a hash")
            ),
            "set" => format!(
                "{:?}",
                connection
                    .smembers::<_, Vec<String>>(&key)
                    .expect("read a set")
            ),
            "zset" => format!(
                "{:?}",
                connection
                    .zrange_withscores::<_, Vec<(String, f64)>>(&key, 0, -1)
                    .expect("read a sorted set")
            ),
            other => panic!("unexpected key type {other} for {key}"),
        };
        entries.push((key, value));
    }
    entries
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Asks the OS for a free loopback port. Another process could take it before redis-server
/// binds it, which then fails the start with a clear message.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("read the bound address")
        .port()
}
