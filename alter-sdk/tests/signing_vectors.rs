//! Signing and API-key vectors recorded from the official Python client, asserted byte for byte.

use alter::protocol::api_key::{checksum, is_valid_key};
use alter::protocol::signing::{RequestToSign, SignedIdentity, SigningKey, content_sha256};
use serde_json::Value;

fn vectors() -> Value {
    let text = include_str!("data/protocol-vectors.json");
    serde_json::from_str(text).expect("the vectors file is valid JSON")
}

fn header<'a>(headers: &'a [Value], name: &str) -> Option<&'a str> {
    headers.iter().find_map(|pair| {
        let pair = pair.as_array()?;
        let key = pair[0].as_str()?;
        key.eq_ignore_ascii_case(name).then(|| pair[1].as_str())?
    })
}

#[test]
fn signing_key_derivation() {
    let vectors = vectors();
    let derivation = &vectors["signing_key_derivation"];
    let key = SigningKey::derive(derivation["api_key"].as_str().unwrap());
    assert_eq!(
        hex_of(key.as_bytes()),
        derivation["signing_key_hex"].as_str().unwrap()
    );

    let agent = SigningKey::derive(vectors["keys"]["agent_ak"].as_str().unwrap());
    assert_eq!(
        hex_of(agent.as_bytes()),
        "bf893972e24002fb8dc07b97fdb69e53b582ece3ba24f8a9e845d4950cccfed3"
    );
}

#[test]
fn api_key_cases() {
    let vectors = vectors();
    let cases = vectors["key_cases"].as_array().unwrap();
    assert_eq!(cases.len(), 19);
    for case in cases {
        let label = case["label"].as_str().unwrap();
        if let Some(body) = case["checksum_body"].as_str() {
            let (type_segment, random) = body.split_once(':').unwrap();
            let crc = crc32(body.as_bytes());
            assert_eq!(
                format!("{crc:08x}"),
                case["crc32_hex"].as_str().unwrap(),
                "{label}"
            );
            assert_eq!(
                checksum(type_segment, random),
                case["checksum"].as_str().unwrap(),
                "{label}"
            );
        } else {
            let key = case["key"].as_str().unwrap();
            let expected = case["is_valid_key"].as_bool().unwrap();
            assert_eq!(is_valid_key(key), expected, "{label}: {key:?}");
        }
    }
}

#[test]
fn canonicalization_table() {
    let vectors = vectors();
    let key = SigningKey::derive(vectors["keys"]["app_rk"].as_str().unwrap());
    let rows = vectors["canonicalization_table"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    for row in rows {
        let path = row["path"].as_str().unwrap();
        let body = row["body"].as_str().unwrap().as_bytes();
        let request = RequestToSign {
            method: row["method"].as_str().unwrap(),
            path_and_query: path,
            body,
            timestamp: 1_700_000_000,
            nonce: "00112233445566778899aabbccddeeff",
            scope_constraints: "",
            request_rule: "",
            identity: SignedIdentity::default(),
        };
        let strings = request.strings_to_sign(&content_sha256(body));
        assert_eq!(
            strings.legacy,
            row["string_to_sign"].as_str().unwrap(),
            "{path}"
        );
        assert_eq!(strings.v2, None, "{path}");
        let signature = key.sign_request(&request);
        let headers = &row["headers"];
        assert_eq!(signature.signature, headers["X-Alter-Signature"], "{path}");
        assert_eq!(
            signature.content_sha256, headers["X-Alter-Content-SHA256"],
            "{path}"
        );
        assert_eq!(signature.timestamp, headers["X-Alter-Timestamp"], "{path}");
    }
}

/// Rebuilds the signature of every recorded backend request from its headers and body.
#[test]
fn recorded_backend_requests() {
    let vectors = vectors();
    let mut checked = 0;
    for case in vectors["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let messages = case["hmac_messages"].as_array().unwrap();
        for request in case["requests"].as_array().unwrap() {
            let url = request["url"].as_str().unwrap();
            if !url.starts_with("https://backend.alterauth.com/") {
                continue;
            }
            let headers = request["headers"].as_array().unwrap();
            let api_key = header(headers, "x-api-key").unwrap();
            let body = request["body"].as_str().unwrap().as_bytes();
            let signed = RequestToSign {
                method: request["method"].as_str().unwrap(),
                path_and_query: request["raw_path"].as_str().unwrap(),
                body,
                timestamp: header(headers, "X-Alter-Timestamp")
                    .unwrap()
                    .parse()
                    .unwrap(),
                nonce: header(headers, "X-Alter-Nonce").unwrap(),
                scope_constraints: header(headers, "X-Alter-Scope-Constraints").unwrap_or(""),
                request_rule: header(headers, "X-Alter-Request-Rule").unwrap_or(""),
                identity: SignedIdentity {
                    caller: header(headers, "X-Alter-Caller"),
                    caller_type: header(headers, "X-Alter-Caller-Type"),
                    actor_id: header(headers, "X-Alter-Actor-ID"),
                    actor_context: header(headers, "X-Alter-Context"),
                },
            };
            let key = SigningKey::derive(api_key);
            let signature = key.sign_request(&signed);
            let context = format!("{name} {}", request["raw_path"]);

            assert_eq!(
                Some(signature.content_sha256.as_str()),
                header(headers, "X-Alter-Content-SHA256"),
                "{context}"
            );
            assert_eq!(
                Some(signature.signature.as_str()),
                header(headers, "X-Alter-Signature"),
                "{context}"
            );
            let v2_header = header(headers, "X-Alter-Signature-V2");
            assert_eq!(signature.v2, v2_header.is_some(), "{context}");
            if let Some(v2) = v2_header {
                assert_eq!(v2, signature.signature, "{context}");
            }

            let strings = signed.strings_to_sign(&signature.content_sha256);
            let recorded = messages
                .iter()
                .find(|m| m["hexdigest"] == signature.signature);
            let recorded = recorded.unwrap_or_else(|| panic!("{context}: digest not recorded"));
            assert_eq!(
                recorded["message"].as_str().unwrap(),
                strings.signed(),
                "{context}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 16, "every recorded backend request is checked");
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// CRC-32 (IEEE), written out so the test does not trust the implementation it checks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}
