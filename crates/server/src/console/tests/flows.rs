//! The console's flows end to end through its router: the queue list (counts,
//! dead-letter relations, filter, pagination over many queues), the queue
//! page (peek that changes nothing, safe rendering, chart), and every action
//! (send, purge, delete message, attributes, tags, redrive, create, delete).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use engine::{AttributeValue, QueueRef, SendEntry};

use super::{page_of, Mode, TestConsole, ANON};

/// The `<tr data-queue="name">…</tr>` of a queue in a list page.
fn row<'a>(body: &'a str, name: &str) -> &'a str {
    let start = body
        .find(&format!("<tr data-queue=\"{name}\">"))
        .unwrap_or_else(|| panic!("no row for {name} in {body}"));
    let end = body[start..].find("</tr>").unwrap() + start;
    &body[start..end]
}

/// The text of `<… data-col="col">TEXT<` inside `html`.
fn col<'a>(html: &'a str, col: &str) -> &'a str {
    let marker = format!("data-col=\"{col}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {col} in {html}"))
        + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    &html[start..end]
}

/// The flash message shown on the page after a redirect.
async fn flash(t: &TestConsole, location: &str, cookie: &str) -> String {
    let page = t.get(location, cookie).await;
    assert_eq!(page.status, StatusCode::OK, "{location}: {}", page.body);
    let start = page
        .body
        .find("class=\"flash")
        .unwrap_or_else(|| panic!("no flash on {location}: {}", page.body));
    let start = page.body[start..].find('>').unwrap() + start + 1;
    let end = page.body[start..].find("</p>").unwrap() + start;
    page.body[start..end].to_owned()
}

/// POSTs a console form and returns the flash message it leaves.
async fn act(t: &TestConsole, cookie: &str, path: &str, form: &[(&str, &str)]) -> String {
    let r = t.post(path, cookie, form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}: {}", r.body);
    flash(t, r.location(), cookie).await
}

#[tokio::test]
async fn queue_list_shows_counts_dead_letters_retention_and_refreshes() {
    let t = TestConsole::new(Mode::Anonymous).await;
    let dlq = t.create(ANON, "work-dlq", &[]).await;
    let redrive = format!(
        "{{\"deadLetterTargetArn\":\"{}\",\"maxReceiveCount\":3}}",
        t.engine.queue_arn(&dlq)
    );
    let work = t.create(ANON, "work", &[("RedrivePolicy", &redrive)]).await;
    t.create(
        ANON,
        "jobs.fifo",
        &[("FifoQueue", "true"), ("MessageRetentionPeriod", "3600")],
    )
    .await;
    for i in 0..3 {
        t.send_body(&work, &format!("m{i}")).await;
    }
    assert_eq!(t.receive(&work, 1, 300).await.len(), 1);
    t.send(
        &work,
        SendEntry {
            body: "later".into(),
            delay_seconds: Some(600),
            ..SendEntry::default()
        },
    )
    .await;

    let (cookie, _) = t.session("").await;
    let list = t.get("/console/", &cookie).await;
    assert!(list
        .body
        .contains("<span data-count=\"queues\">3</span> queues"));
    let work_row = row(&list.body, "work");
    assert_eq!(col(work_row, "visible"), "2");
    assert_eq!(col(work_row, "in-flight"), "1");
    assert_eq!(col(work_row, "delayed"), "1");
    assert!(work_row.contains("Standard") && work_row.contains("4 d"));
    assert!(work_row.contains("redrives to <a href=\"/console/queues/000000000000/work-dlq\">"));
    let dlq_row = row(&list.body, "work-dlq");
    assert!(
        dlq_row.contains("DLQ</span> for <a href=\"/console/queues/000000000000/work\">work</a>")
    );
    let fifo_row = row(&list.body, "jobs.fifo");
    assert!(
        fifo_row.contains("FIFO") && fifo_row.contains(">1 h<"),
        "{fifo_row}"
    );
    assert!(list
        .body
        .contains("data-refresh=\"/console/fragments/queues?q=&amp;page=1\""));

    // The fragment the page polls shows new figures without a reload.
    t.send_body(&work, "m3").await;
    let fragment = t.get("/console/fragments/queues?q=&page=1", &cookie).await;
    assert!(!fragment.body.contains("<html"));
    assert_eq!(col(row(&fragment.body, "work"), "visible"), "3");

    // Filter by name, any case.
    let filtered = t
        .get("/console/fragments/queues?q=JOBS&page=1", &cookie)
        .await;
    assert!(filtered.body.contains("jobs.fifo") && !filtered.body.contains("work"));
    assert!(filtered.body.contains("matching “JOBS”"));
}

