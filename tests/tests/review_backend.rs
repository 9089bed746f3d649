//! Review findings about the vault's backend client: how much of a response it reads and which
//! base URL it sends requests to.

use std::time::Duration;

use alter::dev::DevVault;
use alter::{Error, Method, Vault};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const API_KEY: &str = "alter_rk_abcdefghijklmnopqrstuv_iwpykn";

/// Bytes of body the stand-in sends before it stalls: more than the vault reads.
const OVERSIZED_BYTES: usize = 9 * 1024 * 1024;

/// Starts a backend that responds to every request with `head` followed by `body`, then keeps
/// the connection open without finishing the response. Returns its base URL.
async fn stalling_backend(head: &'static str, body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let body = body.clone();
            tokio::spawn(answer_then_stall(stream, head, body));
        }
    });
    base_url
}

async fn answer_then_stall(mut stream: TcpStream, head: &str, body: Vec<u8>) {
    let mut request = Vec::new();
    let mut buffer = [0_u8; 4096];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => request.extend_from_slice(&buffer[..read]),
        }
    }
    if stream.write_all(head.as_bytes()).await.is_err() || stream.write_all(&body).await.is_err() {
        return;
    }
    // Holds the connection open, so only the client's own limit can end the read early.
    std::future::pending::<()>().await;
}

/// Encodes `length` bytes of JSON-looking filler as one HTTP/1.1 chunk, without the final
/// zero-length chunk.
fn one_chunk(length: usize) -> Vec<u8> {
    let mut chunk = format!("{length:x}\r\n").into_bytes();
    chunk.extend(std::iter::repeat_n(b' ', length));
    chunk.extend_from_slice(b"\r\n");
    chunk
}

fn vault(base_url: &str) -> Vault {
    Vault::builder(API_KEY)
        .base_url(base_url)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// Sends a credential request. The provider URL is never reached: the token fetch fails first.
async fn fetch_credential(vault: &Vault) -> Error {
    vault
        .request(Method::GET, "http://127.0.0.1:9/unreached")
        .provider("demo")
        .user_token("user-token")
        .send()
        .await
        .unwrap_err()
}

fn assert_body_too_large(error: &Error) {
    let message = error.to_string();
    assert!(
        matches!(error, Error::Network { .. }),
        "expected a network error, got {error:?}"
    );
    assert!(message.contains("longer than 8388608 bytes"), "{message}");
}

#[tokio::test]
async fn oversized_chunked_backend_body_is_cut_off() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                transfer-encoding: chunked\r\n\r\n";
    let base_url = stalling_backend(head, one_chunk(OVERSIZED_BYTES)).await;
    let error = fetch_credential(&vault(&base_url)).await;
    assert_body_too_large(&error);
}

#[tokio::test]
async fn oversized_declared_backend_body_is_rejected() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                content-length: 1073741824\r\n\r\n";
    let base_url = stalling_backend(head, b"{".to_vec()).await;
    let error = fetch_credential(&vault(&base_url)).await;
    assert_body_too_large(&error);
}

#[tokio::test]
async fn backend_error_body_is_cut_off_too() {
    let head = "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n\
                transfer-encoding: chunked\r\n\r\n";
    let base_url = stalling_backend(head, one_chunk(OVERSIZED_BYTES)).await;
    let error = fetch_credential(&vault(&base_url)).await;
    assert_body_too_large(&error);
}

#[tokio::test]
async fn base_url_is_used_as_validated() {
    let dev = DevVault::builder().start().await.unwrap();
    for spelled in [
        format!("{}\n", dev.base_url()),
        format!(" {}", dev.base_url()),
        dev.base_url().replace("http://", "HTTP://"),
        dev.base_url().replacen("127.0.0.1", "127.0.\t0.1", 1),
    ] {
        let vault = Vault::builder(dev.api_key().expose_secret())
            .base_url(&spelled)
            .build()
            .unwrap_or_else(|error| panic!("{spelled:?}: {error}"));
        assert_eq!(vault.base_url(), dev.base_url(), "{spelled:?}");
        let session = vault
            .create_connect_session()
            .user_token(dev.user_token("alice"))
            .send()
            .await;
        assert!(session.is_ok(), "{spelled:?}: {session:?}");
    }
    dev.shutdown().await;
}
