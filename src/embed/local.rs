//! [`LocalEmbedder`]: a sentence-transformers model run in-process on the CPU, in pure Rust
//! (candle for the network, Hugging Face's `tokenizers` for the tokenizer). No network, no
//! Python, no runtime to download: a model folder is all it needs.

use std::fmt;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde::Deserialize;
use tokenizers::Tokenizer;

use super::Embedder;
use super::bert::{Config as BertConfig, Encoder};
use crate::error::{Error, Result};

/// Texts per forward pass. Texts are sorted by length before batching, so a batch pads to
/// the longest of similar lengths; past 32 the matrix products gain little on a CPU.
const BATCH: usize = 64;

/// How token vectors become one sentence vector (the model folder's `1_Pooling/config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The mean of the token vectors, padding excluded (most sentence-transformers models).
    Mean,
    /// The first token's vector (`[CLS]`; BGE, for instance).
    Cls,
    /// The component-wise maximum over the tokens.
    Max,
    /// The sum of the token vectors divided by the square root of their count.
    MeanSqrtLen,
}

/// A sentence-transformers model folder run in-process: a BERT-family encoder
/// (`config.json` with `model_type` `bert`, `model.safetensors`), its `tokenizer.json`, and
/// the pooling the folder's `modules.json` names (`1_Pooling/config.json`; mean pooling when
/// the folder has none). Vectors are what sentence-transformers' `encode` returns for the
/// same folder (the store normalises them either way).
///
/// ```no_run
/// use aurra::{LocalEmbedder, Store, StoreOptions};
/// let embedder = LocalEmbedder::open("models/all-MiniLM-L6-v2")?;
/// let store = Store::open_with("memories.redb", StoreOptions::new().embedder(embedder))?;
/// # Ok::<(), aurra::Error>(())
/// ```
///
/// The vector space is named after the folder's model and a digest of its weights and
/// tokenizer, so that another model (or another revision of it) never has its vectors
/// compared with this one's.
pub struct LocalEmbedder {
    model: Encoder,
    tokenizer: Tokenizer,
    pooling: Pooling,
    lowercase: bool,
    max_tokens: usize,
    dims: usize,
    space: String,
}

impl fmt::Debug for LocalEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalEmbedder")
            .field("space", &self.space)
            .field("dims", &self.dims)
            .field("pooling", &self.pooling)
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Module {
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
    #[serde(default)]
    do_lower_case: bool,
}

#[derive(Deserialize)]
struct ModelType {
    model_type: Option<String>,
    #[serde(rename = "_name_or_path")]
    name: Option<String>,
}

fn bad(dir: &Path, what: impl fmt::Display) -> Error {
    Error::InvalidArgument(format!(
        "{} is not a usable sentence-transformers model folder: {what}",
        dir.display()
    ))
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|e| bad(dir, format_args!("cannot read {name}: {e}")))
}

fn json<T: for<'de> Deserialize<'de>>(dir: &Path, name: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| bad(dir, format_args!("{name}: {e}")))
}

fn model_error(e: candle_core::Error) -> Error {
    Error::Unavailable(format!("the local embedding model failed: {e}"))
}

impl LocalEmbedder {
    /// Loads the model folder `dir` (a sentence-transformers folder, as `save_pretrained` or
    /// the Hugging Face hub lays it out). Errors: `InvalidArgument` naming what is missing or
    /// unsupported (a file, a model type other than BERT, a pooling it does not know).
    pub fn open(dir: impl AsRef<Path>) -> Result<LocalEmbedder> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(bad(dir, "no such directory"));
        }
        let config_bytes = read(dir, "config.json")?;
        let kind: ModelType = json(dir, "config.json", &config_bytes)?;
        match kind.model_type.as_deref() {
            Some("bert") | None => {}
            Some(other) => {
                return Err(bad(
                    dir,
                    format_args!(
                        "model_type {other:?} is not supported (BERT-family encoders are: \
                         MiniLM, BGE, E5, GTE and the like)"
                    ),
                ));
            }
        }
        let config: BertConfig = json(dir, "config.json", &config_bytes)?;
        if let Some(reason) = config.unsupported() {
            return Err(bad(dir, reason));
        }
        let pooling = pooling(dir)?;
        let sbert: Option<SentenceBertConfig> =
            match std::fs::read(dir.join("sentence_bert_config.json")) {
                Ok(bytes) => Some(json(dir, "sentence_bert_config.json", &bytes)?),
                Err(_) => None,
            };
        let max_tokens = sbert
            .as_ref()
            .and_then(|s| s.max_seq_length)
            .unwrap_or(config.max_position_embeddings)
            .min(config.max_position_embeddings);
        let lowercase = sbert.as_ref().is_some_and(|s| s.do_lower_case);

        let tokenizer_bytes = read(dir, "tokenizer.json")?;
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes)
            .map_err(|e| bad(dir, format_args!("tokenizer.json: {e}")))?;
        // Padding is done per batch below; truncation to the model's limit here.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| bad(dir, format_args!("tokenizer.json: {e}")))?;

        let weights = read(dir, "model.safetensors")?;
        let space = space_name(
            dir,
            kind.name.as_deref(),
            &config,
            &weights,
            &tokenizer_bytes,
        );
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| bad(dir, format_args!("model.safetensors: {e}")))?;
        let model = Encoder::load(vb, &config)
            .map_err(|e| bad(dir, format_args!("model.safetensors: {e}")))?;
        Ok(LocalEmbedder {
            model,
            tokenizer,
            pooling,
            lowercase,
            max_tokens,
            dims: config.hidden_size,
            space,
        })
    }

    /// The length of the vectors this model produces.
    pub fn dimensions(&self) -> usize {
        self.dims
    }

    /// How token vectors are pooled into a sentence vector.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// Tokens per text past which a text is truncated (the model's `max_seq_length`).
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// One forward pass over `texts` (token ids already computed), pooled.
    fn forward(&self, encodings: &[&tokenizers::Encoding]) -> candle_core::Result<Vec<Vec<f32>>> {
        // The tokenizer pads nothing: every token of an encoding counts. An empty encoding
        // (a tokenizer with no special tokens, an empty text) is pooled as zeros.
        let lengths: Vec<usize> = encodings.iter().map(|e| e.len()).collect();
        let ids: Vec<u32> = encodings
            .iter()
            .flat_map(|e| e.get_ids().iter().copied())
            .collect();
        let present: Vec<usize> = lengths.iter().copied().filter(|&n| n > 0).collect();
        let hidden = if ids.is_empty() {
            Vec::new()
        } else {
            self.model
                .forward(&ids, &present)?
                .flatten_all()?
                .to_vec1::<f32>()?
        };
        let dims = self.dims;
        let mut rows = hidden.chunks_exact(dims);
        let mut pooled = Vec::with_capacity(encodings.len());
        for &len in &lengths {
            let tokens: Vec<&[f32]> = rows.by_ref().take(len).collect();
            pooled.push(pool(self.pooling, &tokens, dims));
        }
        Ok(pooled)
    }
}