/// Pagination and filtering over many queues: 10,000 with
/// `STOWAGE_SLOW_TESTS=1`, else 1,200 (creating a queue takes a few
/// milliseconds in a debug build: 10,000 take about 40 s).
#[tokio::test]
async fn many_queues_paginate_and_filter() {
    let slow = std::env::var("STOWAGE_SLOW_TESTS").is_ok_and(|v| v == "1");
    let n: usize = if slow { 10_000 } else { 1_200 };
    let pages = n / 50;
    let t = TestConsole::new(Mode::Anonymous).await;
    let started = Instant::now();
    for i in 0..n {
        t.create(ANON, &format!("q-{i:05}"), &[]).await;
    }
    eprintln!("created {n} queues in {:?}", started.elapsed());
    let (cookie, _) = t.session("").await;
    let started = Instant::now();
    let first = t.get("/console/", &cookie).await;
    eprintln!("rendered page 1 of {n} queues in {:?}", started.elapsed());
    assert!(first.body.contains(&format!(
        "<span data-count=\"queues\">{}</span> queues",
        super::super::html::count(n as u64)
    )));
    assert_eq!(first.body.matches("<tr data-queue=").count(), 50);
    assert!(
        first.body.contains("data-queue=\"q-00000\"")
            && first.body.contains("data-queue=\"q-00049\"")
    );
    assert!(first.body.contains(&format!("Page 1 of {pages}")));
    assert!(first
        .body
        .contains("href=\"/console/?q=&amp;page=2\" rel=\"next\""));

    let last = t
        .get(&format!("/console/fragments/queues?page={pages}"), &cookie)
        .await;
    assert_eq!(last.body.matches("<tr data-queue=").count(), 50);
    assert!(last
        .body
        .contains(&format!("data-queue=\"q-{:05}\"", n - 50)));
    assert!(last
        .body
        .contains(&format!("data-queue=\"q-{:05}\"", n - 1)));
    assert!(
        last.body.contains(&format!("Page {pages} of {pages}"))
            && !last.body.contains("rel=\"next\"")
    );
    // Past the end: the last page; junk: the first.
    let beyond = t.get("/console/fragments/queues?page=99999", &cookie).await;
    assert!(beyond.body.contains(&format!("Page {pages} of {pages}")));
    let junk = t.get("/console/fragments/queues?page=abc", &cookie).await;
    assert!(junk.body.contains(&format!("Page 1 of {pages}")));

    let filtered = t.get("/console/?q=q-0011", &cookie).await;
    assert!(filtered
        .body
        .contains("<span data-count=\"queues\">10</span> queues"));
    assert_eq!(filtered.body.matches("<tr data-queue=").count(), 10);
    assert!(!filtered.body.contains("Page 1 of"));
}

