//! A minimal signing client for DevVault, written against `alter::protocol::signing` so the
//! tests exercise DevVault's verifier independently of the SDK's vault client.

use std::time::{SystemTime, UNIX_EPOCH};

use alter::dev::DevVault;
use alter::protocol::signing::{
    self, ACTOR_ID_HEADER, CALLER_HEADER, CALLER_TYPE_HEADER, CONTENT_SHA256_HEADER,
    CONTEXT_HEADER, NONCE_HEADER, RequestToSign, SIGNATURE_HEADER, SIGNATURE_V2_HEADER, Signature,
    SignedIdentity, SigningKey, TIMESTAMP_HEADER,
};
use reqwest::redirect::Policy;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Starts a DevVault on a free loopback port.
pub(crate) async fn start(auto_approve: bool) -> DevVault {
    DevVault::builder()
        .auto_approve(auto_approve)
        .start()
        .await
        .expect("DevVault starts")
}

/// Returns the current Unix time in seconds.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One request to sign, with knobs to break each part of the signature.
#[derive(Clone, Debug)]
pub(crate) struct SignedRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) body: Vec<u8>,
    /// Bytes sent instead of `body`, which is what gets signed and hashed.
    pub(crate) sent_body: Option<Vec<u8>>,
    pub(crate) timestamp: u64,
    pub(crate) nonce: String,
    pub(crate) caller: Option<String>,
    pub(crate) caller_type: Option<String>,
    pub(crate) actor_id: Option<String>,
    pub(crate) context: Option<String>,
    /// Sends this `X-Alter-Signature` instead of the computed one.
    pub(crate) signature_override: Option<String>,
    /// Sends this `X-Alter-Content-SHA256` instead of the computed one.
    pub(crate) hash_override: Option<String>,
    /// Leaves out `X-Alter-Signature-V2` even when the v2 string was signed.
    pub(crate) omit_v2_header: bool,
    /// Leaves out this header entirely.
    pub(crate) omit_header: Option<&'static str>,
}

impl SignedRequest {
    pub(crate) fn new(method: Method, path: &str, body: Vec<u8>) -> Self {
        Self {
            method,
            path: path.to_owned(),
            body,
            sent_body: None,
            timestamp: now(),
            nonce: signing::new_nonce(),
            caller: None,
            caller_type: None,
            actor_id: None,
            context: None,
            signature_override: None,
            hash_override: None,
            omit_v2_header: false,
            omit_header: None,
        }
    }

    pub(crate) fn post_json(path: &str, body: &Value) -> Self {
        Self::new(Method::POST, path, serde_json::to_vec(body).unwrap())
    }
}

/// Signs and sends requests with one API key.
#[derive(Clone)]
pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: String,
    pub(crate) api_key: String,
    signing_key: SigningKey,
}

impl Client {
    pub(crate) fn new(dev: &DevVault) -> Self {
        Self::with_key(dev.base_url(), dev.api_key().expose_secret())
    }

