//! A BERT encoder's forward pass (inference only) on candle tensors, shaped for the CPU:
//! token rows stay one `[tokens, hidden]` matrix so that every projection is one matrix
//! product, the query, key and value projections are one product with their weights joined
//! at load, and GELU is one parallel pass with a rational `erf` instead of a scalar libm
//! call per element (with candle-transformers' BERT, `erf` alone took a fifth of the time).

use candle_core::{CpuStorage, CustomOp1, InplaceOp1, Layout, Module, Shape, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};
use serde::Deserialize;

/// The parts of a Hugging Face BERT `config.json` the forward pass needs.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    pub max_position_embeddings: usize,
    #[serde(default = "default_types")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_position")]
    pub position_embedding_type: String,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_types() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_position() -> String {
    "absolute".into()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Activation {
    /// GELU with the exact `erf` (BERT's "gelu").
    Gelu,
    /// GELU's tanh approximation ("gelu_new", "gelu_pytorch_tanh").
    GeluTanh,
    Relu,
}

impl Config {
    /// Why this encoder cannot run the configuration, if it cannot.
    pub(crate) fn unsupported(&self) -> Option<String> {
        if activation(&self.hidden_act).is_none() {
            return Some(format!("hidden_act {:?} is not supported", self.hidden_act));
        }
        if self.position_embedding_type != "absolute" {
            return Some(format!(
                "position_embedding_type {:?} is not supported",
                self.position_embedding_type
            ));
        }
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Some("hidden_size is not a multiple of num_attention_heads".into());
        }
        None
    }
}

fn activation(name: &str) -> Option<Activation> {
    match name {
        "gelu" => Some(Activation::Gelu),
        "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Activation::GeluTanh),
        "relu" => Some(Activation::Relu),
        _ => None,
    }
}

struct Layer {
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

pub(crate) struct Encoder {
    words: Embedding,
    positions: Embedding,
    types: Embedding,
    norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_size: usize,
    activation: Activation,
}

fn linear(vb: &VarBuilder, inputs: usize, outputs: usize) -> candle_core::Result<Linear> {
    let weight = vb.get((outputs, inputs), "weight")?;
    let bias = vb.get(outputs, "bias")?;
    Ok(Linear::new(weight, Some(bias)))
}

fn layer_norm(vb: &VarBuilder, size: usize, eps: f64) -> candle_core::Result<LayerNorm> {
    // Older checkpoints name the parameters gamma and beta.
    let (weight, bias) = match vb.get(size, "weight") {
        Ok(weight) => (weight, vb.get(size, "bias")?),
        Err(_) => (vb.get(size, "gamma")?, vb.get(size, "beta")?),
    };
    Ok(LayerNorm::new(weight, bias, eps))
}

impl Encoder {
    pub(crate) fn load(vb: VarBuilder, config: &Config) -> candle_core::Result<Encoder> {
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") {
            vb.pp("bert")
        } else {
            vb
        };
        let h = config.hidden_size;
        let eps = config.layer_norm_eps;
        let embeddings = vb.pp("embeddings");
        let table = |name: &str, rows: usize| -> candle_core::Result<Embedding> {
            Ok(Embedding::new(
                embeddings.pp(name).get((rows, h), "weight")?,
                h,
            ))
        };
        let words = table("word_embeddings", config.vocab_size)?;
        let positions = table("position_embeddings", config.max_position_embeddings)?;
        let types = table("token_type_embeddings", config.type_vocab_size)?;
        let norm = layer_norm(&embeddings.pp("LayerNorm"), h, eps)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let vb = vb.pp(format!("encoder.layer.{i}"));
            let attention = vb.pp("attention");
            let own = attention.pp("self");
            let parts = ["query", "key", "value"].map(|p| linear(&own.pp(p), h, h));
            let [q, k, v] = parts;
            let (q, k, v) = (q?, k?, v?);
            let weight = Tensor::cat(&[q.weight(), k.weight(), v.weight()], 0)?;
            let bias = Tensor::cat(
                &[q.bias().unwrap(), k.bias().unwrap(), v.bias().unwrap()],
                0,
            )?;
            layers.push(Layer {
                qkv: Linear::new(weight, Some(bias)),
                attention_out: linear(&attention.pp("output.dense"), h, h)?,
                attention_norm: layer_norm(&attention.pp("output.LayerNorm"), h, eps)?,
                intermediate: linear(&vb.pp("intermediate.dense"), h, config.intermediate_size)?,
                output: linear(&vb.pp("output.dense"), config.intermediate_size, h)?,
                output_norm: layer_norm(&vb.pp("output.LayerNorm"), h, eps)?,
            });
        }
        Ok(Encoder {
            words,
            positions,
            types,
            norm,
            layers,
            heads: config.num_attention_heads,
            head_size: h / config.num_attention_heads,
            activation: activation(&config.hidden_act).unwrap_or(Activation::Gelu),
        })
    }

    /// The last hidden states, `[tokens, hidden]`, of the token ids `ids` of a batch of
    /// sequences laid end to end, sequence `i` being the next `lengths[i]` ids. Packed, not
    /// padded: every projection is one product over the real tokens only (padding a batch
    /// to its longest sequence cost a third more rows on LoCoMo's turns).
    pub(crate) fn forward(&self, ids: &[u32], lengths: &[usize]) -> candle_core::Result<Tensor> {
        if lengths.iter().sum::<usize>() != ids.len() || lengths.contains(&0) {
            candle_core::bail!("bert: every sequence needs a token, and the lengths the ids");
        }
        let device = &candle_core::Device::Cpu;
        let positions: Vec<u32> = lengths.iter().flat_map(|&n| 0..n as u32).collect();
        let positions = Tensor::new(positions.as_slice(), device)?;
        let x = self.words.forward(&Tensor::new(ids, device)?)?;
        let x = (x + self.positions.forward(&positions)?)?;
        // Every token has type 0: one row of the type table.
        let type0 = self.types.embeddings().narrow(0, 0, 1)?;
        let mut x = self.norm.forward(&x.broadcast_add(&type0)?)?;
        let attention = Attention {
            heads: self.heads,
            head_size: self.head_size,
            lengths: lengths.to_vec(),
        };
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x)?;
            let context = qkv.apply_op1_no_bwd(&attention)?;
            let attended = (layer.attention_out.forward(&context)? + &x)?;
            let attended = layer.attention_norm.forward(&attended)?;
            let inner = layer.intermediate.forward(&attended)?;
            let inner = match self.activation {
                Activation::Gelu => {
                    // The product's own fresh tensor: nothing else holds it.
                    inner.inplace_op1(&GeluErf)?;
                    inner
                }
                Activation::GeluTanh => inner.gelu()?,
                Activation::Relu => inner.relu()?,
            };
            let out = (layer.output.forward(&inner)? + attended)?;
            x = layer.output_norm.forward(&out)?;
        }
        Ok(x)
    }
}