#[tokio::test]
async fn peek_changes_nothing_and_renders_messages_safely() {
    let t = TestConsole::new(Mode::Anonymous).await;
    let q = t.create(ANON, "peeky", &[]).await;
    let hostile = "<script>alert(1)</script> & \"quotes\" 'single'";
    let hostile_id = t
        .send(
            &q,
            SendEntry {
                body: hostile.into(),
                attributes: BTreeMap::from([
                    (
                        "label".to_owned(),
                        AttributeValue {
                            data_type: "String".into(),
                            value: b"<b>bold</b>".to_vec(),
                        },
                    ),
                    (
                        "raw".to_owned(),
                        AttributeValue {
                            data_type: "Binary".into(),
                            value: vec![0, 1, 2, 255],
                        },
                    ),
                ]),
                ..SendEntry::default()
            },
        )
        .await;
    let large = format!("{}END-OF-BODY", "x".repeat(10_000));
    t.send_body(&q, &large).await;
    // One message in flight (received once).
    let in_flight = t.send_body(&q, "in flight").await;
    let received = t.receive(&q, 3, 600).await;
    assert_eq!(received.len(), 3);
    // Make the other two visible again; only `in flight` stays invisible.
    for m in &received {
        if m.message_id != in_flight {
            t.engine
                .change_message_visibility(&TestConsole::caller(ANON), &q, &m.receipt_handle, 0)
                .await
                .unwrap();
        }
    }
    async fn counts(t: &TestConsole, q: &QueueRef) -> (String, String) {
        (
            t.attribute(q, "ApproximateNumberOfMessages").await,
            t.attribute(q, "ApproximateNumberOfMessagesNotVisible")
                .await,
        )
    }
    let before = counts(&t, &q).await;
    assert_eq!(before, ("2".into(), "1".into()));

    let (cookie, _) = t.session("").await;
    for _ in 0..3 {
        let page = t.get(&page_of(&q), &cookie).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#39;single&#39;"
        ));
        assert!(!page.body.contains("<script>alert"));
        assert!(page.body.contains("&lt;b&gt;bold&lt;/b&gt;"));
        assert!(page.body.contains("AAEC/w=="), "binary attribute as base64");
        assert!(page.body.contains("In flight (visible again"));
        assert!(page
            .body
            .contains(&format!("data-message-id=\"{hostile_id}\"")));
        // The large body is cut, with a link to all of it.
        assert!(!page.body.contains("END-OF-BODY"));
        assert!(page.body.contains("Showing 2,048 of 10,011 bytes."));
    }
    let page = t.get(&page_of(&q), &cookie).await;
    let start = page.body.find("/message?after=").unwrap();
    let href_start = page.body[..start].rfind('"').unwrap() + 1;
    let href_end = page.body[start..].find('"').unwrap() + start;
    let href = page.body[href_start..href_end].replace("&amp;", "&");
    let full = t.get(&href, &cookie).await;
    assert_eq!(full.status, StatusCode::OK, "{href}");
    assert!(full.body.contains("END-OF-BODY"));

    // Nothing changed: same counts, and each visible message's first real
    // receive reports the count the earlier receive left (1), not more.
    assert_eq!(counts(&t, &q).await, before);
    let again = t.receive(&q, 10, 600).await;
    assert_eq!(again.len(), 2, "the in-flight message stays invisible");
    for m in again {
        assert_eq!(m.attributes["ApproximateReceiveCount"], "2");
    }
}

