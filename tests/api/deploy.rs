//! The deployment docs/deploy.md gives, run for real: Debian's nginx with deploy/nginx.conf (its
//! ports, upstream and certificate swapped for the test's) in front of berth with
//! `trusted_proxies`, reached over TLS from an address of its own (127.0.0.3).

use std::net::IpAddr;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::{RemoveOnDrop, ServerProcess, Ws, PASSWORD};
use crate::nginx::Nginx;
use crate::sign_in_servers::LDAP_TLS_DIR;

/// Where the test's client connects from: not the proxy's address, so that berth can tell them
/// apart.
const CLIENT: [u8; 4] = [127, 0, 0, 3];

fn test_ca() -> Vec<u8> {
    std::fs::read(format!("{LDAP_TLS_DIR}/ca.pem")).unwrap()
}

/// An HTTPS client from [`CLIENT`] that trusts the test CA and follows no redirect.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(CLIENT))
        .add_root_certificate(reqwest::Certificate::from_pem(&test_ca()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn berth_behind_the_documented_nginx_serves_tls_websockets_and_knows_the_client() {
    let server = ServerProcess::start(&[("BERTH_TRUSTED_PROXIES", r#"["127.0.0.1"]"#)]).await;
    let admin = server.account_with_role("deploy-admin", "admin").await;
    let nginx = Nginx::start(&[&server.address]).await;
    let https = format!("https://127.0.0.1:{}", nginx.https_port);
    let http = client();

    // Plain HTTP is sent to HTTPS.
    let plain = http
        .get(format!("http://127.0.0.1:{}/", nginx.http_port))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 301);
    assert!(plain.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("https://"));

    // Through the proxy: the page, registering, signing in with a forged forwarding header.
    let page = http.get(format!("{https}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<html"));
    let registered = http
        .post(format!("{https}/api/v1/auth/register"))
        .json(&json!({"username": "proxied", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let login: Value = http
        .post(format!("{https}/api/v1/auth/login"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"username": "proxied", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_string();

    // berth took the client's address from nginx's header, and not the forged hop before it.
    let audit: Vec<Value> = http
        .get(format!(
            "{https}/api/v1/audit?user=proxied&action=auth.login"
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit[0]["client"], "127.0.0.3", "{audit:?}");

    // A WebSocket session over wss, through the upgrade nginx passes on, byte-exact.
    let id = server.container(&token, &["sleep", "600"]).await;
    let _cleanup = RemoveOnDrop(id.clone());
    let ticket: Value = http
        .post(format!("{https}/api/v1/ws/ticket"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!(
        "wss://127.0.0.1:{}/api/v1/ws?ticket={}",
        nginx.https_port,
        ticket["ticket"].as_str().unwrap()
    );
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&test_ca()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut ws = Ws::open_with(
        url.into_client_request().unwrap(),
        tokio_tungstenite::Connector::Rustls(Arc::new(tls)),
    )
    .await
    .expect("the session opens through nginx");
    ws.exec(1, &id, &["printf", "through\\000the\\377proxy"], false)
        .await;
    let out = ws.collect(1).await;
    assert_eq!(out.stdout, b"through\0the\xffproxy");
    assert_eq!(out.code, Some(0));
    ws.close().await;
}
