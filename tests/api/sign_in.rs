//! Signing in with an institution's accounts, against real servers each test starts: an LDAP
//! directory (Debian's slapd) through the login form, and an OpenID Connect provider
//! (node-oidc-provider) through the redirect flow, followed hop by hop as a browser would.
//! And `auth.registration`, which decides who gets an account.

use reqwest::{redirect, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp, ENGINE2_TLS_DIR, PASSWORD};
use crate::sign_in_servers::{free_ports, idp_account, oidc_settings, Directory, IdentityProvider};
use berth::config::Registration;

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"username": username, "password": password}),
    )
    .await
}

async fn token_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

async fn me(app: &TestApp, token: &str) -> Value {
    let response = app.get("/api/v1/me", Some(token)).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn error_of(response: reqwest::Response) -> (StatusCode, String, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    let error = &body["error"];
    (
        status,
        error["code"].as_str().unwrap_or_default().to_string(),
        error["message"].as_str().unwrap_or_default().to_string(),
    )
}

async fn app_with_directory(directory: &Directory, registration: Registration) -> TestApp {
    let ldap = directory.settings();
    spawn_app_with(move |s| {
        s.auth.registration = registration;
        s.auth.ldap = Some(ldap);
    })
    .await
}

#[tokio::test]
async fn directory_people_sign_in_with_the_login_form_and_get_one_account() {
    let directory = Directory::start(
        &[("ada", "ada-directory-pw"), ("bob", "bob-directory-pw")],
        &[("teachers", &["ada"]), ("admins", &[])],
    )
    .await;
    let app = app_with_directory(&directory, Registration::SsoOnly).await;

    let first = token_of(login(&app, "ada", "ada-directory-pw").await).await;
    let ada = me(&app, &first).await;
    assert_eq!(ada["username"], "ada");
    assert_eq!(ada["role"], "teacher", "the teachers group makes a teacher");
    let again = token_of(login(&app, "ada", "ada-directory-pw").await).await;
    assert_eq!(
        me(&app, &again).await["id"],
        ada["id"],
        "one account per person"
    );
    assert_eq!(
        me(
            &app,
            &token_of(login(&app, "bob", "bob-directory-pw").await).await
        )
        .await["role"],
        "student"
    );

    for (username, password, what) in [
        ("ada", "bob-directory-pw", "a wrong password"),
        (
            "nobody",
            "ada-directory-pw",
            "a name the directory does not have",
        ),
        // An empty password would be an unauthenticated bind, which LDAP lets through.
        ("ada", "", "an empty password"),
        ("*", "ada-directory-pw", "a filter for anyone"),
    ] {
        let (status, code, _) = error_of(login(&app, username, password).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNAUTHORIZED, "unauthorized"),
            "{what}"
        );
    }
}

