//! The web console in a real browser: Debian's `chromium` driven through
//! `chromedriver` (WebDriver, with the fantoccini client). Queues and
//! messages are made through the SQS API, then the test opens the console,
//! checks the counts and the live refresh, filters, peeks (and checks through
//! the API that visibility and receive counts did not change), sends, purges,
//! redrives, creates and deletes a queue, checks every form field has a
//! label and that phone widths do not scroll sideways. Screenshots of the
//! queue list and a queue page go to `target/console-screenshots/` (kept by CI).
//!
//! The browser is `$STOWAGE_CHROMIUM` or `chromium` on the PATH, the driver
//! `$STOWAGE_CHROMEDRIVER` or `chromedriver` (Debian: `apt-get install
//! chromium chromium-driver`; `.ci/run` installs them). Without them the test
//! says so and is skipped.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client as Sqs;
use fantoccini::{Client as Browser, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::common::{create_queue, create_queue_with, queue_arn, queue_attr, string_attr};
use crate::harness::{TestServer, ACCOUNT};
use crate::python_clients::workspace_root;

/// Longest wait for anything the browser shows (a slow, loaded machine).
const WAIT: Duration = Duration::from_secs(45);
/// How long chromedriver may take to listen.
const DRIVER_START: Duration = Duration::from_secs(30);

/// Flags that keep Chromium from reaching for the (closed) network or a GPU.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
];

/// `name` on the PATH, or `$var`.
fn find_program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// A chromedriver child on a free loopback port, stopped by PID on drop
/// (after ending the browser session, so Chromium exits too).
struct Driver {
    child: Child,
    addr: SocketAddr,
    session: Option<String>,
    profile: tempfile::TempDir,
}

