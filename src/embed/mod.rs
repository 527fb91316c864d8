//! Embeddings: the [`Embedder`] interface the store calls to turn text into vectors, and the
//! vector arithmetic of semantic search. With an embedder configured
//! ([`crate::StoreOptions::embedder`]) every written memory's `decision` is embedded before
//! its write transaction and the vector is stored with the row; a search embeds the question
//! and ranks the scope's vectors by cosine similarity.
//!
//! [`LocalEmbedder`] (feature `local-embed`) runs a sentence-transformers model folder
//! in-process. [`OpenAiEmbedder`] (feature `http`) speaks the OpenAI-compatible
//! `POST /v1/embeddings` API, which OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp's server and
//! most gateways serve.

use std::fmt;

use crate::error::Result;

#[cfg(feature = "local-embed")]
mod bert;
#[cfg(feature = "local-embed")]
mod local;
#[cfg(feature = "local-embed")]
pub use local::{LocalEmbedder, Pooling};
#[cfg(feature = "http")]
mod openai;
#[cfg(feature = "http")]
pub use openai::OpenAiEmbedder;

/// Turns texts into vectors of one space.
///
/// Implementations must be deterministic enough that the same text maps to (nearly) the same
/// vector, return one vector per input in input order, and report failures of the service
/// as [`crate::Error::Unavailable`] (the store then writes nothing and the server answers
/// 503, so that clients retry).
pub trait Embedder: Send + Sync + fmt::Debug {
    /// Names the vector space (model and anything else that changes it, such as requested
    /// dimensions). Vectors are stored with a tag derived from it, and vectors of another
    /// space are never compared with this one's: changing the model leaves older memories to
    /// lexical search until they are embedded again.
    fn space(&self) -> &str;

    /// One vector per text, in order. All vectors have the same, non-zero length.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
}

/// The 8-byte tag stored with each vector: the first bytes of SHA-256 of the space's name.
pub(crate) fn space_tag(space: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(space.as_bytes());
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(tag)
}

/// One unit vector per text (`None` for a text whose vector has no direction), checking that
/// the embedder kept its contract of one vector per text.
pub(crate) fn embed_units(
    embedder: &dyn Embedder,
    texts: &[&str],
) -> Result<Vec<Option<Vec<f32>>>> {
    let vectors = embedder.embed(texts)?;
    if vectors.len() != texts.len() {
        return Err(crate::error::Error::Unavailable(format!(
            "the embedder returned {} vectors for {} texts",
            vectors.len(),
            texts.len()
        )));
    }
    Ok(vectors.into_iter().map(normalized).collect())
}

/// `v` scaled to unit length, or `None` for a zero, empty or non-finite vector (which has no
/// direction to compare).
pub(crate) fn normalized(mut v: Vec<f32>) -> Option<Vec<f32>> {
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if v.is_empty() || !norm.is_finite() || norm == 0.0 {
        return None;
    }
    for x in &mut v {
        *x = (f64::from(*x) / norm) as f32;
    }
    Some(v)
}

/// The binary code of a unit vector: bit `i` (little-endian within each byte) set when
/// component `i` is positive. The Hamming distance of two codes estimates the angle between
/// their vectors: it counts the coordinate planes that separate them.
pub(crate) fn code(vector: &[f32]) -> Vec<u8> {
    let mut out = vec![0u8; vector.len().div_ceil(8)];
    for (i, x) in vector.iter().enumerate() {
        if *x > 0.0 {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

/// The number of bits in which two codes of equal length differ, eight bytes at a time.
pub(crate) fn hamming(a: &[u8], b: &[u8]) -> u32 {
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    let rest: u32 = a_words
        .remainder()
        .iter()
        .zip(b_words.remainder())
        .map(|(x, y)| (x ^ y).count_ones())
        .sum();
    a_words
        .zip(b_words)
        .map(|(x, y)| {
            let x = u64::from_le_bytes(x.try_into().expect("8 bytes"));
            let y = u64::from_le_bytes(y.try_into().expect("8 bytes"));
            (x ^ y).count_ones()
        })
        .sum::<u32>()
        + rest
}

/// Dot product of a stored vector (`bytes`: little-endian f32, as the `vectors` table holds
/// it) with `query`, read in place. Eight independent sums let the compiler use vector
/// instructions (f32 additions are not reassociated otherwise).
pub(crate) fn dot_le(bytes: &[u8], query: &[f32]) -> f64 {
    const LANES: usize = 8;
    let mut acc = [0f32; LANES];
    let (blocks, tail) = (bytes.chunks_exact(4 * LANES), query.chunks_exact(LANES));
    let rest_bytes = blocks.remainder();
    let rest_query = tail.remainder();
    for (b, q) in blocks.zip(tail) {
        for i in 0..LANES {
            let x = f32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
            acc[i] += x * q[i];
        }
    }
    let rest: f32 = rest_bytes
        .chunks_exact(4)
        .zip(rest_query)
        .map(|(c, q)| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) * q)
        .sum();
    f64::from(acc.iter().sum::<f32>() + rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_vectors_have_unit_length_and_cosine_is_their_dot_product() {
        let a = normalized(vec![3.0, 4.0, 0.0, 0.0, 0.0]).unwrap();
        let b = normalized(vec![0.0, 2.0, 0.0, 0.0, 0.0]).unwrap();
        let bytes: Vec<u8> = a.iter().flat_map(|x| x.to_le_bytes()).collect();
        assert!((dot_le(&bytes, &a) - 1.0).abs() < 1e-6);
        assert!((dot_le(&bytes, &b) - 0.8).abs() < 1e-6);
        assert!(normalized(vec![0.0; 4]).is_none());
        assert!(normalized(vec![]).is_none());
        assert!(normalized(vec![f32::NAN, 1.0]).is_none());
    }

    #[test]
    fn the_in_place_dot_product_agrees_with_the_decoded_one() {
        for dims in [1usize, 7, 8, 9, 384, 1000] {
            let a: Vec<f32> = (0..dims)
                .map(|i| ((i * 37 % 11) as f32 - 5.0) / 7.0)
                .collect();
            let b: Vec<f32> = (0..dims)
                .map(|i| ((i * 13 % 17) as f32 - 8.0) / 9.0)
                .collect();
            let bytes: Vec<u8> = a.iter().flat_map(|x| x.to_le_bytes()).collect();
            let expected: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x * *y)).sum();
            assert!((dot_le(&bytes, &b) - expected).abs() < 1e-3, "{dims}");
        }
    }

    #[test]
    fn codes_hold_signs_and_hamming_counts_differing_bits() {
        let a = code(&[1.0, -1.0, 0.5, 0.0, -0.1, 2.0, 3.0, -4.0, 0.1]);
        assert_eq!(a, vec![0b0110_0101, 1]);
        assert!(code(&[]).is_empty());
        let b = code(&[-1.0, -1.0, 0.5, 0.0, -0.1, 2.0, 3.0, 4.0, -0.1]);
        assert_eq!(hamming(&a, &b), 3);
        let long_a: Vec<u8> = (0..48).map(|i| i as u8).collect();
        let long_b: Vec<u8> = (0..48).map(|i| !(i as u8)).collect();
        assert_eq!(hamming(&long_a, &long_b), 384);
        assert_eq!(hamming(&long_a, &long_a), 0);
    }

    #[test]
    fn space_tags_differ_by_name() {
        assert_ne!(space_tag("a"), space_tag("b"));
        assert_eq!(space_tag("model"), space_tag("model"));
    }
}