/// Scaled dot-product self-attention of every head over one packed batch, from the joined
/// query, key and value projections (`[tokens, 3 · hidden]`, each token's row holding its
/// queries, then keys, then values, head by head) to the context (`[tokens, hidden]`). A
/// sequence attends only to its own tokens. One pass per sequence, the sequences in
/// parallel: as matrix products, the heads are hundreds of tiny products per layer, each
/// dispatched to the thread pool on its own.
struct Attention {
    heads: usize,
    head_size: usize,
    lengths: Vec<usize>,
}

impl CustomOp1 for Attention {
    fn name(&self) -> &'static str {
        "bert-self-attention"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let qkv = contiguous_f32(self.name(), storage, layout)?;
        let d = self.head_size;
        let hidden = self.heads * d;
        let tokens: usize = self.lengths.iter().sum();
        if qkv.len() != tokens * 3 * hidden {
            candle_core::bail!("bert-self-attention: shape does not match the batch");
        }
        let mut out = vec![0f32; tokens * hidden];
        // Each sequence's rows of input and of output.
        let mut parts = Vec::with_capacity(self.lengths.len());
        let (mut rest_out, mut rest_qkv) = (out.as_mut_slice(), qkv);
        for &len in &self.lengths {
            let (o, after_out) = rest_out.split_at_mut(len * hidden);
            let (q, after_qkv) = rest_qkv.split_at(len * 3 * hidden);
            parts.push((o, q, len));
            (rest_out, rest_qkv) = (after_out, after_qkv);
        }
        // The loops compiled for the widest vectors this CPU has (the crate is built for
        // baseline x86-64, four lanes).
        let arch = pulp::Arch::new();
        parts.into_par_iter().for_each(|(out, qkv, len)| {
            arch.dispatch(Attend {
                out,
                qkv,
                len,
                heads: self.heads,
                d,
            });
        });
        let shape = Shape::from((tokens, hidden));
        Ok((CpuStorage::F32(out), shape))
    }
}

/// One sequence's [`attend`], as `pulp` dispatches it: `with_simd` is inlined into a
/// function compiled for the instruction set found, and `attend` into it. (A closure would
/// stay a function of its own, compiled for the baseline.)
struct Attend<'a> {
    out: &'a mut [f32],
    qkv: &'a [f32],
    len: usize,
    heads: usize,
    d: usize,
}

impl pulp::WithSimd for Attend<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        attend(self.out, self.qkv, self.len, self.heads, self.d)
    }
}

