//! Benchmark package (the benchmarks live in `*.rs` beside this file).
