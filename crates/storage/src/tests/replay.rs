//! Replay by kind: a reader that wants some record kinds gets exactly those,
//! in log order, and the payloads of the others are never decoded.

use crate::tests::support::{build, message, one_of_each, small_config};
use crate::wal::format::{self, RecordKind, HEADER_LEN};
use crate::wal::segment;
use crate::{Record, Storage};

fn is_queue(kind: RecordKind) -> bool {
    matches!(kind, RecordKind::QueueUpserted | RecordKind::QueueDeleted)
}

/// Across segments and batches, `replay_kinds` is `replay` filtered by kind.
#[test]
fn replay_kinds_is_replay_filtered_by_kind() {
    let mut batches: Vec<Vec<Record>> = one_of_each().into_iter().map(|r| vec![r]).collect();
    batches.extend((0..40u64).map(|i| {
        (0..3)
            .map(|j| Record::MessageSent(message(5, i * 3 + j, 300)))
            .collect()
    }));
    batches.extend(one_of_each().into_iter().map(|r| vec![r]));
    let cfg = small_config();
    let (dir, _) = build(batches, &cfg);
    let (s, _) = Storage::open(dir.path(), &cfg).unwrap();
    assert!(s.stats().segments > 3, "the log spans segments");
    let mut all = Vec::new();
    s.replay(&mut |pos, r| {
        all.push((pos, r));
        Ok(())
    })
    .unwrap();
    for want in [
        is_queue as fn(RecordKind) -> bool,
        |k| !is_queue(k),
        |_| false,
    ] {
        let mut got = Vec::new();
        s.replay_kinds(&want, &mut |pos, r| {
            got.push((pos, r));
            Ok(())
        })
        .unwrap();
        let expected: Vec<_> = all
            .iter()
            .filter(|(_, r)| want(RecordKind::of(r)))
            .cloned()
            .collect();
        assert_eq!(got, expected);
    }
}

/// A record that is not wanted is not decoded: a CRC-valid frame whose
/// payload is no record stops a full scan but not a scan that passes over
/// its kind.
#[test]
fn unwanted_payloads_are_not_decoded() {
    let queue_records: Vec<Record> = one_of_each()
        .into_iter()
        .filter(|r| is_queue(RecordKind::of(r)))
        .collect();
    assert!(queue_records.len() >= 2);
    let mut bytes = format::encode_header(1).to_vec();
    let mut lsn = 1;
    let mut frame = |bytes: &mut Vec<u8>, kind: RecordKind, payload: &[u8]| {
        format::encode_frame(bytes, kind, 0, lsn, payload);
        lsn += 1;
    };
    for r in &queue_records {
        let mut payload = Vec::new();
        let kind = format::encode_payload(r, &mut payload).unwrap();
        frame(&mut bytes, kind, &payload);
        // Between queue records: a message frame with a valid CRC whose
        // payload no decoder accepts.
        frame(&mut bytes, RecordKind::MessageSent, &[0xff; 7]);
    }
    let mut got = Vec::new();
    let out = segment::scan_kinds(1, &bytes, 1, &is_queue, &mut |_, _, r| {
        got.push(r);
        Ok(())
    })
    .unwrap();
    assert!(out.stop.is_none(), "{:?}", out.stop);
    assert_eq!(got, queue_records);
    assert_eq!(out.records, 2 * queue_records.len() as u64);
    assert_eq!(out.valid_len, bytes.len() as u64);

    let full = segment::scan(1, &bytes, 1, &mut |_, _, _| Ok(())).unwrap();
    let stop = full.stop.expect("a full scan decodes the bad payload");
    assert!(stop.reason.contains("undecodable"), "{}", stop.reason);
    assert!(stop.offset > HEADER_LEN as u64);
}
