//! Shared by the vector benches: an in-process embedder whose vectors cluster as a text
//! model's do, and the texts it embeds.

#![allow(dead_code)] // each bench uses a different part

use aurra::Embedder;

/// Clustered vectors from the numbers in a text: `topic<N>` and `person<N>` words pick
/// directions, the whole text seeds the noise.
#[derive(Debug)]
pub struct TopicEmbedder {
    pub dims: usize,
}

/// A deterministic pseudo-random direction for `seed` (splitmix64, components uniform in
/// [-1, 1]).
fn direction(seed: u64, dims: usize) -> Vec<f32> {
    let mut state = seed;
    (0..dims)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn number_after(text: &str, word: &str) -> Option<u64> {
    let at = text.find(word)? + word.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl Embedder for TopicEmbedder {
    fn space(&self) -> &str {
        "bench-topics"
    }

    fn embed(&self, texts: &[&str]) -> aurra::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut seed: u64 = 0xcbf2_9ce4_8422_2325;
                for b in t.bytes() {
                    seed = (seed ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                }
                let noise = direction(seed, self.dims);
                let topic = number_after(t, "topic").map(|n| direction(n, self.dims));
                let person = number_after(t, "person").map(|n| direction(1 << 32 | n, self.dims));
                (0..self.dims)
                    .map(|i| {
                        topic.as_ref().map_or(0.0, |v| v[i])
                            + person.as_ref().map_or(0.0, |v| 0.7 * v[i])
                            + 0.6 * noise[i]
                    })
                    .collect()
            })
            .collect())
    }
}

/// The `i`-th memory's text: a topic of 997, a person of 211, and details.
pub fn text(i: usize) -> String {
    format!(
        "note {i} about topic{} with detail{} and person{} at place{}",
        i % 997,
        (i * 7) % 5003,
        (i * 13) % 211,
        (i * 31) % 89
    )
}
