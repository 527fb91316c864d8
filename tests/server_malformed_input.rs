//! Malformed input never panics the server: each gets its status, nothing is stored, and the
//! server keeps serving.

mod http;

use http::{TestServer, raw_status};
use serde_json::json;

fn request(server: &TestServer, method: &str, path: &str, key: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr,
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

#[test]
fn bad_bodies_get_their_status_and_store_nothing() {
    let server = TestServer::start();
    let key = server.acme.clone();
    let cases: Vec<(&[u8], u16)> = vec![
        (b"{not json", 400),
        (b"", 400),
        (b"{\"content\": \"x\"", 400),
        (b"\xff\xfe{\"content\": \"x\"}", 400),
        (b"{\"content\": \"\xc3\x28\"}", 400),
        (b"[1, 2]", 422),
        (b"\"just a string\"", 422),
        (b"null", 422),
        (b"{\"content\": 1e999}", 400),
        (
            b"{\"content\": \"x\", \"importance_score\": 123456789012345678901234567890}",
            200,
        ),
        (b"{\"content\": \"y\", \"importance_score\": \"9\"}", 422),
        (
            b"{\"content\": \"z\", \"valid_from\": \"2026-02-30T00:00:00Z\"}",
            422,
        ),
        (b"{\"content\": \"z\", \"recorded_at\": 1700000000}", 422),
        // Instants no client can read back (Python's datetime stops at years 1 and 9999).
        (
            b"{\"content\": \"z\", \"valid_from\": \"0000-06-01T00:00:00Z\"}",
            422,
        ),
        (
            b"{\"content\": \"z\", \"recorded_at\": \"0001-01-01T00:30:00+01:00\"}",
            422,
        ),
    ];
    for (body, expected) in cases {
        let resp = server.post_raw(
            "/agent/memories",
            &key,
            std::str::from_utf8(body).unwrap_or("\u{fffd}"),
        );
        if std::str::from_utf8(body).is_ok() {
            assert_eq!(
                resp.status,
                expected,
                "{:?}: {}",
                String::from_utf8_lossy(body),
                resp.text
            );
            if expected != 200 {
                let detail = &resp.body["detail"];
                assert!(detail.is_string() || detail.is_array(), "{}", resp.text);
            }
        }
        // The same bytes on a raw connection (invalid UTF-8 included).
        let raw = server.raw(&request(&server, "POST", "/agent/memories", &key, body));
        assert_eq!(
            raw_status(&raw),
            expected,
            "{:?}: {raw}",
            String::from_utf8_lossy(body)
        );
    }
    let year_zero = server.post_raw(
        "/agent/memories",
        &key,
        r#"{"content": "z", "valid_from": "0000-06-01T00:00:00Z"}"#,
    );
    assert_eq!(
        year_zero.body["detail"][0]["msg"], "datetime must be within the years 0001-9999 (UTC)",
        "{}",
        year_zero.text
    );
    let list = server.get("/agent/memories?as_of=0000-12-31T00:00:00Z", &key);
    assert_eq!(list.status, 422, "{}", list.text);
    // The last instant of 9999 is fine.
    let list = server.get("/agent/memories?as_of=9999-12-31T23:59:59Z", &key);
    assert_eq!(list.status, 200, "{}", list.text);
    // Only the valid write is stored (its raw repeat was suppressed as a duplicate).
    let list = server.get("/agent/memories?include_superseded=true", &key);
    assert_eq!(list.body["count"], 1, "{}", list.text);
    assert_eq!(list.body["memories"][0]["importance_score"], 10);
}

#[test]
fn oversized_and_truncated_bodies() {
    let server = TestServer::start();
    let key = server.acme.clone();
    let huge = format!("{{\"content\": \"{}\"}}", "a".repeat(1024 * 1024 + 10));
    let resp = server.post_raw("/agent/memories", &key, &huge);
    assert_eq!(resp.status, 413);
    assert!(resp.body["detail"].as_str().unwrap().contains("too large"));

    // A body that declares more bytes than it sends, then the client half-closes.
    let mut truncated = format!(
        "POST /agent/memories HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: 100\r\n\r\n"
    )
    .into_bytes();
    truncated.extend_from_slice(b"{\"content\": \"cut");
    let raw = server.raw_then_close(&truncated);
    assert!(raw.is_empty() || raw_status(&raw) == 400, "{raw}");

    // Chunked body over the limit is refused while streaming.
    let mut chunked = format!(
        "POST /agent/memories HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..20 {
        chunked.extend_from_slice(format!("{:x}\r\n", 65536).as_bytes());
        chunked.extend(std::iter::repeat_n(b' ', 65536));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw_status(&server.raw(&chunked)), 413);

    // Garbage that is not HTTP at all.
    let _ = server.raw_then_close(b"\x00\x01\x02 GARBAGE\r\n\r\n");
    let health = server.get_anonymous("/health");
    assert_eq!(health.status, 200);
    assert_eq!(server.get("/agent/memories", &key).body["count"], 0);
}

#[test]
fn bad_paths_queries_and_headers() {
    let server = TestServer::start();
    let key = server.acme.clone();
    let id = server.write(&key, json!({"content": "x"}));
    for path in [
        "/memories/not-a-uuid/timeline".to_owned(),
        "/memories/%ZZ/audit".to_owned(),
        format!("/memories/{id}x/audit"),
        "/agent/memories?limit=99999999999999999999999".to_owned(),
        "/agent/memories?as_of=%FF%FE".to_owned(),
        "/agent/memories?transaction_as_of=".to_owned(),
    ] {
        let resp = server.get(&path, &key);
        assert_eq!(resp.status, 422, "{path}: {}", resp.text);
    }
    // Repeated and unknown parameters are fine.
    assert_eq!(
        server
            .get("/agent/memories?limit=5&limit=6&foo=bar", &key)
            .status,
        200
    );
    // A non-UTF-8 authorization header is "not authenticated".
    let mut bad_header = b"GET /agent/memories HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n".to_vec();
    assert_eq!(raw_status(&server.raw(&bad_header)), 401);
    bad_header.clear();
    let wrong_method = server.raw(format!("PUT /agent/memories HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n").as_bytes());
    assert_eq!(raw_status(&wrong_method), 405);
    assert_eq!(server.get_anonymous("/health").status, 200);
}

/// Reads one response (status line, headers, a `Content-Length` body) from a keep-alive
/// connection; `None` when the server closed it first.
fn read_response(conn: &mut std::net::TcpStream) -> Option<(u16, String)> {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).ok()?;
    Some((raw_status(&head), head))
}

