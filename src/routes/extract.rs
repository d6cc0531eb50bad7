//! The extractors a handler names to say who may call it. Role checks happen here, before the
//! handler runs (so before any host or image is looked at), through [`User::require_staff`] and
//! [`User::require_admin`].

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};

use crate::audit::Entry;
pub use crate::auth::client_address;
use crate::auth::{self, bearer, Claims};
use crate::error::ApiError;
use crate::state::AppState;
use crate::users::User;

/// The authenticated caller of a request.
#[derive(Clone)]
pub struct AuthUser {
    pub user: User,
    pub claims: Claims,
    /// Where the request came from (see [`client_address`]).
    pub client: Option<IpAddr>,
}

impl AuthUser {
    /// An audit entry of this caller doing `action`, from where they are.
    pub fn audit(&self, action: &'static str) -> Entry {
        Entry::by(&self.user, action).from_client(self.client)
    }
}

/// A caller who is a teacher or an admin.
pub struct Staff(pub AuthUser);

/// A caller who is an admin.
pub struct Admin(pub AuthUser);

// A handler names its caller `caller: Staff` (the OpenAPI attributes read plain names), and
// uses it as the `AuthUser` it is.
impl std::ops::Deref for Staff {
    type Target = AuthUser;
    fn deref(&self) -> &AuthUser {
        &self.0
    }
}

impl std::ops::Deref for Admin {
    type Target = AuthUser;
    fn deref(&self) -> &AuthUser {
        &self.0
    }
}

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
            let client = client_address(&req, &state.auth.trusted_proxies);
            Ok(AuthUser {
                user,
                claims,
                client,
            })
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
