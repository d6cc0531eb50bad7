//! The extractors a handler names to say who may call it. Role checks happen here, before the
//! handler runs (so before any host or image is looked at), through [`User::require_staff`] and
//! [`User::require_admin`].

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};

use super::{bearer, Claims};
use crate::error::ApiError;
use crate::state::AppState;
use crate::users::{self, User};

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
        let claims = state
            .as_ref()
            .and_then(|state| bearer(req).and_then(|t| state.auth.check_token(t)));
        Box::pin(async move {
            let (Some(claims), Some(state)) = (claims, state) else {
                return Err(ApiError::unauthorized());
            };
            // The account may have been deleted since the token was issued.
            let user = users::find_by_id(&state.db, &claims.sub)
                .await?
                .ok_or_else(ApiError::unauthorized)?;
            Ok(AuthUser { user, claims })
        })
    }
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let caller = AuthUser::from_request(req, payload);
        Box::pin(async move {
            let caller = caller.await?;
            caller.user.require_staff("may do this")?;
            Ok(Staff(caller))
        })
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let caller = AuthUser::from_request(req, payload);
        Box::pin(async move {
            let caller = caller.await?;
            caller.user.require_admin("may do this")?;
            Ok(Admin(caller))
        })
    }
}