/// The context of one sequence's `len` tokens (`qkv`: its rows of joined projections; `out`:
/// its rows of context, zero on entry), every head.
#[inline(always)]
fn attend(out: &mut [f32], qkv: &[f32], len: usize, heads: usize, d: usize) {
    let hidden = heads * d;
    let scale = 1.0 / (d as f32).sqrt();
    // One head's keys transposed, component by component: a query's scores are then sums
    // of rows, vectorised across the keys, with no horizontal sums.
    let mut scores = vec![0f32; len];
    let mut keys = vec![0f32; d * len];
    for head in 0..heads {
        let q_at = head * d;
        let k_at = hidden + head * d;
        let v_at = 2 * hidden + head * d;
        for j in 0..len {
            let k = &qkv[j * 3 * hidden + k_at..j * 3 * hidden + k_at + d];
            for (c, &x) in k.iter().enumerate() {
                keys[c * len + j] = x;
            }
        }
        for i in 0..len {
            let row = &qkv[i * 3 * hidden..(i + 1) * 3 * hidden];
            let q = &row[q_at..q_at + d];
            scores.fill(0.0);
            for (c, &x) in q.iter().enumerate() {
                let x = x * scale;
                for (score, &k) in scores.iter_mut().zip(&keys[c * len..(c + 1) * len]) {
                    *score += x * k;
                }
            }
            let best = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut total = 0f32;
            for score in scores.iter_mut() {
                *score = (*score - best).exp();
                total += *score;
            }
            let context = &mut out[i * hidden + head * d..i * hidden + (head + 1) * d];
            for (j, score) in scores.iter().enumerate() {
                let weight = score / total;
                let v = &qkv[j * 3 * hidden + v_at..j * 3 * hidden + v_at + d];
                for (c, v) in context.iter_mut().zip(v) {
                    *c += weight * v;
                }
            }
        }
    }
}

/// The elements of an f32 tensor laid out contiguously, as the custom ops here take them.
fn contiguous_f32<'a>(
    op: &str,
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op} takes f32");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op} takes a contiguous tensor");
    };
    Ok(&data[start..end])
}

/// GELU with `erf`, `x · (1 + erf(x / √2)) / 2`, over a contiguous f32 tensor, in place
/// (the intermediate activations are the largest tensor of a layer: a new one would be
/// allocated, faulted in and zeroed each time), in parallel.
struct GeluErf;

impl InplaceOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "gelu-erf-rational"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        use rayon::prelude::*;
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("{} takes f32", self.name());
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("{} takes a contiguous tensor", self.name());
        };
        let arch = pulp::Arch::new();
        data[start..end]
            .par_chunks_mut(8192)
            .for_each(|values| arch.dispatch(Gelu { values }));
        Ok(())
    }
}

/// [`gelu`] over one chunk, dispatched as [`Attend`] is.
struct Gelu<'a> {
    values: &'a mut [f32],
}

impl pulp::WithSimd for Gelu<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        gelu(self.values)
    }
}

/// GELU of each value, in place.
#[inline(always)]
fn gelu(values: &mut [f32]) {
    for x in values {
        *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// `erf` as a rational function of `x` on [-4, 4] (Eigen's `generic_fast_erf_float`; outside
/// that range erf is ±1 in f32). Absolute error under 1e-7; mul, add and one division, which
/// the compiler vectorises.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    const ALPHA: [f32; 7] = [
        -2.726_142_3e-10,
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.9546e-3,
        -1.609_603_3e-2,
    ];
    const BETA: [f32; 5] = [
        -1.456_607_2e-5,
        -2.133_740_6e-4,
        -1.682_827e-3,
        -7.373_329_2e-3,
        -1.426_473_9e-2,
    ];
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = ALPHA[0];
    for a in &ALPHA[1..] {
        p = p * x2 + a;
    }
    let mut q = BETA[0];
    for b in &BETA[1..] {
        q = q * x2 + b;
    }
    x * p / q
}

#[cfg(test)]
mod tests {
    use super::erf;

    /// erf by its Maclaurin series, in f64 (exact to ~1e-13 for |x| ≤ 3).
    fn reference(x: f64) -> f64 {
        let mut term = x;
        let mut sum = x;
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn the_rational_erf_is_within_a_millionth_everywhere() {
        let mut worst = 0f64;
        for i in -3000..=3000 {
            let x = i as f64 / 1000.0;
            worst = worst.max((f64::from(erf(x as f32)) - reference(x)).abs());
        }
        assert!(worst < 1e-6, "{worst}");
        // Past 3, erf is within 2.21e-5 of ±1, and odd.
        for i in 300..=800 {
            let x = i as f32 / 100.0;
            assert!((1.0 - erf(x)).abs() < 2.3e-5, "{x}");
            assert_eq!(erf(-x), -erf(x));
        }
        assert_eq!(erf(0.0), 0.0);
        assert!((erf(100.0) - 1.0).abs() < 2e-7 && (erf(-100.0) + 1.0).abs() < 2e-7);
    }
}
