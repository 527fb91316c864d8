//! The dataset sizes a bench runs: `AURRA_BENCH_SIZES` (e.g. `10k,100k,1m`), else the bench's
//! own sizes under `cargo bench` and one small size under `cargo test --benches` (so that the
//! test run stays fast).

/// Whether criterion runs in benchmark mode (`cargo bench`), not in test mode.
pub fn bench_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test")
}

/// `AURRA_BENCH_SIZES`, else `benching` in benchmark mode, else `testing`.
pub fn sizes(benching: &[usize], testing: usize) -> Vec<usize> {
    match std::env::var("AURRA_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                let s = s.trim().to_ascii_lowercase();
                let (digits, scale) = match s.strip_suffix('k') {
                    Some(d) => (d.to_owned(), 1_000),
                    None => match s.strip_suffix('m') {
                        Some(d) => (d.to_owned(), 1_000_000),
                        None => (s.clone(), 1),
                    },
                };
                digits
                    .parse::<usize>()
                    .expect("AURRA_BENCH_SIZES: 10k,100k,1m")
                    * scale
            })
            .collect(),
        Err(_) if bench_mode() => benching.to_vec(),
        Err(_) => vec![testing],
    }
}
