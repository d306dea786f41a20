//! Black-box test package (the tests live in `it/`).