/// A request refused before its body was needed (no key, unknown path, an endpoint that
/// takes no body) must not leave the connection to be closed silently: a keep-alive client
/// (the SDK's `requests` session) reuses it at once, and its next request would be lost.
#[test]
fn a_refused_request_with_a_body_leaves_the_connection_usable_or_says_close() {
    use std::io::Write;
    let server = TestServer::start();
    let key = server.acme.clone();
    let small = br#"{"content": "x"}"#;
    let cases: Vec<(String, u16)> = vec![
        (
            format!(
                "POST /agent/memories HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                small.len()
            ),
            401,
        ),
        (
            format!(
                "POST /nowhere HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: {}\r\n\r\n",
                small.len()
            ),
            404,
        ),
        (
            format!(
                "GET /agent/memories HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: {}\r\n\r\n",
                small.len()
            ),
            200,
        ),
        (
            format!(
                "POST /memories/not-a-uuid/supersede HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Length: {}\r\n\r\n",
                small.len()
            ),
            422,
        ),
    ];
    for (head, status) in &cases {
        let mut conn = std::net::TcpStream::connect(server.addr).expect("connect");
        conn.write_all(head.as_bytes()).expect("send head");
        conn.write_all(small).expect("send body");
        let (got, response) = read_response(&mut conn).expect("first response");
        assert_eq!(got, *status, "{head}\n{response}");
        assert!(
            !response.to_ascii_lowercase().contains("connection: close"),
            "a small unread body is read and discarded, not a reason to close: {response}"
        );
        let second = conn
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .ok()
            .and_then(|()| read_response(&mut conn));
        assert_eq!(
            second.map(|(s, _)| s),
            Some(200),
            "the connection must serve the next request after: {head}"
        );
    }

    // A large unread body is not read: the answer says the connection closes.
    let large = vec![b' '; 512 * 1024];
    let mut conn = std::net::TcpStream::connect(server.addr).expect("connect");
    write!(
        conn,
        "POST /agent/memories HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        large.len()
    )
    .expect("send head");
    let (got, response) = read_response(&mut conn).expect("the refusal");
    assert_eq!(got, 401, "{response}");
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "{response}"
    );
}