    pub(crate) fn with_key(base_url: &str, api_key: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            base_url: base_url.to_owned(),
            api_key: api_key.to_owned(),
            signing_key: SigningKey::derive(api_key),
        }
    }

    /// Computes the signature headers of `request`.
    pub(crate) fn sign(&self, request: &SignedRequest) -> Signature {
        let identity = SignedIdentity {
            caller: request.caller.as_deref(),
            caller_type: request.caller_type.as_deref(),
            actor_id: request.actor_id.as_deref(),
            actor_context: request.context.as_deref(),
        };
        self.signing_key.sign_request(&RequestToSign {
            method: request.method.as_str(),
            path_and_query: &request.path,
            body: &request.body,
            timestamp: request.timestamp,
            nonce: &request.nonce,
            scope_constraints: "",
            request_rule: "",
            identity,
        })
    }

    /// Signs `request` and sends it.
    pub(crate) async fn send(&self, request: SignedRequest) -> reqwest::Response {
        let signature = self.sign(&request);
        let signature_value = request
            .signature_override
            .clone()
            .unwrap_or(signature.signature.clone());
        let mut headers: Vec<(&str, String)> = vec![
            ("x-api-key", self.api_key.clone()),
            (TIMESTAMP_HEADER, signature.timestamp.clone()),
            (NONCE_HEADER, signature.nonce.clone()),
            (
                CONTENT_SHA256_HEADER,
                request
                    .hash_override
                    .clone()
                    .unwrap_or(signature.content_sha256.clone()),
            ),
            (SIGNATURE_HEADER, signature_value.clone()),
            ("content-type", "application/json".to_owned()),
        ];
        if signature.v2 && !request.omit_v2_header {
            headers.push((SIGNATURE_V2_HEADER, signature_value));
        }
        let identity_headers = [
            (CALLER_HEADER, &request.caller),
            (CALLER_TYPE_HEADER, &request.caller_type),
            (ACTOR_ID_HEADER, &request.actor_id),
            (CONTEXT_HEADER, &request.context),
        ];
        for (name, value) in identity_headers {
            if let Some(value) = value {
                headers.push((name, value.clone()));
            }
        }

        let mut builder = self.http.request(
            request.method.clone(),
            format!("{}{}", self.base_url, request.path),
        );
        for (name, value) in headers {
            if Some(name) != request.omit_header {
                builder = builder.header(name, value);
            }
        }
        builder
            .body(request.sent_body.unwrap_or(request.body))
            .send()
            .await
            .expect("DevVault answers")
    }

    /// Signs and sends a JSON POST.
    pub(crate) async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.send(SignedRequest::post_json(path, body)).await
    }

    /// Sends `POST /sdk/token` and returns the status and body.
    pub(crate) async fn token(&self, body: &Value) -> (StatusCode, Value) {
        json_of(self.post("/sdk/token", body).await).await
    }

    /// Creates a connect session for `user_token`, with `extra` merged into the body.
    pub(crate) async fn create_session(&self, user_token: &str, extra: Value) -> Value {
        let mut body = json!({
            "allowed_providers": ["demo"],
            "return_url": null,
            "allowed_origin": null,
            "metadata": null,
            "user_token": user_token,
        });
        if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        let (status, session) = json_of(self.post("/sdk/oauth/connect/session", &body).await).await;
        assert_eq!(status, StatusCode::OK, "session creation failed: {session}");
        session
    }

    /// Polls a connect session once.
    pub(crate) async fn poll(&self, session_token: &str) -> Value {
        let response = self
            .post(
                "/sdk/oauth/connect/session/poll",
                &json!({"session_token": session_token}),
            )
            .await;
        let (status, body) = json_of(response).await;
        assert_eq!(status, StatusCode::OK, "poll failed: {body}");
        body
    }

    /// Runs a whole connect flow headlessly (DevVault must auto-approve) and returns the
    /// completed poll answer's first grant.
    pub(crate) async fn connect(&self, user_token: &str, extra: Value) -> Value {
        let session = self.create_session(user_token, extra).await;
        let page = follow(session["connect_url"].as_str().unwrap()).await;
        assert_eq!(
            page.status(),
            StatusCode::OK,
            "connect flow ended on {}",
            page.url()
        );
        let poll = self.poll(session["session_token"].as_str().unwrap()).await;
        assert_eq!(poll["status"], "completed", "{poll}");
        poll["grants"][0].clone()
    }

    /// Retrieves the demo access token of `user_token`'s grant.
    pub(crate) async fn demo_token(&self, user_token: &str) -> Value {
        let (status, body) = self
            .token(&json!({
                "provider_id": "demo",
                "reason": null,
                "request": {"method": "GET", "url": "http://127.0.0.1/demo/api/me"},
                "user_token": user_token,
            }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

/// Fetches `url` following redirects, like `curl -L`.
pub(crate) async fn follow(url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .send()
        .await
        .expect("DevVault answers")
}

/// Calls the demo API with the token response's injection header.
pub(crate) async fn demo_call(
    method: Method,
    url: &str,
    token_response: &Value,
    body: Option<Value>,
) -> reqwest::Response {
    let header = token_response["injection_header"].as_str().unwrap();
    let value = token_response["injection_format"]
        .as_str()
        .unwrap()
        .replacen(
            "{token}",
            token_response["access_token"].as_str().unwrap(),
            1,
        );
    let mut request = reqwest::Client::new()
        .request(method, url)
        .header(header, value);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("demo API answers")
}

/// Returns the status and JSON body of a response.
pub(crate) async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("HTTP {status} answered non-JSON: {text}"));
    (status, body)
}

/// Asserts the response is a protocol error with `status` and `code`, and returns its body.
pub(crate) async fn expect_error(
    response: reqwest::Response,
    status: StatusCode,
    code: &str,
) -> Value {
    let (actual, body) = json_of(response).await;
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["error"], code, "{body}");
    let message = body["message"].as_str().unwrap_or("");
    assert!(!message.is_empty(), "error without a message: {body}");
    body
}

/// Returns whether `text` is a canonical lower-case hyphenated UUID.
pub(crate) fn is_canonical_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
    lengths == [8, 4, 4, 4, 12]
        && text
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
