//! No new unauthenticated surface: every console route refuses without a
//! session when credentials are configured, answers loopback clients only in
//! anonymous mode, and every change needs the CSRF token from the console's
//! own origin.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use super::{loopback, remote, Mode, TestConsole, ACCOUNT_A, ACCOUNT_B, ANON};

/// Every route the console serves, with a placeholder queue (`{a}`/`{q}`).
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/console"),
    ("GET", "/console/"),
    ("GET", "/console/?q=x&page=2"),
    ("GET", "/console/fragments/queues"),
    ("POST", "/console/logout"),
    ("POST", "/console/queues"),
    ("GET", "/console/queues/{a}/{q}"),
    ("GET", "/console/queues/{a}/{q}/live"),
    ("GET", "/console/queues/{a}/{q}/message?after=&index=0&id=x"),
    ("POST", "/console/queues/{a}/{q}/attributes"),
    ("POST", "/console/queues/{a}/{q}/tags"),
    ("POST", "/console/queues/{a}/{q}/untag"),
    ("POST", "/console/queues/{a}/{q}/send"),
    ("POST", "/console/queues/{a}/{q}/purge"),
    ("POST", "/console/queues/{a}/{q}/delete"),
    ("POST", "/console/queues/{a}/{q}/messages/delete"),
    ("POST", "/console/queues/{a}/{q}/redrive/start"),
    ("POST", "/console/queues/{a}/{q}/redrive/cancel"),
    ("GET", "/console/no/such/page"),
    ("POST", "/console/no/such/page"),
    ("GET", "/console/login"),
    ("POST", "/console/login"),
    ("GET", "/console/assets/console.css"),
    ("GET", "/console/assets/console.js"),
    ("GET", "/console/assets/icon.svg"),
];

/// Routes reachable without a session: the sign-in form and the static files
/// it needs (no queue data in any).
const PUBLIC: &[&str] = &[
    "/console",
    "/console/login",
    "/console/assets/console.css",
    "/console/assets/console.js",
    "/console/assets/icon.svg",
];

