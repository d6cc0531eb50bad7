//! Where an engine listens and how to reach it: a unix socket, plain tcp, or tcp with TLS and a
//! client certificate. Both the bollard client and berth's own TTY connections come from here,
//! so a TLS host works for every kind of stream.

use std::sync::Arc;

use bollard::{BollardRequest, Docker};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

/// A request times out after this long, unless it streams.
const REQUEST_TIMEOUT_S: u64 = 120;

/// PEM texts for a TLS host: the CA that signed the engine's certificate, and berth's client
/// certificate and key. Kept sealed at rest; never logged or returned.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsMaterial {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsMaterial { .. }")
    }
}

impl TlsMaterial {
    /// A client configuration that trusts only `ca` and presents `cert`/`key`; the reason when
    /// the PEM texts do not make one.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, String> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.ca.as_bytes()) {
            let cert = cert.map_err(|_| "ca is not a PEM certificate".to_string())?;
            roots
                .add(cert)
                .map_err(|e| format!("ca is not a usable certificate: {e}"))?;
        }
        if roots.is_empty() {
            return Err("ca holds no certificate".into());
        }
        let chain = CertificateDer::pem_slice_iter(self.cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| "cert is not a PEM certificate".to_string())?;
        if chain.is_empty() {
            return Err("cert holds no certificate".into());
        }
        let key = PrivateKeyDer::from_pem_slice(self.key.as_bytes())
            .map_err(|_| "key is not a PEM private key".to_string())?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("cert and key do not fit together: {e}"))
    }
}

#[derive(Clone)]
pub enum Endpoint {
    Unix(String),
    Tcp(String),
    Tls {
        addr: String,
        config: Arc<rustls::ClientConfig>,
    },
}

/// A byte stream to the engine, whichever way it is reached.
pub trait Connection: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Connection for T {}

impl Endpoint {
    /// The endpoint for a host url (else `DOCKER_HOST`, else the local socket), with TLS when
    /// material is given.
    pub fn resolve(url: Option<&str>, tls: Option<&TlsMaterial>) -> Result<Endpoint, String> {
        let url = url
            .map(str::to_string)
            .or_else(|| std::env::var("DOCKER_HOST").ok())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
        if let Some(path) = url.strip_prefix("unix://") {
            if tls.is_some() {
                return Err("TLS is for tcp hosts, not unix sockets".into());
            }
            return Ok(Endpoint::Unix(path.to_string()));
        }
        let addr = url
            .trim_start_matches("tcp://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        Ok(match tls {
            None => Endpoint::Tcp(addr),
            Some(material) => Endpoint::Tls {
                addr,
                config: Arc::new(material.client_config()?),
            },
        })
    }

    /// A bollard client for this endpoint (nothing is contacted yet).
    pub fn docker(&self) -> Result<Docker, bollard::errors::Error> {
        let version = bollard::API_DEFAULT_VERSION;
        match self {
            Endpoint::Unix(path) => Docker::connect_with_unix(path, REQUEST_TIMEOUT_S, version),
            Endpoint::Tcp(addr) => Docker::connect_with_http(addr, REQUEST_TIMEOUT_S, version),
            Endpoint::Tls { addr, config } => {
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(config.as_ref().clone())
                    .https_only()
                    .enable_http1()
                    .build();
                let client = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .build(https);
                Docker::connect_with_custom_transport(
                    move |request: BollardRequest| {
                        let client = client.clone();
                        async move {
                            client
                                .request(request)
                                .await
                                .map_err(|err| bollard::errors::Error::HyperLegacyError { err })
                        }
                    },
                    Some(format!("https://{addr}")),
                    REQUEST_TIMEOUT_S,
                    version,
                )
            }
        }
    }

    /// A new connection of berth's own (for the raw TTY requests).
    pub async fn connect(&self) -> std::io::Result<Box<dyn Connection>> {
        Ok(match self {
            Endpoint::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
            Endpoint::Tcp(addr) => Box::new(tokio::net::TcpStream::connect(addr).await?),
            Endpoint::Tls { addr, config } => {
                let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let name = ServerName::try_from(host.to_string())
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                Box::new(connector.connect(name, tcp).await?)
            }
        })
    }
}
