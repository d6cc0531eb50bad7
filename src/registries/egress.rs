//! Where berth may connect on a user's behalf. A registry a non-admin names could otherwise make
//! the server probe its own loopback or private network (SSRF), so such connections may only
//! reach public addresses, plus the networks an admin allows in the settings
//! (`registries.allowed_networks`). The check is made on the resolved addresses of every
//! connection, redirects and token services included, so DNS tricks do not get around it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

use crate::error::ApiError;

/// Which addresses a connection may reach.
#[derive(Clone, Debug)]
pub enum Egress {
    /// An admin's choice: anywhere.
    Anywhere,
    /// Public addresses, and these networks.
    Public { allowed: Arc<Vec<IpNet>> },
}

impl Egress {
    /// Public addresses plus the networks in `allowed` (CIDR texts from the settings).
    pub fn public_and(allowed: &[String]) -> anyhow::Result<Egress> {
        let allowed = crate::config::networks("registries.allowed_networks", allowed)?;
        Ok(Egress::Public {
            allowed: Arc::new(allowed),
        })
    }

    /// Whether a connection to `ip` is allowed.
    pub fn permits(&self, ip: IpAddr) -> bool {
        match self {
            Egress::Anywhere => true,
            Egress::Public { allowed } => {
                let ip = canonical(ip);
                is_public(ip) || allowed.iter().any(|net| net.contains(&ip))
            }
        }
    }

    /// Resolves `host` (with an optional `:port`) and checks every address it gives.
    pub async fn check_host(&self, host_port: &str) -> Result<(), ApiError> {
        if matches!(self, Egress::Anywhere) {
            return Ok(());
        }
        let addrs = resolve(host_port).await.map_err(|_| {
            ApiError::bad_request(format!("{} does not resolve", host_only(host_port)))
        })?;
        if let Some(blocked) = addrs.iter().find(|a| !self.permits(a.ip())) {
            return Err(blocked_error(host_port, blocked.ip()));
        }
        Ok(())
    }
}

/// The refusal for a server on a network berth does not reach for non-admins.
pub fn blocked_error(host: &str, ip: IpAddr) -> ApiError {
    ApiError::forbidden(format!(
        "{} is at {ip}, a loopback, link-local or private address: only admins may use \
         registries there (or allow the network in registries.allowed_networks)",
        host_only(host)
    ))
}

fn host_only(host_port: &str) -> &str {
    match host_port.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() && !host.ends_with(':') => host,
        _ => host_port,
    }
}

async fn resolve(host_port: &str) -> std::io::Result<Vec<SocketAddr>> {
    let host = host_only(host_port)
        .trim_start_matches('[')
        .trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, 0)]);
    }
    Ok(tokio::net::lookup_host((host, 0)).await?.collect())
}

/// An IPv4 address carried in IPv6 (`::ffff:127.0.0.1`) is judged as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Not loopback, link-local, private, shared (CGNAT), unspecified, broadcast or multicast.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80) // link-local
        }
    }
}

/// A DNS resolver for reqwest that leaves out the addresses `Egress` forbids, so that no
/// connection (a redirect, a token service) reaches them whatever name it uses.
pub struct GuardedResolver(pub Egress);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let egress = self.0.clone();
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let permitted: Vec<SocketAddr> = found.filter(|a| egress.permits(a.ip())).collect();
            if permitted.is_empty() {
                return Err(
                    format!("{} resolves to no address berth may reach", name.as_str()).into(),
                );
            }
            Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_and_allowed_networks_are_reachable() {
        let egress = Egress::public_and(&["10.1.0.0/16".into(), "127.0.0.2".into()]).unwrap();
        for blocked in [
            "127.0.0.1",
            "169.254.169.254",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!egress.permits(blocked.parse().unwrap()), "{blocked}");
        }
        for allowed in ["93.184.216.34", "2606:4700::1", "10.1.2.3", "127.0.0.2"] {
            assert!(egress.permits(allowed.parse().unwrap()), "{allowed}");
        }
        assert!(Egress::Anywhere.permits("127.0.0.1".parse().unwrap()));
        assert!(Egress::public_and(&["not-a-net".into()]).is_err());
    }

    #[tokio::test]
    async fn names_are_judged_by_what_they_resolve_to() {
        let egress = Egress::public_and(&[]).unwrap();
        let err = egress.check_host("localhost:5000").await.unwrap_err();
        assert_eq!(err.code, crate::error::ErrorCode::Forbidden);
        assert!(
            err.message.starts_with("localhost is at"),
            "{}",
            err.message
        );
        assert!(egress.check_host("[::1]:5000").await.is_err());
        assert!(egress.check_host("127.0.0.1").await.is_err());
    }
}