impl Driver {
    fn start(path: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", path.display()));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut driver = Driver {
            child,
            addr,
            session: None,
            profile: tempfile::tempdir().expect("profile dir"),
        };
        let deadline = Instant::now() + DRIVER_START;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err() {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!("chromedriver exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn browser(&mut self, chromium: &Path) -> Browser {
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", self.profile.path().display()));
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": { "binary": chromium.display().to_string(), "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url())
            .await
            .expect("a Chromium session through chromedriver");
        self.session = browser.session_id().await.ok().flatten();
        browser
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // End the session (Chromium exits with it), then stop the driver.
        if let Some(id) = &self.session {
            if let Ok(mut s) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = write!(
                    s,
                    "DELETE /session/{id} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                    self.addr
                );
                let _ = std::io::Read::read_to_end(&mut s, &mut Vec::new());
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/console-screenshots/` (under `$CARGO_TARGET_DIR` when set).
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("create the screenshot directory");
    dir
}

/// What the test drives: the browser, the console's base URL, the SQS client.
struct Run {
    browser: Browser,
    base: String,
    sqs: Sqs,
    endpoint: String,
}

impl Run {
    async fn open(&self, path: &str) {
        self.browser
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// Evaluates a JavaScript expression.
    async fn eval(&self, expression: &str) -> Value {
        self.browser
            .execute(&format!("return ({expression});"), vec![])
            .await
            .unwrap_or_else(|e| panic!("evaluate {expression}: {e}"))
    }

    /// Waits (up to [`WAIT`]) until the expression is true.
    async fn wait_until(&self, expression: &str, what: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            if self.eval(expression).await == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                let text = self
                    .eval("document.body ? document.body.innerText.slice(0, 3000) : ''")
                    .await;
                panic!(
                    "timed out waiting for {what} ({expression}); the page says:\n{}",
                    text.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The first element matching `css` (waiting for it).
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.browser
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
    }

    /// The text of the first element matching `css`.
    async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("text of {css}: {e}"))
    }

    async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Submits a form by clicking its button and waits for the next page's flash message.
    async fn submit(&self, button_css: &str) -> String {
        self.eval("(document.body.dataset.step = 'before-submit', true)")
            .await;
        self.click(button_css).await;
        self.wait_until(
            "document.body.dataset.step !== 'before-submit' && document.readyState === 'complete'",
            &format!("the answer to {button_css}"),
        )
        .await;
        match self
            .eval(
                "document.querySelector('.flash') && document.querySelector('.flash').textContent",
            )
            .await
        {
            Value::String(text) => text,
            _ => panic!(
                "no message after {button_css}; the page says:\n{}",
                self.eval("document.body.innerText.slice(0, 3000)").await
            ),
        }
    }

    async fn screenshot(&self, name: &str) {
        let png = self.browser.screenshot().await.expect("screenshot");
        let path = screenshot_dir().join(name);
        std::fs::write(&path, png).expect("write the screenshot");
        eprintln!("console screenshot: {}", path.display());
    }

    /// Form fields without a label (by name or id).
    async fn unlabelled_fields(&self) -> Value {
        self.eval(
            "[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]\
             .filter(e => e.labels.length === 0).map(e => e.name || e.id)",
        )
        .await
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{ACCOUNT}/{name}", self.endpoint)
    }

    async fn count(&self, name: &str, attribute: QueueAttributeName) -> String {
        queue_attr(&self.sqs, &self.url(name), attribute).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_a_real_browser() {
    let (Some(chromium), Some(chromedriver)) = (
        find_program(
            "STOWAGE_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        ),
        find_program("STOWAGE_CHROMEDRIVER", &["chromedriver"]),
    ) else {
        eprintln!(
            "SKIPPED console_in_a_real_browser: no chromium and chromedriver found \
             (apt-get install chromium chromium-driver, or set STOWAGE_CHROMIUM and \
             STOWAGE_CHROMEDRIVER)"
        );
        return;
    };
    let started = Instant::now();
    let server = TestServer::start_default();
    let mut driver = Driver::start(&chromedriver);
    let browser = driver.browser(&chromium).await;
    let run = Run {
        browser: browser.clone(),
        base: server.endpoint(),
        sqs: server.client(),
        endpoint: server.endpoint(),
    };
    // Run the steps in a task so that a failure still ends the browser session.
    let steps = tokio::spawn(async move {
        steps(&run).await;
    })
    .await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(e) = steps {
        std::panic::resume_unwind(e.into_panic());
    }
    eprintln!("console browser test took {:?}", started.elapsed());
}

async fn steps(run: &Run) {
    let sqs = &run.sqs;
    // --- data through the SQS API ---
    let orders = create_queue(sqs, "orders").await;
    let dlq = create_queue(sqs, "payments-dlq").await;
    let redrive = format!(
        "{{\"deadLetterTargetArn\":\"{}\",\"maxReceiveCount\":\"1\"}}",
        queue_arn(sqs, &dlq).await
    );
    let payments = create_queue_with(
        sqs,
        "payments",
        &[(QueueAttributeName::RedrivePolicy, &redrive)],
    )
    .await;
    create_queue(sqs, "events").await;
    for i in 0..5 {
        sqs.send_message()
            .queue_url(&orders)
            .message_body(format!("{{\"order\": {i}, \"note\": \"<b>bold</b>\"}}"))
            .message_attributes("kind", string_attr("test"))
            .send()
            .await
            .expect("send");
    }
    // One message in flight (received once).
    let in_flight = sqs
        .receive_message()
        .queue_url(&orders)
        .visibility_timeout(600)
        .send()
        .await
        .expect("receive");
    let in_flight_id = in_flight.messages()[0].message_id().unwrap().to_owned();
    // Two payments dead-lettered (maxReceiveCount 1: the second receive moves them).
    for i in 0..2 {
        sqs.send_message()
            .queue_url(&payments)
            .message_body(format!("payment {i}"))
            .send()
            .await
            .expect("send");
    }
    let deadline = Instant::now() + WAIT;
    while run
        .count(
            "payments-dlq",
            QueueAttributeName::ApproximateNumberOfMessages,
        )
        .await
        != "2"
    {
        assert!(
            Instant::now() < deadline,
            "payments did not reach their DLQ"
        );
        sqs.receive_message()
            .queue_url(&payments)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .expect("receive");
    }

    // --- the queue list: counts, dead-letter relation, live refresh, filter ---
    run.open("/console/").await;
    let visible = "tr[data-queue=\"orders\"] [data-col=\"visible\"]";
    assert_eq!(run.text(visible).await, "4");
    assert_eq!(
        run.text("tr[data-queue=\"orders\"] [data-col=\"in-flight\"]")
            .await,
        "1"
    );
    assert!(run
        .text("tr[data-queue=\"payments-dlq\"] td[data-label=\"Dead-letter\"]")
        .await
        .contains("DLQ for payments"));
    assert_eq!(
        run.unlabelled_fields().await,
        json!([]),
        "every list field has a label"
    );
    // Keyboard: the first Tab reaches the skip link.
    run.find("body")
        .await
        .send_keys("\u{E004}")
        .await
        .expect("press Tab");
    assert_eq!(
        run.eval("document.activeElement.className").await,
        json!("skip"),
        "the first Tab focuses the skip link"
    );
    run.screenshot("queue-list.png").await;
    sqs.send_message()
        .queue_url(&orders)
        .message_body("one more")
        .send()
        .await
        .expect("send");
    run.wait_until(
        &format!(
            "document.querySelector('{}').textContent === '5'",
            visible.replace('\'', "\\'")
        ),
        "the list to refresh itself with the new count",
    )
    .await;
    run.type_into("#q", "DLQ").await;
    run.wait_until(
        "document.querySelectorAll('tr[data-queue]').length === 1 && !!document.querySelector('tr[data-queue=\"payments-dlq\"]')",
        "the filter to leave only payments-dlq",
    )
    .await;
    assert!(run
        .eval("location.search")
        .await
        .as_str()
        .unwrap_or_default()
        .contains("q=DLQ"));

    // --- a phone width: nothing scrolls sideways ---
    run.browser.set_window_size(390, 844).await.expect("resize");
    run.open("/console/").await;
    run.wait_until(
        "!!document.querySelector('tr[data-queue=\"orders\"]')",
        "the list",
    )
    .await;
    assert_eq!(
        run.eval("document.documentElement.scrollWidth <= window.innerWidth + 1")
            .await,
        Value::Bool(true),
        "the list fits a phone width"
    );
    run.screenshot("queue-list-phone.png").await;
    run.browser
        .set_window_size(1280, 1000)
        .await
        .expect("resize");

    // --- the queue page: counts, peek (changes nothing) ---
    run.click("a[href=\"/console/queues/000000000000/orders\"]")
        .await;
    run.wait_until(
        "!!document.querySelector('#live [data-count=\"visible\"]')",
        "the orders page",
    )
    .await;
    assert_eq!(run.text("#live [data-count=\"visible\"]").await, "5");
    assert_eq!(run.text("#live [data-count=\"in-flight\"]").await, "1");
    assert_eq!(
        run.eval("document.querySelectorAll('article.msg').length")
            .await,
        json!(6)
    );
    let peeked_in_flight = format!("article[data-message-id=\"{in_flight_id}\"]");
    assert!(run.text(&peeked_in_flight).await.contains("In flight"));
    assert_eq!(
        run.text(&format!(
            "{peeked_in_flight} [data-field=\"receive-count\"]"
        ))
        .await,
        "1"
    );
    assert!(
        run.text("article.msg pre.body")
            .await
            .contains("<b>bold</b>"),
        "bodies shown as text"
    );
    assert_eq!(
        run.eval("document.querySelectorAll('article.msg b').length")
            .await,
        json!(0)
    );
    assert_eq!(
        run.unlabelled_fields().await,
        json!([]),
        "every queue page field has a label"
    );
    // Let the live region refresh a few times, then ask the API.
    run.wait_until(
        "Number(document.getElementById('live').dataset.refreshes || 0) >= 2",
        "two live refreshes of the queue page",
    )
    .await;
    run.browser.refresh().await.expect("reload");
    assert_eq!(
        run.count("orders", QueueAttributeName::ApproximateNumberOfMessages)
            .await,
        "5"
    );
    assert_eq!(
        run.count(
            "orders",
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible
        )
        .await,
        "1"
    );
    let received = sqs
        .receive_message()
        .queue_url(&orders)
        .max_number_of_messages(10)
        .visibility_timeout(600)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .expect("receive");
    assert_eq!(
        received.messages().len(),
        5,
        "the in-flight message stayed invisible"
    );
    for m in received.messages() {
        let count = m
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .map(String::as_str);
        assert_eq!(count, Some("1"), "peeking counted as a receive: {m:?}");
    }

    // --- attributes: the form as the browser submits it ---
    run.open("/console/queues/000000000000/orders").await;
    let said = run
        .submit("form[action$=\"/attributes\"] button[type=submit]")
        .await;
    assert_eq!(
        said, "Nothing changed.",
        "an untouched form changes nothing"
    );
    run.type_into("#attr-VisibilityTimeout", "45").await;
    let said = run
        .submit("form[action$=\"/attributes\"] button[type=submit]")
        .await;
    assert_eq!(said, "Saved VisibilityTimeout.");
    assert_eq!(
        run.count("orders", QueueAttributeName::VisibilityTimeout)
            .await,
        "45"
    );

    // --- send a test message with an attribute ---
    run.type_into("#send-body", "sent from the browser").await;
    run.type_into("#attr1-name", "origin").await;
    run.type_into("#attr1-value", "console").await;
    let said = run
        .submit("form[action$=\"/send\"] button[type=submit]")
        .await;
    assert!(said.starts_with("Sent message "), "{said}");
    let got = sqs
        .receive_message()
        .queue_url(&orders)
        .message_attribute_names("All")
        .send()
        .await
        .expect("receive");
    let sent = &got.messages()[0];
    assert_eq!(sent.body(), Some("sent from the browser"));
    assert_eq!(
        sent.message_attributes()
            .and_then(|a| a.get("origin"))
            .and_then(|v| v.string_value()),
        Some("console")
    );
    run.wait_until(
        "document.getElementById('live').textContent.includes('Sent: 7')",
        "the chart totals",
    )
    .await;
    run.eval("window.scrollTo(0, 0)").await;
    run.screenshot("queue-page.png").await;

    // --- purge, confirmed ---
    run.click("#purge-confirm").await;
    let said = run
        .submit("form[action$=\"/purge\"] button[type=submit]")
        .await;
    assert_eq!(said, "Purged orders.");
    assert_eq!(
        run.count("orders", QueueAttributeName::ApproximateNumberOfMessages)
            .await,
        "0"
    );
    assert_eq!(
        run.count(
            "orders",
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible
        )
        .await,
        "0"
    );

    // --- redrive the dead-letter queue and watch it finish ---
    run.open("/console/queues/000000000000/payments-dlq").await;
    assert!(run
        .text("#redrive-h + p")
        .await
        .contains("dead-letter queue of payments"));
    let said = run
        .submit("form[action$=\"/redrive/start\"] button[type=submit]")
        .await;
    assert_eq!(said, "Started a redrive task.");
    run.wait_until(
        "!!document.querySelector('#live tr[data-task-status=\"COMPLETED\"]')",
        "the redrive task to complete (live progress)",
    )
    .await;
    assert_eq!(
        run.text("#live tr[data-task-status=\"COMPLETED\"] [data-moved]")
            .await,
        "2 of 2"
    );
    assert_eq!(
        run.count("payments", QueueAttributeName::ApproximateNumberOfMessages)
            .await,
        "2"
    );
    assert_eq!(
        run.count(
            "payments-dlq",
            QueueAttributeName::ApproximateNumberOfMessages
        )
        .await,
        "0"
    );

    // --- create and delete a queue ---
    run.open("/console/").await;
    run.type_into("#create-name", "made-in-browser").await;
    let said = run
        .submit("form[action=\"/console/queues\"] button[type=submit]")
        .await;
    assert_eq!(said, "Created queue made-in-browser.");
    sqs.get_queue_url()
        .queue_name("made-in-browser")
        .send()
        .await
        .expect("the queue exists");
    run.type_into("#delete-confirm", "made-in-browser").await;
    let said = run
        .submit("form[action$=\"/delete\"] button[type=submit]")
        .await;
    assert_eq!(said, "Deleted queue made-in-browser.");
    assert!(sqs
        .get_queue_url()
        .queue_name("made-in-browser")
        .send()
        .await
        .is_err());
}
