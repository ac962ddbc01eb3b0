//! `/api/v1`: the JSON admin API, with `Authorization: Bearer` tokens
//! (`roost admin token create`, or the panel's tokens page). Handlers are
//! thin: they call `service` like the panel does. The OpenAPI document is
//! generated from the annotations here (`openapi.json`), so it cannot
//! drift from the code; docs/admin-api.md says what is stable.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use super::problem::{Kind, Problem};
use super::service::{
    Actor, AuditView, LockView, LocksView, MailboxView, QuotaView, RefusedAddress, StatusView,
    UserPage, UserView,
};
use super::state::{AdminState, Peer};

type AppState = Arc<AdminState>;

/// Most users one page returns.
const MAX_PAGE: usize = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/users", get(list_users).post(create_user))
        .route("/users/{name}", get(get_user).delete(delete_user))
        .route("/users/{name}/password", axum::routing::put(set_password))
        .route("/users/{name}/quota", axum::routing::put(set_quota))
        .route("/users/{name}/mailboxes", get(mailboxes))
        .route("/users/{name}/unlock", axum::routing::post(unlock))
        .route("/locks", get(locks))
        .route("/status", get(status))
        .route("/audit", get(audit))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found() -> Problem {
    Problem::new(Kind::NotFound, "no such API path")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        Kind::MethodNotAllowed,
        "this path does not take that method",
    )
}

/// The administrator (through a token) a request acts as.
pub struct ApiActor(pub Actor);

impl FromRequestParts<AppState> for ApiActor {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let peer = parts
            .extensions
            .get::<Peer>()
            .map(|p| p.0.ip())
            .ok_or_else(|| Problem::new(Kind::Unavailable, "no client address"))?;
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        state.check_token(header, peer).map(ApiActor)
    }
}

/// A JSON body whose errors are problem details.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Problem> {
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(e) => {
                let detail = match &e {
                    JsonRejection::MissingJsonContentType(_) => {
                        "the body must be JSON (Content-Type: application/json)".to_owned()
                    }
                    other => other.body_text(),
                };
                return Err(Problem::new(Kind::InvalidRequest, detail));
            }
        };
        // serde would also take an array for a struct; the API takes objects.
        if !value.is_object() {
            return Err(Problem::new(
                Kind::InvalidRequest,
                "the body must be a JSON object",
            ));
        }
        serde_json::from_value(value)
            .map(ApiJson)
            .map_err(|e| Problem::new(Kind::InvalidRequest, format!("invalid body: {e}")))
    }
}

/// Query parameters whose errors are problem details.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(Problem::new(Kind::InvalidRequest, e.body_text())),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roost admin API",
        version = "1",
        description = "Users, their mailboxes and quotas, server status and the audit log. \
                       Stability rules: docs/admin-api.md."
    ),
    paths(
        list_users,
        create_user,
        get_user,
        delete_user,
        set_password,
        set_quota,
        mailboxes,
        unlock,
        locks,
        status,
        audit
    ),
    components(schemas(
        Problem,
        UserView,
        QuotaView,
        UserPage,
        MailboxView,
        StatusView,
        LockView,
        LocksView,
        RefusedAddress,
        AuditView,
        NewUser,
        NewPassword,
        NewQuota,
        Deleted
    )),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi_json() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => Problem::new(Kind::Unavailable, e.to_string()).into_response(),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only users whose name contains this (case-insensitive).
    pub search: Option<String>,
    /// Users to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<i32>,
    /// Users to return, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 1-64 of a-z 0-9 . _ + @ - (stored in lower case; not starting with a dot).
    #[schema(
        pattern = r"^[A-Za-z0-9_+@-][A-Za-z0-9._+@-]{0,63}$",
        min_length = 1,
        max_length = 64
    )]
    pub name: String,
    /// 1 to 256 characters (the server takes up to 1024 bytes of UTF-8).
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    /// 1 to 256 characters (the server takes up to 1024 bytes of UTF-8).
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
}