/// One sentence vector from its token vectors.
fn pool(pooling: Pooling, tokens: &[&[f32]], dims: usize) -> Vec<f32> {
    let Some(first) = tokens.first() else {
        return vec![0.0; dims];
    };
    match pooling {
        Pooling::Cls => first.to_vec(),
        Pooling::Max => {
            let mut out = first.to_vec();
            for token in &tokens[1..] {
                for (o, &x) in out.iter_mut().zip(*token) {
                    *o = o.max(x);
                }
            }
            out
        }
        Pooling::Mean | Pooling::MeanSqrtLen => {
            let mut out = vec![0f32; dims];
            for token in tokens {
                for (o, &x) in out.iter_mut().zip(*token) {
                    *o += x;
                }
            }
            let count = tokens.len() as f32;
            let divisor = match pooling {
                Pooling::Mean => count,
                _ => count.sqrt(),
            };
            out.iter_mut().for_each(|o| *o /= divisor);
            out
        }
    }
}

impl Embedder for LocalEmbedder {
    fn space(&self) -> &str {
        &self.space
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let inputs: Vec<String> = texts
            .iter()
            .map(|t| {
                if self.lowercase {
                    t.to_lowercase()
                } else {
                    (*t).to_owned()
                }
            })
            .collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| Error::Unavailable(format!("the local tokenizer failed: {e}")))?;
        // Similar lengths together: a batch pads to its longest text.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());
        let mut vectors = vec![Vec::new(); encodings.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&tokenizers::Encoding> = chunk.iter().map(|&i| &encodings[i]).collect();
            let pooled = self.forward(&batch).map_err(model_error)?;
            for (&i, vector) in chunk.iter().zip(pooled) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }
}

/// The pooling `modules.json` names (mean pooling when the folder has no `modules.json`, as
/// sentence-transformers does for a bare transformer folder).
fn pooling(dir: &Path) -> Result<Pooling> {
    let Ok(bytes) = std::fs::read(dir.join("modules.json")) else {
        return Ok(Pooling::Mean);
    };
    let modules: Vec<Module> = json(dir, "modules.json", &bytes)?;
    for module in &modules {
        let known = [
            "sentence_transformers.models.Transformer",
            "sentence_transformers.models.Pooling",
            "sentence_transformers.models.Normalize",
        ];
        if !known.contains(&module.kind.as_str()) {
            return Err(bad(
                dir,
                format_args!(
                    "modules.json names {}, which aurra does not run (it runs Transformer, \
                     Pooling and Normalize)",
                    module.kind
                ),
            ));
        }
    }
    let Some(module) = modules
        .iter()
        .find(|m| m.kind == "sentence_transformers.models.Pooling")
    else {
        return Ok(Pooling::Mean);
    };
    let name: PathBuf = Path::new(&module.path).join("config.json");
    let bytes = read(dir, &name.to_string_lossy())?;
    let config: PoolingConfig = json(dir, &name.to_string_lossy(), &bytes)?;
    let modes = [
        (config.pooling_mode_mean_tokens, Pooling::Mean),
        (config.pooling_mode_cls_token, Pooling::Cls),
        (config.pooling_mode_max_tokens, Pooling::Max),
        (
            config.pooling_mode_mean_sqrt_len_tokens,
            Pooling::MeanSqrtLen,
        ),
    ];
    let chosen: Vec<Pooling> = modes.iter().filter(|(on, _)| *on).map(|m| m.1).collect();
    match chosen.as_slice() {
        [one] => Ok(*one),
        [] => Err(bad(dir, "the pooling config selects no pooling mode")),
        _ => Err(bad(
            dir,
            "the pooling config combines several modes (concatenated pooling), which aurra does not run",
        )),
    }
}

/// `local:<model>:<dims>:<digest>`: the digest (SHA-256 of the weights and the tokenizer, 16
/// hex digits) tells apart two revisions of one model.
fn space_name(
    dir: &Path,
    name: Option<&str>,
    config: &BertConfig,
    weights: &[u8],
    tokenizer: &[u8],
) -> String {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    digest.update(weights);
    digest.update(tokenizer);
    let digest = digest.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let folder = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
    let model = name
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .or(folder)
        .unwrap_or_else(|| "model".into());
    format!("local:{model}:{}:{hex}", config.hidden_size)
}
