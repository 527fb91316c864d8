//! Graceful shutdown: the listener closes, a request in flight still completes and is stored,
//! then `run` returns.

mod http;

use std::io::{Read, Write};
use std::net::TcpStream;

use aurra::ListQuery;
use http::{TestServer, raw_status};

#[test]
fn an_in_flight_request_finishes_after_shutdown_begins() -> std::io::Result<()> {
    let mut server = TestServer::start();
    let body = br#"{"content": "written during shutdown"}"#;
    let mut conn = TcpStream::connect(server.addr)?;
    // `Expect: 100-continue`: the server answers "100 Continue" only once the handler asks
    // for the body, which proves the request is in flight before shutdown begins.
    write!(
        conn,
        "POST /agent/memories HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        server.acme,
        body.len()
    )?;
    let mut interim = Vec::new();
    let mut byte = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") {
        conn.read_exact(&mut byte)?;
        interim.push(byte[0]);
    }
    assert!(
        interim.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&interim)
    );

    server.begin_shutdown();
    // Wait until the listener is gone (new connections refused or closed unanswered).
    loop {
        match TcpStream::connect(server.addr) {
            Err(_) => break,
            Ok(mut probe) => {
                let _ = probe
                    .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut out = String::new();
                let _ = probe.read_to_string(&mut out);
                if raw_status(&out) != 200 {
                    break;
                }
            }
        }
        std::thread::yield_now();
    }

    conn.write_all(body)?;
    let mut response = String::new();
    conn.read_to_string(&mut response)?;
    assert_eq!(raw_status(&response), 200, "{response}");
    assert!(response.contains("\"status\":\"saved\""));
    server.join()?;
    let stored = server.store.list("acme", &ListQuery::new()).expect("list");
    assert_eq!(stored.memories.len(), 1);
    assert_eq!(stored.memories[0].decision, "written during shutdown");
    Ok(())
}