/// Both limits; `null` (or left out) is unlimited.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQuota {
    /// Bytes, rounded up to a whole KiB.
    #[schema(minimum = 0, maximum = 9_223_372_036_854_774_784_u64)]
    #[serde(default, deserialize_with = "whole_number")]
    pub storage_bytes: Option<u64>,
    #[schema(minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    #[serde(default, deserialize_with = "whole_number")]
    pub messages: Option<u64>,
}

/// A non-negative integer or null. JSON has one number type, so `3.0` is
/// the integer 3 (as JSON Schema's `integer` says); `3.5` is refused.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    use serde::de::Error as _;
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(u) = n.as_u64() {
        return Ok(Some(u));
    }
    match n.as_f64() {
        // Below 2^63: every such whole f64 converts exactly.
        Some(f) if f.fract() == 0.0 && (0.0..9.223_372_036_854_775e18).contains(&f) => {
            Ok(Some(f as u64))
        }
        _ => Err(D::Error::custom(format!(
            "{n} is not a non-negative integer"
        ))),
    }
}

/// What a deletion removed.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Deleted {
    pub name: String,
    pub mailboxes: u32,
    pub messages: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only entries with a smaller id (the next page: the last id seen).
    #[param(minimum = 0)]
    pub before: Option<i64>,
    /// Entries to return, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// Only actions starting with this, e.g. `user.`.
    pub action: Option<String>,
}

fn page_limit(limit: Option<usize>) -> Result<usize, Problem> {
    match limit {
        None => Ok(100),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => {
            Err(Problem::new(Kind::InvalidRequest, "limit must be 1 to 1000").field("limit"))
        }
    }
}

/// List users, by name.
#[utoipa::path(get, path = "/api/v1/users", params(ListParams),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 400, description = "Bad parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_users(
    State(state): State<AppState>,
    _actor: ApiActor,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<axum::Json<UserPage>, Problem> {
    let limit = page_limit(p.limit)?;
    let offset = match p.offset.unwrap_or(0) {
        o if o < 0 => {
            return Err(
                Problem::new(Kind::InvalidRequest, "offset must not be negative").field("offset"),
            );
        }
        o => o.unsigned_abs() as usize,
    };
    let search = p.search;
    let page = state
        .run(move |s| s.list_users(search.as_deref(), offset, limit))
        .await?;
    Ok(axum::Json(page))
}

/// Create a user (with the configured default quota). They can log in over
/// IMAP at once.
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Bad name or password", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user exists", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_user(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<Response, Problem> {
    let user = state
        .run(move |s| s.create_user(&actor, &body.name, body.password.as_bytes()))
        .await?;
    let location = format!("/api/v1/users/{}", user.name);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(user),
    )
        .into_response())
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{name}", params(("name" = String, Path, description = "User name (case-insensitive)", pattern = r"^[A-Za-z0-9_+@-][A-Za-z0-9._+@-]{0,63}$", min_length = 1, max_length = 64)),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 400, description = "Not a valid user name", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_user(
    State(state): State<AppState>,
    _actor: ApiActor,
    Path(name): Path<String>,
) -> Result<axum::Json<UserView>, Problem> {
    Ok(axum::Json(state.run(move |s| s.get_user(&name)).await?))
}

/// Delete a user and all their mail, at once and without confirmation;
/// their open IMAP sessions are closed.
#[utoipa::path(delete, path = "/api/v1/users/{name}", params(("name" = String, Path, description = "User name (case-insensitive)", pattern = r"^[A-Za-z0-9_+@-][A-Za-z0-9._+@-]{0,63}$", min_length = 1, max_length = 64)),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 400, description = "Not a valid user name", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_user(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path(name): Path<String>,
) -> Result<axum::Json<Deleted>, Problem> {
    let (shown, lookup) = (name.to_ascii_lowercase(), name);
    let (mailboxes, messages) = state.run(move |s| s.delete_user(&actor, &lookup)).await?;
    Ok(axum::Json(Deleted {
        name: shown,
        mailboxes,
        messages,
    }))
}

