//! A server that closes every connection without responding.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::lock;

/// The maximum number of request head bytes the server reads before closing.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// A TCP server on `127.0.0.1` that reads each request head, records its request line and
/// closes the connection without sending a byte.
///
/// It runs as a task on the current tokio runtime and stops when the value is dropped.
pub struct ClosingServer {
    address: SocketAddr,
    request_lines: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl ClosingServer {
    /// Starts the server.
    ///
    /// # Panics
    ///
    /// Panics when no port can be bound on `127.0.0.1`.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port on 127.0.0.1");
        let address = listener
            .local_addr()
            .expect("a bound listener has an address");
        let request_lines = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&request_lines);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let line = read_request_line(stream).await;
                lock(&recorded).push(line);
            }
        });
        Self {
            address,
            request_lines,
            task,
        }
    }

    /// Returns the base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Returns the request line (`POST /sdk/token HTTP/1.1`) of every connection closed so far.
    pub fn request_lines(&self) -> Vec<String> {
        lock(&self.request_lines).clone()
    }
}

impl Drop for ClosingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads until the end of the request head, then drops the stream, which closes it.
async fn read_request_line(mut stream: TcpStream) -> String {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < MAX_HEAD_BYTES {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(read) => head.extend_from_slice(&chunk[..read]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    head.lines().next().unwrap_or_default().to_owned()
}
