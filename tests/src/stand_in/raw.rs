//! A plain TCP server for failures an HTTP server library does not produce on request: closing
//! the connection without a response, or sending a response head and then no body.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::lock;

/// The maximum number of request head bytes the server reads before it acts.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The response head a stalling server sends. It promises a body that never comes.
const STALLED_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 64\r\n\r\n{\"partial\":";

/// What the server does after reading a request head.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// Closes the connection without sending a byte.
    Close,
    /// Sends [`STALLED_HEAD`] and keeps the connection open without sending the rest.
    StallBody,
}

/// A TCP server on `127.0.0.1` that reads each request head, records its request line and then
/// misbehaves: [`RawServer::closing`] closes the connection, [`RawServer::stalling_body`] sends
/// a response head and never the body.
///
/// It runs as a task on the current tokio runtime and stops when the value is dropped.
pub struct RawServer {
    address: SocketAddr,
    request_lines: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl RawServer {
    /// Starts a server that closes every connection without responding.
    pub async fn closing() -> Self {
        Self::start(Behaviour::Close).await
    }

    /// Starts a server that sends a `200` response head with `content-length: 64` and part of
    /// the body, then nothing more.
    pub async fn stalling_body() -> Self {
        Self::start(Behaviour::StallBody).await
    }

    /// Binds a port on `127.0.0.1` and starts accepting connections.
    ///
    /// # Panics
    ///
    /// Panics when no port can be bound.
    async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port on 127.0.0.1");
        let address = listener
            .local_addr()
            .expect("a bound listener has an address");
        let request_lines = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&request_lines);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let line = read_request_line(&mut stream).await;
                lock(&recorded).push(line);
                match behaviour {
                    Behaviour::Close => drop(stream),
                    Behaviour::StallBody => {
                        tokio::spawn(stall(stream));
                    }
                }
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

    /// Returns the request line (`POST /sdk/token HTTP/1.1`) of every connection so far.
    pub fn request_lines(&self) -> Vec<String> {
        lock(&self.request_lines).clone()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads until the end of the request head and returns its first line.
async fn read_request_line(stream: &mut TcpStream) -> String {
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

/// Sends [`STALLED_HEAD`], then keeps the stream open until the client closes it.
async fn stall(mut stream: TcpStream) {
    if stream.write_all(STALLED_HEAD).await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink).await, Ok(read) if read > 0) {}
}
