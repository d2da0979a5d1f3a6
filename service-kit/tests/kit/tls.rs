//! The upstream client speaks TLS to `https://` upstreams (Unsplash) and checks the server's
//! certificate against the public roots: a certificate nobody vouches for is refused.

use std::net::Ipv4Addr;
use std::time::Duration;

use axum::http::HeaderMap;
use service_kit::http_client::{UpstreamClient, UpstreamError, UpstreamSettings};
use service_kit::metrics::{Registry, UpstreamMetrics};
use service_kit_testing::self_signed_tls;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use url::Url;

/// A TLS server with a self-signed certificate for 127.0.0.1; each handshake's result is sent
/// on the returned channel.
async fn self_signed_server() -> (Url, mpsc::Receiver<Result<(), String>>) {
    let acceptor = self_signed_tls();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let url = Url::parse(&format!("https://{}/", listener.local_addr().unwrap())).unwrap();
    let (handshakes, results) = mpsc::channel(8);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let outcome = acceptor.accept(stream).await;
            let _ = handshakes
                .send(outcome.map(drop).map_err(|err| err.to_string()))
                .await;
        }
    });
    (url, results)
}

#[tokio::test]
async fn an_https_upstream_with_an_untrusted_certificate_is_refused() {
    let (url, mut handshakes) = self_signed_server().await;
    let client = UpstreamClient::new(
        UpstreamSettings::new("unsplash", Duration::from_secs(2)),
        UpstreamMetrics::register(&mut Registry::default()),
    )
    .unwrap();

    let answer = client
        .get_json::<serde_json::Value>(&url, HeaderMap::new())
        .await;

    assert_eq!(answer, Err(UpstreamError::Unreachable("unsplash")));
    let handshake = handshakes
        .recv()
        .await
        .expect("the client attempted a handshake");
    let reason = handshake.expect_err("the client must not accept the certificate");
    assert!(
        reason.contains("UnknownCA") || reason.contains("certificate"),
        "the client should reject the certificate itself: {reason}"
    );
}