/// A client that sends its headers and stalls its body holds a connection no longer than
/// the body-read timeout: it gets a 408 with `Connection: close` and the connection ends,
/// nothing is stored, and while 100 such clients stall, fresh authenticated requests are
/// served.
#[test]
fn a_stalled_body_times_out_with_408_and_others_are_served_meanwhile() {
    use std::io::{Read, Write};
    use std::time::Duration;
    let server = TestServer::start_with(aurra::server::Config {
        body_read_timeout: Duration::from_secs(1),
        ..aurra::server::Config::default()
    });
    let key = server.acme.clone();
    let head = format!(
        "POST /agent/memories HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"content\": \"par"
    );
    let mut stalled: Vec<std::net::TcpStream> = (0..100)
        .map(|_| {
            let mut conn = std::net::TcpStream::connect(server.addr).expect("connect");
            conn.write_all(head.as_bytes()).expect("send head");
            conn.set_read_timeout(Some(Duration::from_secs(20)))
                .expect("read timeout");
            conn
        })
        .collect();
    // Served while they stall.
    let write = server.post(
        "/agent/memories",
        &key,
        &json!({"content": "a real client"}),
    );
    assert_eq!(write.status, 200, "{}", write.text);
    for conn in &mut stalled {
        let (status, response) = read_response(conn).expect("an answer, not silence");
        assert_eq!(status, 408, "{response}");
        assert!(
            response.to_ascii_lowercase().contains("connection: close"),
            "{response}"
        );
        let mut rest = Vec::new();
        assert_eq!(conn.read_to_end(&mut rest).expect("closed"), 0, "then EOF");
    }
    let list = server.get("/agent/memories", &key);
    assert_eq!(list.body["count"], 1, "{}", list.text);
}

