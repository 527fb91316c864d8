//! A fake OpenAI-compatible embeddings server on 127.0.0.1: `POST /v1/embeddings` answers
//! with deterministic bag-of-concepts vectors (words of one synonym group share a dimension,
//! so "car" and "automobile" embed alike while sharing no letters), records every request, and
//! can be told to fail in the ways real services do.

#![allow(dead_code)] // each test file uses a different part of the fake

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// Dimensions of the fake's vectors.
pub const DIMS: usize = 256;

/// Words that embed to the same dimension.
const SYNONYMS: &[&[&str]] = &[
    &["car", "automobile", "vehicle", "sedan"],
    &["doctor", "physician", "dentist"],
    &["dog", "puppy", "hound"],
    &["happy", "glad", "joyful"],
];

/// How the fake answers the next request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// The vectors.
    Vectors,
    /// This status with this body.
    Status(u16, String),
    /// A 200 whose body is not the expected JSON.
    Garbage,
    /// A 200 with one vector fewer than asked for.
    TooFew,
    /// A 200 whose vectors have different lengths.
    MixedLengths,
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    /// Replies for the next requests, in order; `Reply::Vectors` once empty.
    script: VecDeque<Reply>,
    seen: Vec<Seen>,
}

/// A running fake; it serves until the test process ends.
#[derive(Clone)]
pub struct FakeEmbeddings {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeEmbeddings {
    pub fn start() -> FakeEmbeddings {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        FakeEmbeddings { addr, state }
    }

    /// The base URL clients take (`…/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Answers the next requests with `replies`, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

/// The fake's vector for `text`: one count per word in its concept's dimension.
pub fn embed(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; DIMS];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let word = word.to_lowercase();
        let concept = SYNONYMS
            .iter()
            .find(|group| group.contains(&word.as_str()))
            .map_or(word.as_str(), |group| group[0]);
        // FNV-1a: stable across runs and platforms.
        let mut h: u32 = 0x811c_9dc5;
        for b in concept.bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        v[h as usize % DIMS] += 1.0;
    }
    v
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_owned();
    let mut content_length = 0;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_owned();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => content_length = value.parse().unwrap_or(0),
                "authorization" => authorization = Some(value),
                _ => {}
            }
        }
    }
    let mut body = vec![0; content_length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let reply = {
        let mut state = state.lock().unwrap();
        state.seen.push(Seen {
            path: path.clone(),
            authorization,
            body: body.clone(),
        });
        state.script.pop_front().unwrap_or(Reply::Vectors)
    };
    let inputs: Vec<String> = body["input"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    let data = |inputs: &[String]| -> Vec<Value> {
        inputs
            .iter()
            .enumerate()
            .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": embed(text)}))
            .collect()
    };
    let (status, text) = if path != "/v1/embeddings" {
        (
            404,
            json!({"error": {"message": "no such route"}}).to_string(),
        )
    } else {
        match reply {
            Reply::Vectors => {
                // Reversed, as the API allows: clients must order by `index`.
                let mut items = data(&inputs);
                items.reverse();
                (
                    200,
                    json!({"object": "list", "data": items, "model": body["model"]}).to_string(),
                )
            }
            Reply::Status(status, text) => (status, text),
            Reply::Garbage => (200, "<html>not json</html>".to_owned()),
            Reply::TooFew => {
                let mut items = data(&inputs);
                items.pop();
                (200, json!({"data": items}).to_string())
            }
            Reply::MixedLengths => {
                let mut items = data(&inputs);
                if let Some(first) = items.first_mut() {
                    first["embedding"] = json!([1.0, 0.0]);
                }
                (200, json!({"data": items}).to_string())
            }
        }
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.flush();
}