/// Set a user's password; their other IMAP sessions end.
#[utoipa::path(put, path = "/api/v1/users/{name}/password", params(("name" = String, Path, description = "User name (case-insensitive)", pattern = r"^[A-Za-z0-9_+@-][A-Za-z0-9._+@-]{0,63}$", min_length = 1, max_length = 64)),
    request_body = NewPassword,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Bad name or password", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn set_password(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<NewPassword>,
) -> Result<StatusCode, Problem> {
    state
        .run(move |s| s.set_password(&actor, &name, body.password.as_bytes()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set both quota limits (`null`: unlimited); the next APPEND sees them.
#[utoipa::path(put, path = "/api/v1/users/{name}/quota", params(("name" = String, Path, description = "User name (case-insensitive)", pattern = r"^[A-Za-z0-9_+@-][A-Za-z0-9._+@-]{0,63}$", min_length = 1, max_length = 64)),
    request_body = NewQuota,
    responses(
        (status = 200, description = "The user with the new limits", body = UserView),
        (status = 400, description = "Bad name or limits", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn set_quota(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<NewQuota>,
) -> Result<axum::Json<UserView>, Problem> {
    let user = state
        .run(move |s| s.set_quota(&actor, &name, body.storage_bytes, body.messages))
        .await?;
    Ok(axum::Json(user))
}

/// A user's mailboxes, by name.
#[utoipa::path(get, path = "/api/v1/users/{name}/mailboxes", params(("name" = String, Path, description = "User name (case-insensitive)", pattern = r"^[A-Za-z0-9_+@-][A-Za-z0-9._+@-]{0,63}$", min_length = 1, max_length = 64)),
    responses(
        (status = 200, description = "The mailboxes", body = [MailboxView]),
        (status = 400, description = "Not a valid user name", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn mailboxes(
    State(state): State<AppState>,
    _actor: ApiActor,
    Path(name): Path<String>,
) -> Result<axum::Json<Vec<MailboxView>>, Problem> {
    Ok(axum::Json(state.run(move |s| s.mailboxes(&name)).await?))
}

/// Forget the failed logins counted for a name (like `roost user unlock`):
/// addresses refused for it may try again at once and its logins are no
/// longer slowed. The name need not be a user's.
#[utoipa::path(post, path = "/api/v1/users/{name}/unlock", params(("name" = String, Path, description = "User name (case-insensitive)", pattern = r"^[A-Za-z0-9_+@-][A-Za-z0-9._+@-]{0,63}$", min_length = 1, max_length = 64)),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 400, description = "Bad name", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn unlock(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path(name): Path<String>,
) -> Result<StatusCode, Problem> {
    state.run(move |s| s.unlock(&actor, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the login throttle holds now: names slowed or refused from some
/// addresses, and addresses refused for every name.
#[utoipa::path(get, path = "/api/v1/locks",
    responses(
        (status = 200, description = "The locks", body = LocksView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn locks(
    State(state): State<AppState>,
    _actor: ApiActor,
) -> Result<axum::Json<LocksView>, Problem> {
    Ok(axum::Json(state.run(|s| Ok(s.locks())).await?))
}

/// The server's state.
#[utoipa::path(get, path = "/api/v1/status",
    responses(
        (status = 200, description = "Status", body = StatusView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn status(
    State(state): State<AppState>,
    _actor: ApiActor,
) -> Result<axum::Json<StatusView>, Problem> {
    Ok(axum::Json(state.run(|s| s.status()).await?))
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", params(AuditParams),
    responses(
        (status = 200, description = "Entries", body = [AuditView]),
        (status = 400, description = "Bad parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn audit(
    State(state): State<AppState>,
    _actor: ApiActor,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<axum::Json<Vec<AuditView>>, Problem> {
    let limit = page_limit(p.limit)?;
    if p.before.is_some_and(|b| b < 0) {
        return Err(
            Problem::new(Kind::InvalidRequest, "before must not be negative").field("before"),
        );
    }
    let action = p.action;
    let entries = state
        .run(move |s| s.audit_log(p.before.map(|b| b.unsigned_abs()), limit, action.as_deref()))
        .await?;
    Ok(axum::Json(entries))
}
