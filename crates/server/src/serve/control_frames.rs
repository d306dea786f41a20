//! An HTTP/2 control-frame rate limit. hyper and h2 answer every PING and
//! SETTINGS frame and have no option to limit how many a client sends, so a
//! client could keep a connection busy (and, before idle was defined by
//! requests, alive) with nothing but control frames. [`FrameMeter`] follows
//! the frame headers of the bytes a client sends — only when they start with
//! the HTTP/2 connection preface — and reports a flood when PING and SETTINGS
//! frames exceed a token bucket: [`BURST`] at once, [`PER_SECOND`] sustained.

use std::time::Instant;

/// PING and SETTINGS frames a client may send at once.
pub(crate) const BURST: f64 = 64.0;
/// PING and SETTINGS frames per second a client may send in the long run.
pub(crate) const PER_SECOND: f64 = 16.0;

/// The client connection preface of HTTP/2 (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Frame header size (RFC 9113 §4.1).
const FRAME_HEADER_BYTES: usize = 9;
/// Frame types counted.
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;

/// A client sent more control frames than the limit allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flood;

/// Where in the byte stream the meter is.
#[derive(Debug)]
enum Position {
    /// Matching the preface; this many bytes matched so far.
    Preface(usize),
    /// Reading a frame header; `have` bytes of it so far.
    Header {
        buf: [u8; FRAME_HEADER_BYTES],
        have: usize,
    },
    /// Skipping a frame payload; this many bytes left.
    Payload(u32),
    /// Not HTTP/2: nothing to follow.
    NotHttp2,
}

/// Follows one connection's incoming bytes.
#[derive(Debug)]
pub(crate) struct FrameMeter {
    position: Position,
    tokens: f64,
    refilled_at: Instant,
}

impl FrameMeter {
    /// A meter for a new connection, with a full bucket.
    pub(crate) fn new(now: Instant) -> FrameMeter {
        FrameMeter {
            position: Position::Preface(0),
            tokens: BURST,
            refilled_at: now,
        }
    }

    /// Feeds the next bytes the client sent, read at `now`.
    pub(crate) fn observe(&mut self, mut bytes: &[u8], now: Instant) -> Result<(), Flood> {
        while !bytes.is_empty() {
            match &mut self.position {
                Position::NotHttp2 => return Ok(()),
                Position::Preface(matched) => {
                    let want = &PREFACE[*matched..];
                    let n = want.len().min(bytes.len());
                    if bytes[..n] != want[..n] {
                        self.position = Position::NotHttp2;
                        return Ok(());
                    }
                    *matched += n;
                    bytes = &bytes[n..];
                    if *matched == PREFACE.len() {
                        self.position = Position::Header {
                            buf: [0; FRAME_HEADER_BYTES],
                            have: 0,
                        };
                    }
                }
                Position::Header { buf, have } => {
                    let n = (FRAME_HEADER_BYTES - *have).min(bytes.len());
                    buf[*have..*have + n].copy_from_slice(&bytes[..n]);
                    *have += n;
                    bytes = &bytes[n..];
                    if *have == FRAME_HEADER_BYTES {
                        let length = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]);
                        let kind = buf[3];
                        self.position = Position::Payload(length);
                        if kind == PING || kind == SETTINGS {
                            self.take_token(now)?;
                        }
                    }
                }
                Position::Payload(left) => {
                    let n = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len());
                    *left -= u32::try_from(n).unwrap_or(*left);
                    bytes = &bytes[n..];
                    if *left == 0 {
                        self.position = Position::Header {
                            buf: [0; FRAME_HEADER_BYTES],
                            have: 0,
                        };
                    }
                }
            }
        }
        Ok(())
    }

    fn take_token(&mut self, now: Instant) -> Result<(), Flood> {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * PER_SECOND).min(BURST);
        self.refilled_at = now;
        if self.tokens < 1.0 {
            return Err(Flood);
        }
        self.tokens -= 1.0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
        let mut out = vec![len[1], len[2], len[3], kind, 0, 0, 0, 0, 0];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn counts_pings_and_settings_in_any_split_and_refills_over_time() {
        let start = Instant::now();
        let mut meter = FrameMeter::new(start);
        let mut stream = PREFACE.to_vec();
        stream.extend(frame(SETTINGS, &[0; 6]));
        stream.extend(frame(0x1, &[0; 40])); // HEADERS: not counted
        stream.extend(frame(0x0, &[])); // empty DATA: not counted
        for _ in 0..(BURST as usize - 1) {
            stream.extend(frame(PING, &[7; 8]));
        }
        // Byte by byte: the parser keeps its place across reads.
        for b in &stream {
            meter.observe(std::slice::from_ref(b), start).unwrap();
        }
        let ping = frame(PING, &[7; 8]);
        assert_eq!(meter.observe(&ping, start), Err(Flood));

        // The bucket refills: a second after the burst, PER_SECOND more are allowed.
        let mut meter = FrameMeter::new(start);
        let pings = |n: usize| ping.repeat(n);
        meter.observe(PREFACE, start).unwrap();
        meter.observe(&pings(BURST as usize), start).unwrap();
        let later = start + Duration::from_secs(1);
        meter.observe(&pings(PER_SECOND as usize), later).unwrap();
        assert_eq!(meter.observe(&ping, later), Err(Flood));
    }

    #[test]
    fn keepalive_pings_are_fine_and_http1_is_not_followed() {
        let start = Instant::now();
        let mut meter = FrameMeter::new(start);
        meter.observe(PREFACE, start).unwrap();
        for i in 0..10_000u64 {
            let now = start + Duration::from_millis(100 * i);
            meter.observe(&frame(PING, &[0; 8]), now).unwrap();
        }
        let mut http1 = FrameMeter::new(start);
        let request = b"POST / HTTP/1.1\r\nHost: x\r\n\r\n";
        for _ in 0..10_000 {
            http1.observe(request, start).unwrap();
        }
    }
}
