//! RFC 9457 problem details: every API error is `application/problem+json`
//! with one of the stable `type`s below (documented in docs/admin-api.md;
//! a type, once published, keeps its meaning).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::service::AdminError;

/// The base of every problem type URI. Relative references (RFC 9457 §3.1.1
/// allows them) so they hold whatever name the server is reached by.
const BASE: &str = "/api/v1/problems/";

/// The problem types. The string after the base is the stable part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 401: no token, or a wrong, expired or revoked one.
    Unauthorized,
    /// 404: no such user, or no such path.
    NotFound,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 409: the user exists already.
    AlreadyExists,
    /// 400: the body or a parameter is not what the operation takes.
    InvalidRequest,
    /// 500/503: the server could not do it; nothing was changed.
    Unavailable,
}

impl Kind {
    pub fn slug(self) -> &'static str {
        match self {
            Kind::Unauthorized => "unauthorized",
            Kind::NotFound => "not-found",
            Kind::MethodNotAllowed => "method-not-allowed",
            Kind::AlreadyExists => "already-exists",
            Kind::InvalidRequest => "invalid-request",
            Kind::Unavailable => "unavailable",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Kind::AlreadyExists => StatusCode::CONFLICT,
            Kind::InvalidRequest => StatusCode::BAD_REQUEST,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::Unauthorized => "Authentication required",
            Kind::NotFound => "Not found",
            Kind::MethodNotAllowed => "Method not allowed",
            Kind::AlreadyExists => "Already exists",
            Kind::InvalidRequest => "Invalid request",
            Kind::Unavailable => "Temporarily unavailable",
        }
    }
}

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI reference naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong this time, for people.
    pub detail: String,
    /// The request field at fault, when there is one (an extension member).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    pub fn new(kind: Kind, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("{BASE}{}", kind.slug()),
            title: kind.title().to_owned(),
            status: kind.status().as_u16(),
            detail: detail.into(),
            field: None,
        }
    }

    pub fn field(mut self, field: &str) -> Problem {
        self.field = Some(field.to_owned());
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let unauthorized = status == StatusCode::UNAUTHORIZED;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if unauthorized {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"roost\""),
            );
        }
        resp
    }
}

impl From<AdminError> for Problem {
    fn from(e: AdminError) -> Problem {
        match &e {
            AdminError::NoSuchUser(_) => Problem::new(Kind::NotFound, e.to_string()),
            AdminError::UserExists(_) => {
                Problem::new(Kind::AlreadyExists, e.to_string()).field("name")
            }
            AdminError::Invalid { field, message } => {
                Problem::new(Kind::InvalidRequest, message.clone()).field(field)
            }
            AdminError::Store(_) | AdminError::Internal(_) => {
                tracing::error!(error = %e, "admin operation failed");
                Problem::new(
                    Kind::Unavailable,
                    "the server could not do this now; nothing was changed",
                )
            }
        }
    }
}