#[tokio::test]
async fn send_delete_purge_create_and_delete_through_the_console() {
    let t = TestConsole::new(Mode::Anonymous).await;
    let (cookie, csrf) = t.session("").await;
    // Create a standard and a FIFO queue.
    let said = act(
        &t,
        &cookie,
        "/console/queues",
        &[("csrf", &csrf), ("name", "made")],
    )
    .await;
    assert_eq!(said, "Created queue made.");
    let said = act(
        &t,
        &cookie,
        "/console/queues",
        &[
            ("csrf", &csrf),
            ("name", "made.fifo"),
            ("content_based_deduplication", "true"),
        ],
    )
    .await;
    assert_eq!(said, "Created queue made.fifo.");
    let said = act(
        &t,
        &cookie,
        "/console/queues",
        &[("csrf", &csrf), ("name", "bad name!")],
    )
    .await;
    assert!(said.starts_with("InvalidParameterValue:"), "{said}");
    let made = QueueRef {
        account: ANON.into(),
        name: "made".into(),
    };
    let fifo = QueueRef {
        account: ANON.into(),
        name: "made.fifo".into(),
    };
    assert_eq!(
        t.attribute(&fifo, "ContentBasedDeduplication").await,
        "true"
    );

    // Send with attributes; the SQS API receives exactly that.
    let send = format!("{}/send", page_of(&made));
    let said = act(
        &t,
        &cookie,
        &send,
        &[
            ("csrf", &csrf),
            ("body", "hello\r\nconsole"),
            ("attr1_name", "color"),
            ("attr1_type", "String"),
            ("attr1_value", "blue"),
            ("attr2_name", "raw"),
            ("attr2_type", "Binary"),
            ("attr2_value", "AAEC"),
            ("attr3_name", ""),
        ],
    )
    .await;
    assert!(said.starts_with("Sent message "), "{said}");
    let got = t
        .engine
        .receive_message(
            &TestConsole::caller(ANON),
            &made,
            engine::ReceiveRequest {
                message_attribute_names: vec!["All".into()],
                system_attribute_names: vec!["All".into()],
                visibility_timeout: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "hello\nconsole");
    assert_eq!(got[0].message_attributes["color"].value, b"blue");
    assert_eq!(got[0].message_attributes["raw"].value, vec![0, 1, 2]);
    assert_eq!(got[0].attributes["SenderId"], "anonymous");
    // The engine's validation answers, with the SQS code.
    let said = act(
        &t,
        &cookie,
        &send,
        &[
            ("csrf", &csrf),
            ("body", "x"),
            ("attr1_name", "b"),
            ("attr1_type", "Binary"),
            ("attr1_value", "not base64!"),
        ],
    )
    .await;
    assert_eq!(said, "Attribute b: a Binary value must be base64.");
    let said = act(
        &t,
        &cookie,
        &send,
        &[("csrf", &csrf), ("body", "x"), ("delay_seconds", "901")],
    )
    .await;
    assert!(said.starts_with("InvalidParameterValue:"), "{said}");
    let fifo_send = format!("{}/send", page_of(&fifo));
    let said = act(
        &t,
        &cookie,
        &fifo_send,
        &[("csrf", &csrf), ("body", "no group")],
    )
    .await;
    assert!(said.starts_with("MissingParameter:"), "{said}");
    let said = act(
        &t,
        &cookie,
        &fifo_send,
        &[("csrf", &csrf), ("body", "grouped"), ("group_id", "g1")],
    )
    .await;
    assert!(said.starts_with("Sent message "), "{said}");
    let page = t.get(&page_of(&fifo), &cookie).await;
    assert!(page.body.contains("<dt>Message group</dt><dd>g1</dd>"));
    assert!(page.body.contains("<dt>Sequence number</dt>"));

    // Delete one message from peek.
    let id = t.send_body(&made, "delete me").await;
    assert_eq!(t.attribute(&made, "ApproximateNumberOfMessages").await, "2");
    let delete = format!("{}/messages/delete", page_of(&made));
    let said = act(
        &t,
        &cookie,
        &delete,
        &[("csrf", &csrf), ("message_id", &id)],
    )
    .await;
    assert_eq!(said, format!("Deleted message {id}."));
    assert_eq!(t.attribute(&made, "ApproximateNumberOfMessages").await, "1");
    let said = act(
        &t,
        &cookie,
        &delete,
        &[("csrf", &csrf), ("message_id", &id)],
    )
    .await;
    assert!(said.contains("no longer in the queue"), "{said}");

    // Purge needs the confirmation, and SQS's once-a-minute rule applies.
    let purge = format!("{}/purge", page_of(&made));
    let said = act(&t, &cookie, &purge, &[("csrf", &csrf)]).await;
    assert!(said.starts_with("Nothing purged"), "{said}");
    assert_eq!(t.attribute(&made, "ApproximateNumberOfMessages").await, "1");
    let said = act(&t, &cookie, &purge, &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(said, "Purged made.");
    assert_eq!(t.attribute(&made, "ApproximateNumberOfMessages").await, "0");
    let said = act(&t, &cookie, &purge, &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert!(
        said.starts_with("AWS.SimpleQueueService.PurgeQueueInProgress:"),
        "{said}"
    );

    // Delete the queue: only with its exact name typed.
    let delete_queue = format!("{}/delete", page_of(&made));
    let said = act(
        &t,
        &cookie,
        &delete_queue,
        &[("csrf", &csrf), ("confirm_name", "mad")],
    )
    .await;
    assert!(said.starts_with("Not deleted"), "{said}");
    let r = t
        .post(
            &delete_queue,
            &cookie,
            &[("csrf", &csrf), ("confirm_name", "made")],
        )
        .await;
    assert_eq!(r.location(), "/console/");
    assert_eq!(flash(&t, "/console/", &cookie).await, "Deleted queue made.");
    assert_eq!(t.engine.queue_gauges().await.unwrap().len(), 1);
    assert_eq!(
        t.get(&page_of(&made), &cookie).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn attributes_and_tags_are_edited_with_the_sqs_validation() {
    let t = TestConsole::new(Mode::Anonymous).await;
    let q = t.create(ANON, "tuned", &[]).await;
    let dlq = t.create(ANON, "tuned-dlq", &[]).await;
    let (cookie, csrf) = t.session("").await;
    let page = t.get(&page_of(&q), &cookie).await;
    assert!(page.body.contains("<label for=\"attr-VisibilityTimeout\">"));
    assert!(page.body.contains(
        "name=\"VisibilityTimeout\" type=\"number\" min=\"0\" max=\"43200\" value=\"30\""
    ));
    let attributes = format!("{}/attributes", page_of(&q));
    // The whole form as a browser submits it, unchanged: nothing to do.
    let unchanged = [
        ("csrf", csrf.as_str()),
        ("VisibilityTimeout", "30"),
        ("DelaySeconds", "0"),
        ("MaximumMessageSize", "1048576"),
        ("MessageRetentionPeriod", "345600"),
        ("ReceiveMessageWaitTimeSeconds", "0"),
        ("RedrivePolicy", ""),
        ("Policy", ""),
    ];
    assert_eq!(
        act(&t, &cookie, &attributes, &unchanged).await,
        "Nothing changed."
    );
    let said = act(
        &t,
        &cookie,
        &attributes,
        &[("csrf", &csrf), ("VisibilityTimeout", "99999")],
    )
    .await;
    assert!(said.starts_with("InvalidAttributeValue:"), "{said}");
    assert_eq!(t.attribute(&q, "VisibilityTimeout").await, "30");
    let said = act(
        &t,
        &cookie,
        &attributes,
        &[
            ("csrf", &csrf),
            ("VisibilityTimeout", "45"),
            ("DelaySeconds", "0"),
        ],
    )
    .await;
    assert_eq!(said, "Saved VisibilityTimeout.");
    assert_eq!(t.attribute(&q, "VisibilityTimeout").await, "45");
    let said = act(
        &t,
        &cookie,
        &attributes,
        &[("csrf", &csrf), ("Policy", "{not json")],
    )
    .await;
    assert!(said.starts_with("InvalidAttributeValue:"), "{said}");
    // A redrive policy typed in a text area (CRLF line ends).
    let redrive = format!(
        "{{\r\n  \"deadLetterTargetArn\": \"{}\",\r\n  \"maxReceiveCount\": 4\r\n}}",
        t.engine.queue_arn(&dlq)
    );
    let said = act(
        &t,
        &cookie,
        &attributes,
        &[("csrf", &csrf), ("RedrivePolicy", &redrive)],
    )
    .await;
    assert_eq!(said, "Saved RedrivePolicy.");
    assert!(t
        .attribute(&q, "RedrivePolicy")
        .await
        .contains("\"maxReceiveCount\":4"));
    let list = t.get("/console/", &cookie).await;
    assert!(row(&list.body, "tuned-dlq").contains("DLQ</span> for"));
    let said = act(
        &t,
        &cookie,
        &attributes,
        &[("csrf", &csrf), ("RedrivePolicy", "")],
    )
    .await;
    assert_eq!(said, "Saved RedrivePolicy.");
    assert_eq!(t.attribute(&q, "RedrivePolicy").await, "");

    // Tags.
    let said = act(
        &t,
        &cookie,
        &format!("{}/tags", page_of(&q)),
        &[("csrf", &csrf), ("key", "team"), ("value", "<blue>")],
    )
    .await;
    assert_eq!(said, "Tagged team = &lt;blue&gt;.");
    let page = t.get(&page_of(&q), &cookie).await;
    assert!(page
        .body
        .contains("<th scope=\"row\">team</th><td>&lt;blue&gt;</td>"));
    let tags = t
        .engine
        .list_queue_tags(&TestConsole::caller(ANON), &q)
        .await
        .unwrap();
    assert_eq!(tags["team"], "<blue>");
    let said = act(
        &t,
        &cookie,
        &format!("{}/untag", page_of(&q)),
        &[("csrf", &csrf), ("key", "team")],
    )
    .await;
    assert_eq!(said, "Removed tag team.");
    assert!(t
        .engine
        .list_queue_tags(&TestConsole::caller(ANON), &q)
        .await
        .unwrap()
        .is_empty());
}

/// Moves every message of `source` into its DLQ (maxReceiveCount 1).
async fn dead_letter_all(t: &TestConsole, source: &QueueRef) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while t.attribute(source, "ApproximateNumberOfMessages").await != "0"
        || t.attribute(source, "ApproximateNumberOfMessagesNotVisible")
            .await
            != "0"
    {
        assert!(Instant::now() < deadline, "messages did not reach the DLQ");
        t.receive(source, 10, 0).await;
    }
}

#[tokio::test]
async fn redrive_starts_shows_progress_and_cancels() {
    let t = TestConsole::new(Mode::Anonymous).await;
    let dlq = t.create(ANON, "orders-dlq", &[]).await;
    let redrive = format!(
        "{{\"deadLetterTargetArn\":\"{}\",\"maxReceiveCount\":1}}",
        t.engine.queue_arn(&dlq)
    );
    let orders = t
        .create(ANON, "orders", &[("RedrivePolicy", &redrive)])
        .await;
    for i in 0..3 {
        t.send_body(&orders, &format!("order {i}")).await;
    }
    dead_letter_all(&t, &orders).await;
    assert_eq!(t.attribute(&dlq, "ApproximateNumberOfMessages").await, "3");

    let (cookie, csrf) = t.session("").await;
    let page = t.get(&page_of(&dlq), &cookie).await;
    assert!(page.body.contains("This is the dead-letter queue of <a href=\"/console/queues/000000000000/orders\">orders</a>"));
    assert!(page
        .body
        .contains("Dead-letter source</dt><dd>arn:aws:sqs:us-east-1:000000000000:orders"));
    // The source queue's page does not offer a redrive (it is no DLQ).
    let source_page = t.get(&page_of(&orders), &cookie).await;
    assert!(!source_page.body.contains("/redrive/start"));
    let said = act(
        &t,
        &cookie,
        &format!("{}/redrive/start", page_of(&orders)),
        &[("csrf", &csrf)],
    )
    .await;
    assert!(said.starts_with("InvalidParameterValue:"), "{said}");

    let start = format!("{}/redrive/start", page_of(&dlq));
    let said = act(&t, &cookie, &start, &[("csrf", &csrf), ("rate", "fast")]).await;
    assert_eq!(said, "Messages per second must be a whole number.");
    let said = act(
        &t,
        &cookie,
        &start,
        &[("csrf", &csrf), ("destination_arn", ""), ("rate", "")],
    )
    .await;
    assert_eq!(said, "Started a redrive task.");
    let live_url = format!("{}/live", page_of(&dlq));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let live = t.get(&live_url, &cookie).await;
        if live.body.contains("data-task-status=\"COMPLETED\"") {
            assert!(live.body.contains("data-moved=\"3\""), "{}", live.body);
            assert!(live.body.contains("<progress max=\"3\" value=\"3\""));
            break;
        }
        assert!(
            live.body.contains("data-task-status=\"RUNNING\""),
            "{}",
            live.body
        );
        assert!(Instant::now() < deadline, "the redrive did not finish");
        t.engine.tick().await.unwrap();
    }
    assert_eq!(
        t.attribute(&orders, "ApproximateNumberOfMessages").await,
        "3"
    );
    assert_eq!(t.attribute(&dlq, "ApproximateNumberOfMessages").await, "0");

    // Start a slow one and cancel it from the progress table.
    dead_letter_all(&t, &orders).await;
    let said = act(&t, &cookie, &start, &[("csrf", &csrf), ("rate", "1")]).await;
    assert_eq!(said, "Started a redrive task.");
    let live = t.get(&live_url, &cookie).await;
    let marker = "name=\"task_handle\" value=\"";
    let at = live.body.find(marker).expect("a cancel button") + marker.len();
    let handle = live.body[at..]
        .split('"')
        .next()
        .expect("the handle ends with a quote");
    let said = act(
        &t,
        &cookie,
        &format!("{}/redrive/cancel", page_of(&dlq)),
        &[("csrf", &csrf), ("task_handle", handle)],
    )
    .await;
    assert!(
        said.starts_with("Cancelled the redrive task after"),
        "{said}"
    );
    let live = t.get(&live_url, &cookie).await;
    assert!(
        live.body.contains("data-task-status=\"CANCELLED\""),
        "{}",
        live.body
    );
    assert!(!live.body.contains(marker));
}

#[tokio::test]
async fn the_chart_plots_the_sampled_counters() {
    let t = TestConsole::new(Mode::Anonymous).await;
    let q = t.create(ANON, "busy", &[]).await;
    let (cookie, _) = t.session("").await;
    // Two closed buckets: 4 sent / 2 received / 1 deleted, then 1 sent.
    for _ in 0..4 {
        t.send_body(&q, "x").await;
    }
    let got = t.receive(&q, 2, 600).await;
    t.engine
        .delete_message(&TestConsole::caller(ANON), &q, &got[0].receipt_handle)
        .await
        .unwrap();
    t.console
        .shared
        .history
        .sample(&t.engine.queue_gauges().await.unwrap());
    t.send_body(&q, "y").await;
    t.console
        .shared
        .history
        .sample(&t.engine.queue_gauges().await.unwrap());
    t.send_body(&q, "z").await; // the bucket being filled

    let live = t.get(&format!("{}/live", page_of(&q)), &cookie).await;
    assert!(live
        .body
        .contains("<svg viewBox=\"0 0 960 200\" role=\"img\""));
    assert!(live
        .body
        .contains("In the last hour: 6 sent, 2 received, 1 deleted"));
    let sent = polyline(&live.body, "sent");
    assert_eq!(sent.len(), 3, "two closed buckets and the current one");
    // y grows downwards; the scale tops at 5 (nice ceiling of 4).
    let ys: Vec<f64> = sent.iter().map(|p| p.1).collect();
    assert!(ys[0] < ys[1] && (ys[1] - ys[2]).abs() < 0.01, "{ys:?}");
    let xs: Vec<f64> = sent.iter().map(|p| p.0).collect();
    assert!(
        xs[0] < xs[1] && xs[1] < xs[2] && (xs[2] - 946.0).abs() < 0.01,
        "{xs:?}"
    );
    assert_eq!(polyline(&live.body, "received").len(), 3);
    assert!(live.body.contains("<span data-total=\"deleted\">1</span>"));
}

/// The points of `<polyline class="line {class}" points="…">`.
fn polyline(html: &str, class: &str) -> Vec<(f64, f64)> {
    let marker = format!("<polyline class=\"line {class}\" points=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .split(' ')
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}