#[tokio::test]
async fn a_group_change_moves_the_role_and_a_locked_account_is_refused() {
    let directory = Directory::start(
        &[("bob", "bob-directory-pw")],
        &[("teachers", &[]), ("admins", &[])],
    )
    .await;
    let app = app_with_directory(&directory, Registration::SsoOnly).await;
    let token = token_of(login(&app, "bob", "bob-directory-pw").await).await;
    assert_eq!(me(&app, &token).await["role"], "student");

    directory.add_to_group("bob", "admins");
    let promoted = token_of(login(&app, "bob", "bob-directory-pw").await).await;
    assert_eq!(me(&app, &promoted).await["role"], "admin");
    assert_eq!(
        me(&app, &token).await["role"],
        "admin",
        "the role is the account's, so the earlier token has it too"
    );

    // As an admin now, bob reads in the audit log how his account came to be and changed.
    let log: Vec<Value> = app
        .get("/api/v1/audit?action=account", Some(&promoted))
        .await
        .json()
        .await
        .unwrap();
    let said: Vec<_> = log
        .iter()
        .rev()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["detail"]["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(said, [("account.create", "ldap"), ("account.role", "ldap")]);
    assert_eq!(log[0]["detail"]["from"], "student");
    assert_eq!(log[0]["detail"]["to"], "admin");

    directory.remove_from_group("bob", "admins");
    directory.add_to_group("bob", "teachers");
    let moved = token_of(login(&app, "bob", "bob-directory-pw").await).await;
    assert_eq!(me(&app, &moved).await["role"], "teacher");

    directory.lock("bob");
    let (status, _, message) = error_of(login(&app, "bob", "bob-directory-pw").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(message, "wrong username or password");
}

#[tokio::test]
async fn ldaps_signs_in_and_a_directory_in_the_clear_or_with_an_unknown_certificate_is_refused() {
    let directory = Directory::start(&[("ada", "ada-directory-pw")], &[]).await;
    let mut over_ldaps = directory.settings();
    over_ldaps.url = format!("ldaps://127.0.0.1:{}", directory.tls_port);
    over_ldaps.starttls = false;
    let app = spawn_app_with(move |s| s.auth.ldap = Some(over_ldaps)).await;
    token_of(login(&app, "ada", "ada-directory-pw").await).await;

    // The same directory without TLS would carry passwords in the clear: berth does not start.
    let mut plain = directory.settings();
    plain.starttls = false;
    let data = tempfile::tempdir().unwrap();
    let settings = berth::config::Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        auth: berth::config::AuthSettings {
            ldap: Some(plain),
            ..Default::default()
        },
        ..Default::default()
    };
    let refused = berth::startup::Application::build(settings)
        .await
        .err()
        .unwrap();
    assert!(
        format!("{refused:#}").contains("in the clear"),
        "{refused:#}"
    );

    // A directory whose certificate the configured CA did not sign is not signed in against:
    // the password is never sent.
    let mut untrusted = directory.settings();
    untrusted.ca_file = Some(format!("{ENGINE2_TLS_DIR}/ca.pem").into());
    let app = spawn_app_with(move |s| s.auth.ldap = Some(untrusted)).await;
    let (status, code, _) = error_of(login(&app, "ada", "ada-directory-pw").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
}

#[tokio::test]
async fn a_local_account_is_never_signed_in_by_the_directory_password_of_its_name() {
    let directory = Directory::start(&[("ada", "ada-directory-pw")], &[]).await;
    let app = app_with_directory(&directory, Registration::Open).await;
    // Registered before the directory's ada ever signed in.
    assert_eq!(app.register("ada", PASSWORD).await.status(), 201);
    let (status, _, _) = error_of(login(&app, "ada", "ada-directory-pw").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let local = token_of(login(&app, "ada", PASSWORD).await).await;
    assert_eq!(me(&app, &local).await["role"], "student");
}

#[tokio::test]
async fn registration_is_off_by_default_and_closed_lets_in_only_who_has_an_account() {
    let app = spawn_app_with(|s| s.auth.registration = Registration::default()).await;
    let providers: Value = app
        .get("/api/v1/auth/providers", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        providers,
        json!({"registration": "sso_only", "ldap": false, "oidc": null})
    );
    let (status, code, message) = error_of(app.register("eve", PASSWORD).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    assert!(message.contains("registration is closed"), "{message}");
    assert_eq!(
        login(&app, "eve", PASSWORD).await.status(),
        401,
        "nothing was made"
    );

    // Open, the same request makes an account: the refusal above was the setting's.
    let open = spawn_app().await;
    assert_eq!(open.register("eve", PASSWORD).await.status(), 201);

    // Closed: ada, who signed in before (while berth made accounts), still signs in; carol,
    // whom the directory knows as well, gets no account.
    let directory = Directory::start(
        &[("ada", "ada-directory-pw"), ("carol", "carol-directory-pw")],
        &[],
    )
    .await;
    let before = app_with_directory(&directory, Registration::SsoOnly).await;
    token_of(login(&before, "ada", "ada-directory-pw").await).await;
    let shared = before.database.url().to_string();
    let ldap = directory.settings();
    let closed = spawn_app_with(move |s| {
        s.auth.registration = Registration::Closed;
        s.auth.ldap = Some(ldap);
        s.database_url = Some(shared);
    })
    .await;
    token_of(login(&closed, "ada", "ada-directory-pw").await).await;
    let (status, _, message) = error_of(login(&closed, "carol", "carol-directory-pw").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("registration is closed"), "{message}");
    token_of(login(&before, "carol", "carol-directory-pw").await).await;
}

/// A browser without JavaScript: it keeps cookies and follows redirects itself, so that every
/// URL it is sent to is seen.
struct Browser {
    http: reqwest::Client,
    visited: Vec<String>,
}

/// How a sign-in through the provider ended.
#[derive(Debug)]
enum Outcome {
    /// berth handed the page this token.
    Token(String),
    /// The provider's form came back with this said on it.
    ProviderRefused(String),
    /// berth's answer to the page: status, code, message.
    BerthRefused(StatusCode, String, String),
}

impl Browser {
    fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(redirect::Policy::none())
                .build()
                .unwrap(),
            visited: Vec::new(),
        }
    }

    /// Follows redirects from `response` (got at `url`) to the page they end at.
    async fn follow(
        &mut self,
        mut url: url::Url,
        mut response: reqwest::Response,
    ) -> (url::Url, reqwest::Response) {
        while response.status().is_redirection() {
            let location = response.headers()["location"].to_str().unwrap().to_string();
            url = url.join(&location).unwrap();
            self.visited.push(url.to_string());
            response = self.http.get(url.clone()).send().await.unwrap();
        }
        (url, response)
    }

    async fn open(&mut self, url: &str) -> (url::Url, reqwest::Response) {
        let url = url::Url::parse(url).unwrap();
        self.visited.push(url.to_string());
        let response = self.http.get(url.clone()).send().await.unwrap();
        self.follow(url, response).await
    }

    /// From the sign-in button to the provider's form, filled in: the URL of berth's callback
    /// the provider sends the browser to, or what its form said.
    async fn up_to_callback(
        &mut self,
        app: &TestApp,
        username: &str,
        password: &str,
    ) -> Result<url::Url, String> {
        let (form_url, form) = self.open(&app.url("/api/v1/auth/oidc/start")).await;
        assert_eq!(form.status(), 200, "the provider shows its login form");
        let action = form_url
            .join(&format!("{}/login", form_url.path()))
            .unwrap();
        let submitted = self
            .http
            .post(action)
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .unwrap();
        if !submitted.status().is_redirection() {
            return Err(submitted.text().await.unwrap());
        }
        // Through the provider's own redirects, up to (not into) berth's callback.
        let mut at = form_url;
        let mut response = submitted;
        loop {
            let location = response.headers()["location"].to_str().unwrap().to_string();
            at = at.join(&location).unwrap();
            self.visited.push(at.to_string());
            if at.path() == "/api/v1/auth/oidc/callback" {
                return Ok(at);
            }
            response = self.http.get(at.clone()).send().await.unwrap();
            assert!(
                response.status().is_redirection(),
                "{}",
                response.text().await.unwrap()
            );
        }
    }

    /// Opens berth's callback, then does what the page does: takes the token.
    async fn finish(&mut self, app: &TestApp, callback: url::Url) -> Outcome {
        let (page, response) = self
            .follow(
                callback.clone(),
                self.http.get(callback).send().await.unwrap(),
            )
            .await;
        assert_eq!(
            response.status(),
            200,
            "berth sends the browser back to its page"
        );
        assert_eq!(page.path(), "/");
        let taken = self
            .http
            .post(app.url("/api/v1/auth/oidc/token"))
            .send()
            .await
            .unwrap();
        if taken.status() == 200 {
            let body: Value = taken.json().await.unwrap();
            Outcome::Token(body["access_token"].as_str().unwrap().to_string())
        } else {
            let (status, code, message) = error_of(taken).await;
            Outcome::BerthRefused(status, code, message)
        }
    }

    async fn sign_in(&mut self, app: &TestApp, username: &str, password: &str) -> Outcome {
        match self.up_to_callback(app, username, password).await {
            Ok(callback) => self.finish(app, callback).await,
            Err(said) => Outcome::ProviderRefused(said),
        }
    }
}

/// berth (on a port chosen first, so the provider knows its callback) and a provider.
async fn app_with_provider(
    accounts: Value,
    registration: Registration,
) -> (TestApp, IdentityProvider) {
    let [berth_port, idp_port] = free_ports();
    let app = spawn_app_with(move |s| {
        s.listen = format!("127.0.0.1:{berth_port}").parse().unwrap();
        s.auth.registration = registration;
        s.auth.oidc = Some(oidc_settings(idp_port, berth_port));
    })
    .await;
    let callback = app.url("/api/v1/auth/oidc/callback");
    let provider = IdentityProvider::start(idp_port, &callback, accounts).await;
    (app, provider)
}

fn token(outcome: Outcome) -> String {
    match outcome {
        Outcome::Token(token) => token,
        other => panic!("no token: {other:?}"),
    }
}

#[tokio::test]
async fn a_person_signs_in_through_the_provider_and_the_token_never_rides_in_a_url() {
    let accounts = json!({"ada": idp_account("ada-idp-password", &["teachers"])});
    let (app, provider) = app_with_provider(accounts, Registration::SsoOnly).await;
    let providers: Value = app
        .get("/api/v1/auth/providers", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(providers["oidc"], json!({"label": "School ID"}));

    let mut browser = Browser::new();
    let first = token(browser.sign_in(&app, "ada", "ada-idp-password").await);
    let ada = me(&app, &first).await;
    assert_eq!(
        (ada["username"].as_str(), ada["role"].as_str()),
        (Some("ada"), Some("teacher"))
    );
    assert!(
        browser
            .visited
            .iter()
            .any(|u| u.contains("code_challenge=") && u.contains("code_challenge_method=S256")),
        "PKCE: {:?}",
        browser.visited
    );
    for url in &browser.visited {
        assert!(!url.contains(&first), "the token was in {url}");
    }
    // The page takes its token once.
    let again = browser
        .http
        .post(app.url("/api/v1/auth/oidc/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401);

    // A second sign-in, from another browser, is the same account.
    let second = token(
        Browser::new()
            .sign_in(&app, "ada", "ada-idp-password")
            .await,
    );
    assert_eq!(me(&app, &second).await["id"], ada["id"]);

    // The provider moves ada to IT staff: at her next sign-in she is an admin.
    provider
        .set_accounts(json!({"ada": idp_account("ada-idp-password", &["it-staff", "teachers"])}));
    let third = token(
        Browser::new()
            .sign_in(&app, "ada", "ada-idp-password")
            .await,
    );
    assert_eq!(me(&app, &third).await["role"], "admin");
}

#[tokio::test]
async fn a_sign_in_begun_on_one_replica_finishes_on_another_and_is_taken_on_a_third() {
    let [a_port, idp_port] = free_ports();
    let replicas = crate::helpers::spawn_replicas_with(3, |i, s| {
        if i == 0 {
            s.listen = format!("127.0.0.1:{a_port}").parse().unwrap();
        }
        // One provider client, its one callback: the load balancer's address, here A's.
        s.auth.oidc = Some(oidc_settings(idp_port, a_port));
    })
    .await;
    let (a, b, c) = (&replicas[0], &replicas[1], &replicas[2]);
    let accounts = json!({"ada": idp_account("ada-idp-password", &["teachers"])});
    let _provider =
        IdentityProvider::start(idp_port, &a.url("/api/v1/auth/oidc/callback"), accounts).await;

    // Begun on A; the load balancer sends the provider's redirect back to B, the page's
    // request for its token to C.
    let mut browser = Browser::new();
    let to_a = browser
        .up_to_callback(a, "ada", "ada-idp-password")
        .await
        .expect("the provider signs ada in");
    let mut to_b = to_a.clone();
    to_b.set_port(url::Url::parse(&b.url("/")).unwrap().port())
        .unwrap();
    let signed_in = token(browser.finish(c, to_b).await);
    let ada = me(a, &signed_in).await;
    assert_eq!(
        (ada["username"].as_str(), ada["role"].as_str()),
        (Some("ada"), Some("teacher"))
    );
    // Taken once, whichever replica is asked again.
    for replica in [a, b, c] {
        let again = browser
            .http
            .post(replica.url("/api/v1/auth/oidc/token"))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 401);
    }
    // And the flow was finished once: the same callback again, on C, signs nobody in.
    let replayed = browser.finish(c, to_a).await;
    assert!(
        matches!(
            replayed,
            Outcome::BerthRefused(StatusCode::UNAUTHORIZED, _, _)
        ),
        "{replayed:?}"
    );
}

#[tokio::test]
async fn the_provider_refuses_a_wrong_password_and_a_disabled_or_missing_account() {
    let accounts = json!({
        "ada": idp_account("ada-idp-password", &[]),
        "dan": idp_account("dan-idp-password", &[]),
    });
    let (app, provider) = app_with_provider(accounts, Registration::SsoOnly).await;
    // dan is real, and his password works, until the provider disables him.
    token(
        Browser::new()
            .sign_in(&app, "dan", "dan-idp-password")
            .await,
    );
    let mut dan = idp_account("dan-idp-password", &[]);
    dan["disabled"] = json!(true);
    provider.set_accounts(json!({"ada": idp_account("ada-idp-password", &[]), "dan": dan}));

    for (username, password, said) in [
        ("ada", "dan-idp-password", "Wrong username or password"),
        ("zoe", "ada-idp-password", "Wrong username or password"),
        ("dan", "dan-idp-password", "disabled"),
    ] {
        match Browser::new().sign_in(&app, username, password).await {
            Outcome::ProviderRefused(page) => assert!(page.contains(said), "{username}: {page}"),
            other => panic!("{username} got through: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_callback_not_begun_in_this_browser_or_with_a_forged_state_is_refused() {
    let accounts = json!({"ada": idp_account("ada-idp-password", &[])});
    let (app, _provider) = app_with_provider(accounts, Registration::SsoOnly).await;

    // An attacker's browser replays ada's callback (code and state): it began no flow.
    let mut ada = Browser::new();
    let callback = ada
        .up_to_callback(&app, "ada", "ada-idp-password")
        .await
        .unwrap();
    match Browser::new().finish(&app, callback.clone()).await {
        Outcome::BerthRefused(status, _, message) => {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(message.contains("not begun in this browser"), "{message}");
        }
        other => panic!("another browser signed in: {other:?}"),
    }
    // ada's own browser, with the same callback, signs in.
    token(ada.finish(&app, callback).await);

    // An error sent to a browser that began no flow says nothing of the sender's wording.
    let forged_error = url::Url::parse(&app.url(
        "/api/v1/auth/oidc/callback?error=access_denied&error_description=Call+555+now&state=x",
    ))
    .unwrap();
    match Browser::new().finish(&app, forged_error).await {
        Outcome::BerthRefused(status, _, message) => {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(!message.contains("555"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // The provider's own refusal, for the flow this browser began, is shown.
    let mut refusing = Browser::new();
    let (_, _) = refusing.open(&app.url("/api/v1/auth/oidc/start")).await;
    let state = refusing
        .visited
        .iter()
        .find_map(|u| {
            url::Url::parse(u)
                .ok()?
                .query_pairs()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap();
    let mut refusal = url::Url::parse(&app.url("/api/v1/auth/oidc/callback")).unwrap();
    refusal
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "the user said no")
        .append_pair("state", &state);
    match refusing.finish(&app, refusal).await {
        Outcome::BerthRefused(status, _, message) => {
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert!(message.contains("the user said no"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    // A state that is not the flow's.
    let mut browser = Browser::new();
    let mut forged = browser
        .up_to_callback(&app, "ada", "ada-idp-password")
        .await
        .unwrap();
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "forged".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    assert!(matches!(
        browser.finish(&app, forged).await,
        Outcome::BerthRefused(StatusCode::UNAUTHORIZED, _, _)
    ));
}

#[tokio::test]
async fn a_provider_name_that_is_a_local_account_is_refused_not_merged() {
    let accounts = json!({"ada": idp_account("ada-idp-password", &["it-staff"])});
    let (app, _provider) = app_with_provider(accounts, Registration::Open).await;
    assert_eq!(app.register("ada", PASSWORD).await.status(), 201);
    match Browser::new()
        .sign_in(&app, "ada", "ada-idp-password")
        .await
    {
        Outcome::BerthRefused(status, code, message) => {
            assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "conflict"));
            assert!(message.contains("already exists"), "{message}");
        }
        other => panic!("the provider's ada took the local account: {other:?}"),
    }
    let local = token_of(login(&app, "ada", PASSWORD).await).await;
    assert_eq!(me(&app, &local).await["role"], "student", "unchanged");
}