/// One rule for every integer field, in the body and in the query string: an integral number
/// however written is that integer; a fraction, a string or a boolean is a `422`
/// `type_error.integer`; then the field's range applies — `importance_score` clamps to 1–10
/// (spec §3.5), `limit` refuses with a `422` naming the bound.
#[test]
fn every_integer_field_follows_one_rule() {
    let server = TestServer::start();
    let key = server.acme.clone();
    let error_kind = |resp: &http::Resp| resp.body["detail"][0]["type"].as_str().map(str::to_owned);

    let importance = [
        ("7", Some(7)),
        ("7.0", Some(7)),
        ("7e0", Some(7)),
        ("99", Some(10)),
        ("1e308", Some(10)),
        ("-1e308", Some(1)),
        ("7.5", None),
        ("\"7\"", None),
        ("true", None),
    ];
    for (n, (value, stored)) in importance.into_iter().enumerate() {
        let body =
            format!(r#"{{"content": "fact number {n} of the rule", "importance_score": {value}}}"#);
        let resp = server.post_raw("/agent/memories", &key, &body);
        match stored {
            Some(score) => {
                assert_eq!(resp.status, 200, "{value}: {}", resp.text);
                let id = resp.body["memory_id"].as_str().unwrap();
                let list = server.get("/agent/memories?limit=1000", &key);
                let row = list.body["memories"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["id"] == id)
                    .cloned()
                    .expect("listed");
                assert_eq!(row["importance_score"], score, "{value}");
            }
            None => {
                assert_eq!(resp.status, 422, "{value}: {}", resp.text);
                assert_eq!(
                    error_kind(&resp).as_deref(),
                    Some("type_error.integer"),
                    "{value}"
                );
            }
        }
    }

    // `limit` of /query (body) and of the list (query string): the same forms, range refused.
    let limits = [
        ("5", None),
        ("5.0", None),
        ("5e0", None),
        ("5.5", Some("type_error.integer")),
        ("1e308", Some("value_error.number.not_le")),
        ("0", Some("value_error.number.not_ge")),
    ];
    for (value, refused) in limits {
        let body = format!(r#"{{"question": "which fact?", "limit": {value}}}"#);
        let query = server.post_raw("/agent/query", &key, &body);
        let list = server.get(&format!("/agent/memories?limit={value}"), &key);
        for (what, resp) in [("query", &query), ("list", &list)] {
            match refused {
                None => assert_eq!(resp.status, 200, "{what} limit {value}: {}", resp.text),
                Some(kind) => {
                    assert_eq!(resp.status, 422, "{what} limit {value}: {}", resp.text);
                    assert_eq!(
                        error_kind(resp).as_deref(),
                        Some(kind),
                        "{what} limit {value}"
                    );
                }
            }
        }
    }
    for value in ["\"5\"", "true"] {
        let body = format!(r#"{{"question": "which fact?", "limit": {value}}}"#);
        let resp = server.post_raw("/agent/query", &key, &body);
        assert_eq!(resp.status, 422, "{value}: {}", resp.text);
        assert_eq!(error_kind(&resp).as_deref(), Some("type_error.integer"));
    }
    let resp = server.get("/agent/memories?limit=five", &key);
    assert_eq!(
        (resp.status, error_kind(&resp).as_deref()),
        (422, Some("type_error.integer"))
    );
}

/// U+0000 in any string of a body or a query string is a `422` naming where it is, on every
/// backend (PostgreSQL cannot store it; on redb it was stored, on PostgreSQL it was a 503),
/// and nothing is written.
#[test]
fn nul_characters_are_refused_wherever_they_are() {
    let server = TestServer::start();
    let key = server.acme.clone();
    let bodies = [
        (r#"{"content": "a\u0000b"}"#, json!(["body", "content"])),
        (
            r#"{"messages": [{"role": "user", "content": "hi\u0000"}]}"#,
            json!(["body", "messages", 0, "content"]),
        ),
        (
            r#"{"content": "x", "tenant_id": "t\u0000"}"#,
            json!(["body", "tenant_id"]),
        ),
    ];
    for (body, loc) in bodies {
        let resp = server.post_raw("/agent/memories", &key, body);
        assert_eq!(resp.status, 422, "{body}: {}", resp.text);
        assert_eq!(resp.body["detail"][0]["loc"], loc, "{body}");
        assert_eq!(resp.body["detail"][0]["type"], "value_error.str.nul");
    }
    // Unknown fields are ignored, NUL or not.
    let ignored = server.post_raw(
        "/agent/memories",
        &key,
        r#"{"content": "kept", "k\u0000": "v\u0000"}"#,
    );
    assert_eq!(ignored.status, 200, "{}", ignored.text);
    let patch = server.patch(
        "/agent/settings",
        &key,
        &json!({"excluded_categories": ["ok", "n\u{0}"]}),
    );
    assert_eq!(patch.status, 422, "{}", patch.text);
    for path in [
        "/agent/memories?tenant_id=a%00b",
        "/agent/memories?source=%00",
    ] {
        let resp = server.get(path, &key);
        assert_eq!(resp.status, 422, "{path}: {}", resp.text);
        assert_eq!(resp.body["detail"][0]["type"], "value_error.str.nul");
    }
    let delete = server.delete("/agent/memories?tenant_id=%00", &key);
    assert_eq!(delete.status, 422, "{}", delete.text);
    let list = server.get("/agent/memories?include_superseded=true", &key);
    assert_eq!(
        list.body["count"], 1,
        "only the write with unknown fields: {}",
        list.text
    );
}
