//! Connection exhaustion on loopback, bounded in count and time: stalled and idle
//! connections cannot lock real clients out. At the connection cap the oldest connection
//! without a request in flight is closed to make room; when every connection is busy a new
//! one gets a clear `503`; an idle keep-alive connection is closed after the idle timeout.

mod http;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use aurra::server::Config;
use http::{TestServer, raw_status};
use serde_json::json;

/// Everything the server sends until it closes the connection (bounded by a read timeout:
/// a server that never closes fails the test instead of hanging it).
fn read_until_closed(conn: &mut TcpStream) -> Result<String, std::io::Error> {
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut all = Vec::new();
    conn.read_to_end(&mut all)?;
    Ok(String::from_utf8_lossy(&all).into_owned())
}

#[test]
fn a_flood_of_stalled_connections_evicts_itself_and_real_clients_are_served() {
    let server = TestServer::start_with(Config {
        max_connections: 32,
        ..Config::default()
    });
    let key = server.acme.clone();
    // 200 connections that send half a request head and stall (6x the cap).
    let mut flood: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut conn = TcpStream::connect(server.addr).expect("connect");
            conn.write_all(b"GET /health HTTP/1.1\r\nHo")
                .expect("half a head");
            conn
        })
        .collect();
    // Real clients on fresh connections are served throughout.
    for i in 0..20 {
        let write = server.post(
            "/agent/memories",
            &key,
            &json!({"content": format!("a real client's fact {i}")}),
        );
        assert_eq!(write.status, 200, "{}", write.text);
    }
    let list = server.get("/agent/memories", &key);
    assert_eq!(list.body["count"], 20, "{}", list.text);
    // The evicted stalled connections were closed by the server (EOF, no response).
    let mut closed = 0;
    for conn in flood.iter_mut().take(100) {
        match read_until_closed(conn) {
            Ok(text) => {
                assert!(
                    text.is_empty(),
                    "an evicted connection gets no response: {text}"
                );
                closed += 1;
            }
            // Closed with its half head unread: the kernel resets instead of a FIN.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            Err(e) => panic!("an evicted connection was not closed: {e}"),
        }
    }
    assert_eq!(closed, 100, "the oldest stalled connections were closed");
    assert_eq!(server.get_anonymous("/health").status, 200);
}

#[test]
fn when_every_connection_is_busy_a_new_one_gets_a_clear_503() {
    let server = TestServer::start_with(Config {
        max_connections: 2,
        body_read_timeout: Duration::from_secs(60),
        ..Config::default()
    });
    let key = server.acme.clone();
    // Two requests in flight. Each announces its body with `Expect: 100-continue`; the
    // server's `100 Continue` says the request is being handled (it waits for the body),
    // and the body is held back.
    let body = r#"{"content": "finally sent"}"#;
    let head = format!(
        "POST /agent/memories HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len(),
    );
    let mut busy: Vec<TcpStream> = Vec::new();
    for _ in 0..2 {
        let mut conn = TcpStream::connect(server.addr).expect("connect");
        conn.write_all(head.as_bytes()).expect("head");
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut interim = Vec::new();
        let mut byte = [0u8; 1];
        while !interim.ends_with(b"\r\n\r\n") {
            conn.read_exact(&mut byte).expect("100 Continue");
            interim.push(byte[0]);
        }
        assert!(interim.starts_with(b"HTTP/1.1 100"), "{interim:?}");
        busy.push(conn);
    }
    // Both slots are busy: a third connection is refused.
    let mut conn = TcpStream::connect(server.addr).expect("connect");
    let _ = conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let refusal = read_until_closed(&mut conn).expect("the refusal, then the close");
    assert_eq!(raw_status(&refusal), 503, "{refusal}");
    assert!(refusal.contains("Too many open connections"), "{refusal}");
    assert!(refusal.to_ascii_lowercase().contains("connection: close"));
    assert!(refusal.to_ascii_lowercase().contains("retry-after: 1"));
    // One busy request completes: its connection frees a slot, and a new client is served.
    let mut first = busy.remove(0);
    first.write_all(body.as_bytes()).expect("rest of the body");
    first
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 12];
    first.read_exact(&mut buf).expect("its answer");
    assert_eq!(&buf, b"HTTP/1.1 200");
    drop(first);
    let mut served = false;
    for _ in 0..200 {
        let health = server.get_anonymous("/health");
        if health.status == 200 {
            served = true;
            break;
        }
        assert_eq!(health.status, 503);
    }
    assert!(served, "a freed slot serves new clients");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = TestServer::start_with(Config {
        idle_timeout: Duration::from_secs(1),
        ..Config::default()
    });
    let mut conn = TcpStream::connect(server.addr).expect("connect");
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    // The response, then nothing until the server closes the idle connection.
    let text = read_until_closed(&mut conn).expect("the server closes an idle connection");
    assert_eq!(raw_status(&text), 200, "{text}");
    assert_eq!(text.matches("HTTP/1.1").count(), 1, "{text}");
}
