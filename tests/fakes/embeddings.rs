//! A fake OpenAI-compatible embeddings server on 127.0.0.1: `POST /v1/embeddings` answers
//! with deterministic bag-of-concepts vectors (words of one synonym group share a dimension,
//! so "car" and "automobile" embed alike while sharing no letters), records every request, and
//! can be told to fail in the ways real services do.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::http;

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
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let addr = http::serve(move |request| handle(request, &shared));
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

fn handle(request: http::Request, state: &Mutex<State>) -> http::Reply {
    let body = request.body;
    let path = request.path;
    let reply = {
        let mut state = state.lock().unwrap();
        state.seen.push(Seen {
            path: path.clone(),
            authorization: request
                .headers
                .iter()
                .find(|(n, _)| n == "authorization")
                .map(|(_, v)| v.clone()),
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
    if path != "/v1/embeddings" {
        return http::Reply::json(404, &json!({"error": {"message": "no such route"}}));
    }
    match reply {
        Reply::Vectors => {
            // Reversed, as the API allows: clients must order by `index`.
            let mut items = data(&inputs);
            items.reverse();
            http::Reply::json(
                200,
                &json!({"object": "list", "data": items, "model": body["model"]}),
            )
        }
        Reply::Status(status, text) => http::Reply {
            status,
            headers: Vec::new(),
            body: text,
        },
        Reply::Garbage => http::Reply {
            status: 200,
            headers: Vec::new(),
            body: "<html>not json</html>".to_owned(),
        },
        Reply::TooFew => {
            let mut items = data(&inputs);
            items.pop();
            http::Reply::json(200, &json!({"data": items}))
        }
        Reply::MixedLengths => {
            let mut items = data(&inputs);
            if let Some(first) = items.first_mut() {
                first["embedding"] = json!([1.0, 0.0]);
            }
            http::Reply::json(200, &json!({"data": items}))
        }
    }
}
