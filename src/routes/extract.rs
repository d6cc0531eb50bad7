//! The extractors a handler names to say who may call it. Role checks happen here, before the
//! handler runs (so before any host or image is looked at), through [`User::require_staff`] and
//! [`User::require_admin`].

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};

use crate::auth::{self, bearer, Claims};
use crate::error::ApiError;
use crate::state::AppState;
use crate::users::User;

/// The authenticated caller of a request.
#[derive(Clone)]
pub struct AuthUser {
    pub user: User,
    pub claims: Claims,
}

/// A caller who is a teacher or an admin.
pub struct Staff(pub AuthUser);

/// A caller who is an admin.
pub struct Admin(pub AuthUser);

type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(ApiError::unauthorized)?;
            let (user, claims) = auth::caller(&state.auth, &state.db, bearer(&req), None).await?;
            Ok(AuthUser { user, claims })
        })
    }
}

/// A caller whose role `allowed` accepts, else `forbidden` (before the handler runs).
fn with_role<T: 'static>(
    req: &HttpRequest,
    payload: &mut actix_web::dev::Payload,
    allowed: fn(&User) -> Result<(), ApiError>,
    wrap: fn(AuthUser) -> T,
) -> Extracting<T> {
    let caller = AuthUser::from_request(req, payload);
    Box::pin(async move {
        let caller = caller.await?;
        allowed(&caller.user)?;
        Ok(wrap(caller))
    })
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        with_role(
            req,
            payload,
            |user| user.require_staff("may do this"),
            Staff,
        )
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        with_role(
            req,
            payload,
            |user| user.require_admin("may do this"),
            Admin,
        )
    }
}

/// The address a request comes from: the peer's, or, when the peer is one of the `trusted`
/// proxies, the nearest hop of `Forwarded`/`X-Forwarded-For` that is not (so a client cannot
/// pick the address it is throttled by).
pub fn client_address(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let headers = req.headers();
    let forwarded: Vec<String> = headers
        .get_all("forwarded")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.eq_ignore_ascii_case("for")
                    .then(|| value.trim_matches('"').to_string())
            })
        })
        .collect();
    let hops: Vec<String> = if forwarded.is_empty() {
        headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| hop.trim().to_string())
            .collect()
    } else {
        forwarded
    };
    // From the nearest hop outwards; anything that does not parse ends the trust.
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if is_trusted(&ip) => client = ip,
            Some(ip) => return Some(ip),
            None => break,
        }
    }
    Some(client)
}

/// An address as proxies write it: `203.0.113.5`, `203.0.113.5:4711`, `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
}