fn request(method: &str, path: &str, extra: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:9324")
        .header("content-type", "application/x-www-form-urlencoded");
    for (k, v) in extra {
        builder = builder.header(*k, *v);
    }
    let body = if method == "POST" {
        "csrf=guess&confirm=yes&name=new&body=x&message_id=x&key=k&access_key_id=AKIDA&secret_access_key=wrong"
    } else {
        ""
    };
    builder.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn with_credentials_every_route_refuses_without_a_session() {
    let t = TestConsole::new(Mode::Credentials).await;
    let q = t.create(ACCOUNT_A, "secret-queue", &[]).await;
    t.send_body(&q, "secret body").await;
    let bad_cookies = ["", "stowage_console=", "stowage_console=0123456789abcdef"];
    for (method, route) in ROUTES {
        let path = route
            .replace("{a}", ACCOUNT_A)
            .replace("{q}", "secret-queue");
        for cookie in bad_cookies {
            for peer in [loopback(), remote()] {
                let r = t
                    .send_from(peer, request(method, &path, &[("cookie", cookie)]))
                    .await;
                assert!(
                    !r.body.contains("secret-queue") && !r.body.contains("secret body"),
                    "{method} {path} leaked data: {}",
                    r.body
                );
                let public = PUBLIC.iter().any(|p| path == *p);
                if public {
                    assert!(
                        r.status.is_success()
                            || r.status.is_redirection()
                            || r.status == StatusCode::UNAUTHORIZED,
                        "{method} {path}: {}",
                        r.status
                    );
                } else if *method == "GET" {
                    assert_eq!(r.status, StatusCode::SEE_OTHER, "{method} {path}");
                    assert_eq!(r.location(), "/console/login", "{method} {path}");
                } else {
                    assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
                }
            }
        }
    }
    // Nothing was changed by any of those requests.
    assert_eq!(t.attribute(&q, "ApproximateNumberOfMessages").await, "1");
    assert_eq!(t.engine.queue_gauges().await.unwrap().len(), 1);
}

#[tokio::test]
async fn anonymous_mode_answers_loopback_only() {
    let t = TestConsole::new(Mode::Anonymous).await;
    let q = t.create(ANON, "local-queue", &[]).await;
    t.send_body(&q, "local body").await;
    let (cookie, csrf) = t.session("").await;
    let cookie_header = cookie.as_str();
    let refusals: [(std::net::SocketAddr, &[(&str, &str)]); 5] = [
        // Another machine, even with a valid session cookie.
        (remote(), &[]),
        // A proxy on loopback forwarding someone else's request.
        (loopback(), &[("x-forwarded-for", "192.0.2.9")]),
        (loopback(), &[("forwarded", "for=192.0.2.9")]),
        (loopback(), &[("x-real-ip", "192.0.2.9")]),
        // DNS rebinding: a foreign name resolving to 127.0.0.1.
        (loopback(), &[("host", "evil.example:9324")]),
    ];
    for (method, route) in ROUTES {
        let path = route.replace("{a}", ANON).replace("{q}", "local-queue");
        for (peer, extra) in &refusals {
            let mut headers = vec![("cookie", cookie_header)];
            headers.extend_from_slice(extra);
            let mut req = request(method, &path, &headers);
            if let Some((_, host)) = extra.iter().find(|(k, _)| *k == "host") {
                req.headers_mut().insert("host", host.parse().unwrap());
            }
            let r = t.send_from(*peer, req).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path} {extra:?}");
            assert!(!r.body.contains("local body") && !r.body.contains("local-queue"));
        }
    }
    // No peer address at all (served without a listener that records it).
    let response = tower::ServiceExt::oneshot(
        t.app.clone(),
        request("GET", "/console/", &[("cookie", cookie_header)]),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // The same requests from loopback work.
    let page = t.get(&super::page_of(&q), &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("local body"));
    let sent = t
        .post(
            &format!("{}/send", super::page_of(&q)),
            &cookie,
            &[("csrf", &csrf), ("body", "from loopback")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    assert_eq!(t.attribute(&q, "ApproximateNumberOfMessages").await, "2");
    // Also through [::1] and localhost names.
    for host in ["localhost:9324", "[::1]:9324", "127.0.0.2"] {
        let req = Request::get("/console/")
            .header("host", host)
            .header("cookie", cookie_header)
            .body(Body::empty())
            .unwrap();
        let peer: std::net::SocketAddr = "[::1]:4000".parse().unwrap();
        assert_eq!(
            t.send_from(peer, req).await.status,
            StatusCode::OK,
            "{host}"
        );
    }
}

#[tokio::test]
async fn anonymous_mode_needs_no_sign_in_and_has_no_sign_in_form() {
    let t = TestConsole::new(Mode::Anonymous).await;
    let first = t.get("/console/", "").await;
    assert_eq!(first.status, StatusCode::OK);
    let cookie = first.session_cookie().expect("anonymous session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let login = t.get("/console/login", "").await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    assert_eq!(login.location(), "/console/");
    // A POST without any session is refused (no token to check it with).
    let r = t.post("/console/queues", "", &[("name", "x")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(t.engine.queue_gauges().await.unwrap().is_empty());
}

#[tokio::test]
async fn sign_in_checks_the_secret_and_sets_a_strict_httponly_cookie() {
    let t = TestConsole::new(Mode::Credentials).await;
    let form = t.get("/console/login", "").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<label for=\"secret_access_key\">"));
    for (key, secret) in [
        ("AKIDA", "secret-b"),
        ("AKIDA", ""),
        ("NOPE", "secret-a"),
        ("", ""),
    ] {
        let r = t
            .post(
                "/console/login",
                "",
                &[("access_key_id", key), ("secret_access_key", secret)],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{key}/{secret}");
        assert!(r.session_cookie().is_none());
        assert!(r.body.contains("role=\"alert\""));
    }
    let r = t
        .post(
            "/console/login",
            "",
            &[
                ("access_key_id", "AKIDA"),
                ("secret_access_key", "secret-a"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/console/");
    let cookie = r.session_cookie().unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    // Sign out ends the session.
    let (cookie, csrf) = t.session("AKIDA").await;
    let out = t.post("/console/logout", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.session_cookie().unwrap().contains("Max-Age=0"));
    let after = t.get("/console/", &cookie).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.location(), "/console/login");
}

#[tokio::test]
async fn cookies_are_secure_behind_an_https_base_url() {
    let t = TestConsole::with(Mode::Credentials, |c| {
        c.public_base_url = Some("https://sqs.example".into());
    })
    .await;
    let r = t
        .post(
            "/console/login",
            "",
            &[
                ("access_key_id", "AKIDB"),
                ("secret_access_key", "secret-b"),
            ],
        )
        .await;
    assert!(r.session_cookie().unwrap().contains("; Secure"));
}

#[tokio::test]
async fn every_change_needs_the_csrf_token_from_the_same_origin() {
    let t = TestConsole::new(Mode::Credentials).await;
    let q = t.create(ACCOUNT_A, "guarded", &[]).await;
    t.send_body(&q, "keep me").await;
    let (cookie, csrf) = t.session("AKIDA").await;
    let purge = format!("{}/purge", super::page_of(&q));
    let (_, other_csrf) = t.session("AKIDA").await;
    for token in ["", "wrong", other_csrf.as_str()] {
        let r = t
            .post(&purge, &cookie, &[("csrf", token), ("confirm", "yes")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "token {token:?}");
    }
    // Right token, wrong origin / cross-site fetch metadata.
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let req = Request::post(&purge)
            .header("host", "127.0.0.1:9324")
            .header("cookie", &cookie)
            .header(name, value)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={csrf}&confirm=yes")))
            .unwrap();
        assert_eq!(
            t.send_from(loopback(), req).await.status,
            StatusCode::FORBIDDEN,
            "{name}: {value}"
        );
    }
    assert_eq!(t.attribute(&q, "ApproximateNumberOfMessages").await, "1");
    // The header form (for scripts) and the form field both work.
    let req = Request::post(&purge)
        .header("host", "127.0.0.1:9324")
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("confirm=yes"))
        .unwrap();
    let r = t.send_from(loopback(), req).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(t.attribute(&q, "ApproximateNumberOfMessages").await, "0");
}

#[tokio::test]
async fn an_operator_sees_and_changes_only_their_own_account() {
    let t = TestConsole::new(Mode::Credentials).await;
    let mine = t.create(ACCOUNT_A, "mine", &[]).await;
    let theirs = t.create(ACCOUNT_B, "theirs", &[]).await;
    t.send_body(&theirs, "not for a").await;
    let (cookie, csrf) = t.session("AKIDA").await;
    let list = t.get("/console/", &cookie).await;
    assert!(list.body.contains(">mine<"));
    assert!(!list.body.contains("theirs"));
    let page = t.get(&super::page_of(&theirs), &cookie).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.body.contains("not for a"));
    let live = t
        .get(&format!("{}/live", super::page_of(&theirs)), &cookie)
        .await;
    assert_eq!(live.status, StatusCode::NOT_FOUND);
    let r = t
        .post(
            &format!("{}/purge", super::page_of(&theirs)),
            &cookie,
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.location(), "/console/");
    assert_eq!(
        t.attribute(&theirs, "ApproximateNumberOfMessages").await,
        "1"
    );
    // A queue created from the console lands in the operator's account.
    let r = t
        .post(
            "/console/queues",
            &cookie,
            &[("csrf", &csrf), ("name", "made-by-a")],
        )
        .await;
    assert_eq!(
        r.location(),
        format!("/console/queues/{ACCOUNT_A}/made-by-a")
    );
    assert!(t
        .get(&super::page_of(&mine), &cookie)
        .await
        .status
        .is_success());
}

#[tokio::test]
async fn read_only_mode_refuses_every_change_but_still_peeks() {
    let t = TestConsole::with(Mode::Anonymous, |c| c.console.read_only = true).await;
    let q = t.create(ANON, "prod", &[]).await;
    t.send_body(&q, "look, don't touch").await;
    let first = t.get("/console/", "").await;
    let cookie = first.session_cookie().unwrap();
    let cookie = cookie.split(';').next().unwrap();
    assert!(first.body.contains("read-only"));
    assert!(!first.body.contains("Create a queue"));
    let page = t.get(&super::page_of(&q), cookie).await;
    assert!(page.body.contains("look, don&#39;t touch"));
    for action in [
        "send",
        "purge",
        "delete",
        "attributes",
        "tags",
        "messages/delete",
    ] {
        assert!(
            !page.body.contains(&format!("/{action}\"")),
            "read-only page offers {action}"
        );
    }
    assert!(!page.body.contains("name=\"csrf\""), "no form at all");
    // Even with the session's valid token, every change is refused.
    let token = cookie.trim_start_matches("stowage_console=");
    let csrf = t.console.shared.sessions.get(token).unwrap().csrf;
    for action in [
        "send",
        "purge",
        "delete",
        "attributes",
        "tags",
        "untag",
        "redrive/start",
    ] {
        let r = t
            .post(
                &format!("{}/{action}", super::page_of(&q)),
                cookie,
                &[
                    ("csrf", &csrf),
                    ("confirm", "yes"),
                    ("body", "x"),
                    ("confirm_name", "prod"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{action}");
    }
    let r = t
        .post(
            "/console/queues",
            cookie,
            &[("csrf", &csrf), ("name", "new")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(t.attribute(&q, "ApproximateNumberOfMessages").await, "1");
    assert_eq!(t.engine.queue_gauges().await.unwrap().len(), 1);
}

#[tokio::test]
async fn responses_carry_a_strict_content_security_policy() {
    let t = TestConsole::new(Mode::Anonymous).await;
    for path in [
        "/console/",
        "/console/assets/console.js",
        "/console/assets/icon.svg",
        "/console/nope",
    ] {
        let r = t.get(path, "").await;
        let csp = r
            .headers
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(r.headers.get("x-frame-options").unwrap(), "DENY");
    }
    // No inline script or style anywhere in a page.
    let t = TestConsole::new(Mode::Anonymous).await;
    let q = t.create(ANON, "q", &[]).await;
    t.send_body(&q, "x").await;
    let (cookie, _) = t.session("").await;
    let page = t.get(&super::page_of(&q), &cookie).await;
    assert!(!page.body.contains("<script>") && !page.body.contains("style="));
    assert!(!page.body.contains("onclick=") && !page.body.contains("onsubmit="));
}
