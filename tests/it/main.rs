//! One integration binary: real clients against a real server.
