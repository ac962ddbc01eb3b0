//! The panel's pages: server-rendered (askama templates from web-admin/),
//! usable without JavaScript. Every change is a POST form carrying the
//! session's CSRF token, and is refused with 403 when the token is missing
//! or wrong, or the browser says the form came from another site.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use subtle::ConstantTimeEq as _;

use super::problem::Problem;
use super::secrets;
use super::service::{Actor, AdminError, AuditView, UserView};
use super::sessions::PanelSession;
use super::state::{AdminState, Peer, SignIn};
use crate::store::{SetupRefusal, StoreError, check_token_name};

type AppState = Arc<AdminState>;

/// Users per page of the list.
const PAGE_SIZE: usize = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/static/admin.css", get(css))
        .route("/setup", get(setup_page).post(setup_submit))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/dashboard", get(dashboard))
        .route("/users", get(users))
        .route("/users/new", get(new_user_page).post(new_user_submit))
        .route("/users/{name}", get(user_page))
        .route("/users/{name}/password", post(user_password))
        .route("/users/{name}/quota", post(user_quota))
        .route("/users/{name}/delete", post(user_delete))
        .route("/users/{name}/unlock", post(user_unlock))
        .route("/audit", get(audit))
        .route("/tokens", get(tokens).post(token_create))
        .route("/tokens/{id}/revoke", post(token_revoke))
}

const CSS: &str = include_str!("../../web-admin/static/admin.css");

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

// ---------------------------------------------------------------------------
// Cookies, sessions, CSRF.

fn session_cookie_name(state: &AdminState) -> &'static str {
    // `__Host-` makes browsers insist on Secure, Path=/ and no Domain.
    if state.https {
        "__Host-roost_session"
    } else {
        "roost_session"
    }
}

fn login_cookie_name(state: &AdminState) -> &'static str {
    if state.https {
        "__Host-roost_login"
    } else {
        "roost_login"
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn set_cookie(state: &AdminState, name: &str, value: &str, max_age: Option<u64>) -> String {
    let secure = if state.https { "; Secure" } else { "" };
    let age = max_age.map_or(String::new(), |a| format!("; Max-Age={a}"));
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{age}")
}

/// A signed-in administrator's request.
pub struct SignedIn {
    session: PanelSession,
    cookie: String,
    peer: String,
}

impl SignedIn {
    fn actor(&self) -> Actor {
        Actor {
            who: format!("admin {}", self.session.admin),
            from: self.peer.clone(),
        }
    }
    fn layout(&self) -> Option<Layout> {
        Some(Layout {
            admin: self.session.admin.clone(),
            csrf: self.session.csrf.clone(),
        })
    }
}

fn peer_of(parts: &Parts) -> String {
    parts
        .extensions
        .get::<Peer>()
        .map_or_else(|| "?".to_owned(), |p| p.0.ip().to_string())
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/login").into_response();
        let Some(cookie) = cookie(&parts.headers, session_cookie_name(state)) else {
            return Err(to_login());
        };
        let Some(session) = state.sessions().get(&cookie, Instant::now()) else {
            return Err(to_login());
        };
        // An administrator deleted meanwhile (e.g. with the CLI) is out.
        match state.service.store.get_admin(&session.admin) {
            Ok(Some(_)) => {}
            _ => {
                state.sessions().remove(&cookie);
                return Err(to_login());
            }
        }
        Ok(SignedIn {
            session,
            cookie,
            peer: peer_of(parts),
        })
    }
}

/// The request's form fields and headers, for the CSRF checks.
pub struct Posted {
    fields: HashMap<String, String>,
    headers: HeaderMap,
    peer: String,
}

impl Posted {
    fn get(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

impl axum::extract::FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let peer = req
            .extensions()
            .get::<Peer>()
            .map_or_else(|| "?".to_owned(), |p| p.0.ip().to_string());
        match axum::Form::<HashMap<String, String>>::from_request(req, state).await {
            Ok(axum::Form(fields)) => Ok(Posted {
                fields,
                headers,
                peer,
            }),
            Err(e) => Err((StatusCode::BAD_REQUEST, e.body_text()).into_response()),
        }
    }
}

/// Refuses a form sent from another site: the browser's `Sec-Fetch-Site`
/// must be same-origin (or absent, for older browsers and scripts), and an
/// `Origin` must name this host. Under `Referrer-Policy: no-referrer`
/// browsers send `Origin: null` with form posts, which only counts with a
/// `Sec-Fetch-Site: same-origin` beside it.
fn same_origin(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if site.is_some_and(|s| s != "same-origin" && s != "none") {
        return false;
    }
    match headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => true,
        Some("null") => site == Some("same-origin"),
        Some(origin) => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            // Either scheme: behind a TLS reverse proxy the browser's
            // origin is https while this listener speaks http.
            let authority = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            !host.is_empty() && authority == Some(host)
        }
    }
}

fn csrf_ok(expected: &str, got: &str) -> bool {
    !got.is_empty() && bool::from(expected.as_bytes().ct_eq(got.as_bytes()))
}

fn forbidden() -> Response {
    let page = Message {
        layout: None,
        notice: None,
        title: "Forbidden".into(),
        text: "This form is out of date or did not come from this panel; nothing was changed. \
               Reload the page and try again."
            .into(),
        back: "/".into(),
    };
    (StatusCode::FORBIDDEN, render(&page)).into_response()
}

/// The checks every state-changing form passes first.
fn check_form(who: &SignedIn, form: &Posted) -> Result<(), Refused> {
    if !same_origin(&form.headers) || !csrf_ok(&who.session.csrf, form.get("csrf")) {
        tracing::info!(admin = %who.session.admin, "panel form refused: CSRF check failed");
        return Err(Refused);
    }
    Ok(())
}

/// A form that failed the CSRF checks: 403, nothing changed.
struct Refused;

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        forbidden()
    }
}

// ---------------------------------------------------------------------------
// Templates.

pub struct Layout {
    admin: String,
    csrf: String,
}

fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot render a panel page");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot render this page").into_response()
        }
    }
}

fn problem_page(p: Problem, layout: Option<Layout>, back: &str) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let page = Message {
        layout,
        notice: None,
        title: p.title,
        text: p.detail,
        back: back.to_owned(),
    };
    (status, render(&page)).into_response()
}

#[derive(Template)]
#[template(path = "message.html")]
struct Message {
    layout: Option<Layout>,
    notice: Option<String>,
    title: String,
    text: String,
    back: String,
}

/// `1.5 MiB`
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn human_duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min {} s", secs % 60)
    }
}

// ---------------------------------------------------------------------------
// Setup and sign-in.

async fn root(State(state): State<AppState>) -> Redirect {
    match state.service.store.has_admins() {
        Ok(false) => Redirect::to("/setup"),
        _ => Redirect::to("/dashboard"),
    }
}

#[derive(Template)]
#[template(path = "setup.html")]
struct Setup {
    layout: Option<Layout>,
    notice: Option<String>,
    usable: bool,
    csrf: String,
    token: String,
    name: String,
    error_field: &'static str,
    error: String,
}

/// A pre-session CSRF token for the sign-in and setup forms, kept in a
/// cookie and repeated in the form (double submit).
fn login_csrf(state: &AdminState, headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, login_cookie_name(state)) {
        Some(v) if v.len() == 43 => (v, None),
        _ => {
            let v = secrets::random_secret();
            let set = set_cookie(state, login_cookie_name(state), &v, Some(3600));
            (v, Some(set))
        }
    }
}

fn with_cookie(resp: Response, set: Option<String>) -> Response {
    let mut resp = resp;
    if let Some(c) = set
        && let Ok(v) = c.parse()
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn setup_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (csrf, set) = login_csrf(&state, &headers);
    let has_admins = state.service.store.has_admins().unwrap_or(true);
    let page = Setup {
        layout: None,
        notice: None,
        usable: !has_admins,
        csrf,
        token: q.get("token").cloned().unwrap_or_default(),
        name: String::new(),
        error_field: "",
        error: if has_admins {
            "Setup is done: an administrator exists.".into()
        } else {
            String::new()
        },
    };
    with_cookie(render(&page), set)
}

async fn setup_submit(State(state): State<AppState>, form: Posted) -> Response {
    let (csrf, _) = login_csrf(&state, &form.headers);
    let cookie_csrf = cookie(&form.headers, login_cookie_name(&state)).unwrap_or_default();
    if !same_origin(&form.headers) || !csrf_ok(&cookie_csrf, form.get("csrf")) {
        return forbidden();
    }
    let name = form.get("name").to_owned();
    let token = form.get("token").to_owned();
    let page = |field: &'static str, error: String| Setup {
        layout: None,
        notice: None,
        usable: true,
        csrf: csrf.clone(),
        token: token.clone(),
        name: name.clone(),
        error_field: field,
        error,
    };
    let password = form.get("password").to_owned();
    if password.is_empty() || password.len() > super::service::MAX_PASSWORD_BYTES {
        return (
            StatusCode::BAD_REQUEST,
            render(&page(
                "password",
                "A password of 1 to 1024 bytes is needed.".into(),
            )),
        )
            .into_response();
    }
    if password != form.get("password2") {
        return (
            StatusCode::BAD_REQUEST,
            render(&page("password", "The passwords do not match.".into())),
        )
            .into_response();
    }
    let peer = form.peer.clone();
    let (n, t) = (name.clone(), token.clone());
    let result = state
        .run(move |s| {
            let hash = crate::auth::hash_password(password.as_bytes())
                .map_err(|e| AdminError::Internal(e.to_string()))?;
            match s
                .store
                .setup_admin(&secrets::digest(&t), Utc::now(), &n, &hash)
            {
                Ok(Ok(rec)) => {
                    s.audit(
                        &Actor {
                            who: "setup".into(),
                            from: peer,
                        },
                        "admin.create",
                        &rec.name,
                    );
                    Ok(Ok(rec.name))
                }
                Ok(Err(refusal)) => Ok(Err(refusal)),
                Err(StoreError::InvalidAdminName { reason, .. }) => Err(AdminError::invalid(
                    "name",
                    format!("invalid name: {reason}"),
                )),
                Err(e) => Err(AdminError::Store(e)),
            }
        })
        .await;
    match result {
        Ok(Ok(admin)) => {
            tracing::info!(%admin, "first administrator created with the setup link");
            sign_in_response(&state, &admin)
        }
        Ok(Err(SetupRefusal::Done)) => Redirect::to("/login").into_response(),
        Ok(Err(SetupRefusal::BadToken)) => (
            StatusCode::FORBIDDEN,
            render(&page(
                "token",
                "The setup link is not valid (used, expired, or from an earlier start). \
                 Restart roost for a new one, or add an administrator with `roost admin add`."
                    .into(),
            )),
        )
            .into_response(),
        Err(p) => {
            let field = if p.field.as_deref() == Some("name") {
                "name"
            } else {
                "password"
            };
            (StatusCode::BAD_REQUEST, render(&page(field, p.detail))).into_response()
        }
    }
}

fn sign_in_response(state: &AdminState, admin: &str) -> Response {
    let id = state.sessions().create(admin, Instant::now());
    let mut resp = Redirect::to("/dashboard").into_response();
    let c = set_cookie(state, session_cookie_name(state), &id, None);
    if let Ok(v) = c.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    layout: Option<Layout>,
    notice: Option<String>,
    csrf: String,
    name: String,
    error: Option<String>,
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Ok(false) = state.service.store.has_admins() {
        let page = Message {
            layout: None,
            notice: None,
            title: "No administrator yet".into(),
            text: "Open the setup link the server wrote to its log, or add an administrator \
                   with `roost admin add NAME`."
                .into(),
            back: "/login".into(),
        };
        return render(&page);
    }
    let (csrf, set) = login_csrf(&state, &headers);
    let page = Login {
        layout: None,
        notice: None,
        csrf,
        name: String::new(),
        error: None,
    };
    with_cookie(render(&page), set)
}

async fn login_submit(State(state): State<AppState>, form: Posted) -> Response {
    let cookie_csrf = cookie(&form.headers, login_cookie_name(&state)).unwrap_or_default();
    if !same_origin(&form.headers) || !csrf_ok(&cookie_csrf, form.get("csrf")) {
        return forbidden();
    }
    let name = form.get("name").trim().to_owned();
    let peer: std::net::IpAddr = form
        .peer
        .parse()
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    let password = form.get("password").to_owned();
    let outcome = state.sign_in(&name, password, peer).await;
    let again = |status: StatusCode, error: &str| {
        let page = Login {
            layout: None,
            notice: None,
            csrf: cookie_csrf.clone(),
            name: name.clone(),
            error: Some(error.to_owned()),
        };
        (status, render(&page)).into_response()
    };
    match outcome {
        SignIn::Ok(admin) => sign_in_response(&state, &admin),
        SignIn::Failed => again(StatusCode::UNAUTHORIZED, "Wrong name or password."),
        SignIn::Throttled => again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts from this address; wait a few minutes and try again.",
        ),
    }
}

async fn logout(State(state): State<AppState>, who: SignedIn, form: Posted) -> Response {
    check_form(&who, &form).map_or_else(IntoResponse::into_response, |()| {
        state.sessions().remove(&who.cookie);
        let mut resp = Redirect::to("/login").into_response();
        let c = set_cookie(&state, session_cookie_name(&state), "", Some(0));
        if let Ok(v) = c.parse() {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
        resp
    })
}

// ---------------------------------------------------------------------------
// Dashboard.

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    layout: Option<Layout>,
    notice: Option<String>,
    status: super::service::StatusView,
    uptime: String,
    store_size: String,
    index_size: String,
    failed: Vec<FailedRow>,
    locks: super::service::LocksView,
}

/// A failed sign-in to the panel or login over IMAP.
struct FailedRow {
    time: String,
    service: &'static str,
    who: String,
    from: String,
    what: &'static str,
}

async fn dashboard(State(state): State<AppState>, who: SignedIn) -> Response {
    let got = state
        .run(|s| {
            Ok((
                s.status()?,
                s.audit_log(None, 20, Some("admin.login."))?,
                s.recent_mail_failures(),
                s.locks(),
            ))
        })
        .await;
    match got {
        Ok((status, panel, mail, locks)) => {
            let mut failed: Vec<(chrono::DateTime<Utc>, FailedRow)> = mail
                .into_iter()
                .map(|f| {
                    let row = FailedRow {
                        time: f.time.format("%Y-%m-%d %H:%M:%S").to_string(),
                        service: "IMAP",
                        who: f.user,
                        from: f.peer.to_string(),
                        what: if f.refused {
                            "refused (throttled)"
                        } else {
                            "wrong password or name"
                        },
                    };
                    (f.time, row)
                })
                .collect();
            for e in panel {
                let Ok(t) = chrono::DateTime::parse_from_rfc3339(&e.time) else {
                    continue;
                };
                let t = t.with_timezone(&Utc);
                failed.push((
                    t,
                    FailedRow {
                        time: t.format("%Y-%m-%d %H:%M:%S").to_string(),
                        service: "panel",
                        who: e.who.trim_start_matches("admin ").to_owned(),
                        from: e.from,
                        what: if e.action == "admin.login.throttled" {
                            "refused (throttled)"
                        } else {
                            "wrong password or name"
                        },
                    },
                ));
            }
            failed.sort_by_key(|f| std::cmp::Reverse(f.0));
            failed.truncate(10);
            render(&Dashboard {
                layout: who.layout(),
                notice: None,
                uptime: human_duration(status.uptime_seconds),
                store_size: human_bytes(status.store_bytes),
                index_size: human_bytes(status.index_bytes),
                status,
                failed: failed.into_iter().map(|(_, r)| r).collect(),
                locks,
            })
        }
        Err(p) => problem_page(p, who.layout(), "/dashboard"),
    }
}

// ---------------------------------------------------------------------------
// Users.

struct UserRow {
    name: String,
    messages: u64,
    storage: String,
}

fn storage_text(u: &UserView) -> String {
    match u.quota.storage_bytes {
        Some(l) => format!("{} of {}", human_bytes(u.storage_bytes), human_bytes(l)),
        None => human_bytes(u.storage_bytes),
    }
}

#[derive(Template)]
#[template(path = "users.html")]
struct Users {
    layout: Option<Layout>,
    notice: Option<String>,
    q: String,
    total: usize,
    rows: Vec<UserRow>,
    page: usize,
    pages: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

async fn users(
    State(state): State<AppState>,
    who: SignedIn,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let search = q.get("q").cloned().unwrap_or_default();
    let page: usize = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let offset = (page - 1).saturating_mul(PAGE_SIZE);
    let s2 = search.clone();
    let notice = q.get("notice").cloned();
    match state
        .run(move |s| s.list_users(Some(&s2), offset, PAGE_SIZE))
        .await
    {
        Ok(p) => {
            let pages = p.total.div_ceil(PAGE_SIZE).max(1);
            render(&Users {
                layout: who.layout(),
                notice,
                q: search,
                total: p.total,
                rows: p
                    .users
                    .iter()
                    .map(|u| UserRow {
                        name: u.name.clone(),
                        messages: u.messages,
                        storage: storage_text(u),
                    })
                    .collect(),
                page,
                pages,
                prev: (page > 1).then(|| page - 1),
                next: (page < pages).then(|| page + 1),
            })
        }
        Err(p) => problem_page(p, who.layout(), "/users"),
    }
}

#[derive(Template)]
#[template(path = "user_new.html")]
struct NewUserPage {
    layout: Option<Layout>,
    notice: Option<String>,
    csrf: String,
    name: String,
    error_field: &'static str,
    error: String,
    generated: Option<String>,
    created: String,
}

async fn new_user_page(who: SignedIn) -> Response {
    render(&NewUserPage {
        layout: who.layout(),
        notice: None,
        csrf: who.session.csrf.clone(),
        name: String::new(),
        error_field: "",
        error: String::new(),
        generated: None,
        created: String::new(),
    })
}

/// A password for people to copy: 20 characters of base64url, ~120 bits.
fn generated_password() -> String {
    secrets::random_secret()[..20].to_owned()
}

async fn new_user_submit(State(state): State<AppState>, who: SignedIn, form: Posted) -> Response {
    if let Err(r) = check_form(&who, &form) {
        return r.into_response();
    }
    let name = form.get("name").trim().to_owned();
    let page = |field: &'static str, error: String| NewUserPage {
        layout: who.layout(),
        notice: None,
        csrf: who.session.csrf.clone(),
        name: name.clone(),
        error_field: field,
        error,
        generated: None,
        created: String::new(),
    };
    let generate = form.get("mode") == "generate";
    let password = if generate {
        generated_password()
    } else {
        if form.get("password") != form.get("password2") {
            return (
                StatusCode::BAD_REQUEST,
                render(&page("password", "The passwords do not match.".into())),
            )
                .into_response();
        }
        form.get("password").to_owned()
    };
    let actor = who.actor();
    let (n, p) = (name.clone(), password.clone());
    match state
        .run(move |s| s.create_user(&actor, &n, p.as_bytes()))
        .await
    {
        Ok(user) if generate => render(&NewUserPage {
            layout: who.layout(),
            notice: None,
            csrf: who.session.csrf.clone(),
            name: String::new(),
            error_field: "",
            error: String::new(),
            generated: Some(password),
            created: user.name,
        }),
        Ok(user) => Redirect::to(&format!("/users/{}?notice=added", user.name)).into_response(),
        Err(p) => {
            let field = match p.field.as_deref() {
                Some("name") => "name",
                Some("password") => "password",
                _ => "",
            };
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
            (status, render(&page(field, p.detail))).into_response()
        }
    }
}

struct MailboxRow {
    name: String,
    special_use: String,
    messages: u32,
    unseen: u32,
    size: String,
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPageT {
    layout: Option<Layout>,
    notice: Option<String>,
    csrf: String,
    user: UserView,
    storage_used: String,
    storage_limit: String,
    messages_limit: String,
    storage_input: String,
    messages_input: String,
    mailboxes: Vec<MailboxRow>,
    sessions: Vec<super::service::SessionView>,
    lock: Option<super::service::LockView>,
    error_field: &'static str,
    error: String,
}

fn notice_text(code: Option<&String>) -> Option<String> {
    Some(
        match code?.as_str() {
            "added" => "User added. They can log in over IMAP now.",
            "password" => "Password changed. Their other IMAP sessions end at their next command, or within a minute.",
            "quota" => "Quota set. It applies from the next message stored.",
            "unlocked" => "Failed logins forgotten. Refused addresses may try again at once.",
            _ => return None,
        }
        .to_owned(),
    )
}

/// Renders the user's page, with an error next to `field` if any.
async fn user_view(
    state: &AppState,
    who: &SignedIn,
    name: String,
    notice: Option<String>,
    field: &'static str,
    error: String,
    status: StatusCode,
) -> Response {
    let n = name.clone();
    match state
        .run(move |s| {
            Ok((
                s.get_user(&n)?,
                s.mailboxes(&n)?,
                s.sessions(&n)?,
                s.lock(&n)?,
            ))
        })
        .await
    {
        Ok((user, boxes, sessions, lock)) => {
            let limit = |v: Option<u64>, f: fn(u64) -> String| v.map_or("unlimited".to_owned(), f);
            let page = UserPageT {
                layout: who.layout(),
                notice,
                csrf: who.session.csrf.clone(),
                storage_used: human_bytes(user.storage_bytes),
                storage_limit: limit(user.quota.storage_bytes, human_bytes),
                messages_limit: limit(user.quota.messages, |m| m.to_string()),
                storage_input: user
                    .quota
                    .storage_bytes
                    .map_or(String::new(), |b| format!("{}K", b / 1024)),
                messages_input: user.quota.messages.map_or(String::new(), |m| m.to_string()),
                mailboxes: boxes
                    .into_iter()
                    .map(|m| MailboxRow {
                        name: m.name,
                        special_use: m.special_use.join(" "),
                        messages: m.messages,
                        unseen: m.unseen,
                        size: human_bytes(m.size_bytes),
                    })
                    .collect(),
                sessions,
                lock,
                user,
                error_field: field,
                error,
            };
            (status, render(&page)).into_response()
        }
        Err(p) => problem_page(p, who.layout(), "/users"),
    }
}

async fn user_page(
    State(state): State<AppState>,
    who: SignedIn,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = notice_text(q.get("notice"));
    user_view(
        &state,
        &who,
        name,
        notice,
        "",
        String::new(),
        StatusCode::OK,
    )
    .await
}

async fn user_unlock(
    State(state): State<AppState>,
    who: SignedIn,
    Path(name): Path<String>,
    form: Posted,
) -> Response {
    if let Err(r) = check_form(&who, &form) {
        return r.into_response();
    }
    let actor = who.actor();
    let n = name.clone();
    match state.run(move |s| s.unlock(&actor, &n)).await {
        Ok(()) => Redirect::to(&format!(
            "/users/{}?notice=unlocked",
            name.to_ascii_lowercase()
        ))
        .into_response(),
        Err(p) => problem_page(p, who.layout(), "/users"),
    }
}

async fn user_password(
    State(state): State<AppState>,
    who: SignedIn,
    Path(name): Path<String>,
    form: Posted,
) -> Response {
    if let Err(r) = check_form(&who, &form) {
        return r.into_response();
    }
    let password = form.get("password").to_owned();
    if password != form.get("password2") {
        return user_view(
            &state,
            &who,
            name,
            None,
            "password",
            "The passwords do not match.".into(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let actor = who.actor();
    let n = name.clone();
    match state
        .run(move |s| s.set_password(&actor, &n, password.as_bytes()))
        .await
    {
        Ok(()) => Redirect::to(&format!(
            "/users/{}?notice=password",
            name.to_ascii_lowercase()
        ))
        .into_response(),
        Err(p) if p.field.is_some() => {
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
            user_view(&state, &who, name, None, "password", p.detail, status).await
        }
        Err(p) => problem_page(p, who.layout(), "/users"),
    }
}

/// An empty field is unlimited; storage is a size like `500M`.
fn parse_limits(storage: &str, messages: &str) -> Result<(Option<u64>, Option<u64>), String> {
    let storage = storage.trim();
    let messages = messages.trim();
    let s = if storage.is_empty() || storage.eq_ignore_ascii_case("unlimited") {
        None
    } else {
        Some(crate::config::parse_storage_size(storage)?.saturating_mul(1024))
    };
    let m = if messages.is_empty() || messages.eq_ignore_ascii_case("unlimited") {
        None
    } else {
        Some(
            messages
                .parse::<u64>()
                .map_err(|_| format!("`{messages}` is not a message count"))?,
        )
    };
    Ok((s, m))
}

async fn user_quota(
    State(state): State<AppState>,
    who: SignedIn,
    Path(name): Path<String>,
    form: Posted,
) -> Response {
    if let Err(r) = check_form(&who, &form) {
        return r.into_response();
    }
    let (storage, messages) = match parse_limits(form.get("storage"), form.get("messages")) {
        Ok(l) => l,
        Err(e) => {
            return user_view(
                &state,
                &who,
                name,
                None,
                "quota",
                e,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let actor = who.actor();
    let n = name.clone();
    match state
        .run(move |s| s.set_quota(&actor, &n, storage, messages))
        .await
    {
        Ok(u) => Redirect::to(&format!("/users/{}?notice=quota", u.name)).into_response(),
        Err(p) if p.field.is_some() => {
            user_view(
                &state,
                &who,
                name,
                None,
                "quota",
                p.detail,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(p) => problem_page(p, who.layout(), "/users"),
    }
}

async fn user_delete(
    State(state): State<AppState>,
    who: SignedIn,
    Path(name): Path<String>,
    form: Posted,
) -> Response {
    if let Err(r) = check_form(&who, &form) {
        return r.into_response();
    }
    let lower = name.to_ascii_lowercase();
    if form.get("confirm").trim().to_ascii_lowercase() != lower {
        return user_view(
            &state,
            &who,
            name,
            None,
            "confirm",
            "Type the user's name exactly to confirm; nothing was deleted.".into(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let actor = who.actor();
    match state.run(move |s| s.delete_user(&actor, &name)).await {
        Ok((mailboxes, messages)) => {
            let notice =
                format!("Deleted user {lower} with {mailboxes} mailboxes and {messages} messages.");
            Redirect::to(&format!("/users?notice={}", urlencode(&notice))).into_response()
        }
        Err(p) => problem_page(p, who.layout(), "/users"),
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Audit log and tokens.

#[derive(Template)]
#[template(path = "audit.html")]
struct Audit {
    layout: Option<Layout>,
    notice: Option<String>,
    entries: Vec<AuditView>,
    older: Option<u64>,
}

async fn audit(
    State(state): State<AppState>,
    who: SignedIn,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    const PER_PAGE: usize = 100;
    let before = q.get("before").and_then(|b| b.parse().ok());
    match state
        .run(move |s| s.audit_log(before, PER_PAGE, None))
        .await
    {
        Ok(entries) => {
            let older = (entries.len() == PER_PAGE)
                .then(|| entries.last().map(|e| e.id))
                .flatten();
            render(&Audit {
                layout: who.layout(),
                notice: None,
                entries,
                older,
            })
        }
        Err(p) => problem_page(p, who.layout(), "/dashboard"),
    }
}

struct TokenRow {
    id: u64,
    name: String,
    admin: String,
    created: String,
    state: String,
    live: bool,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct Tokens {
    layout: Option<Layout>,
    notice: Option<String>,
    csrf: String,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
    error: String,
}

async fn tokens_view(
    state: &AppState,
    who: &SignedIn,
    new_token: Option<String>,
    notice: Option<String>,
    error: String,
    status: StatusCode,
) -> Response {
    match state.run(|s| Ok(s.store.list_tokens()?)).await {
        Ok(list) => {
            let now = Utc::now();
            let tokens = list
                .into_iter()
                .rev()
                .map(|t| {
                    let state = t.state_text(now);
                    TokenRow {
                        id: t.id,
                        live: t.is_live(now),
                        name: t.name,
                        admin: t.admin,
                        created: t.created.format("%Y-%m-%d %H:%M UTC").to_string(),
                        state,
                    }
                })
                .collect();
            let page = Tokens {
                layout: who.layout(),
                notice,
                csrf: who.session.csrf.clone(),
                tokens,
                new_token,
                error,
            };
            (status, render(&page)).into_response()
        }
        Err(p) => problem_page(p, who.layout(), "/dashboard"),
    }
}

async fn tokens(State(state): State<AppState>, who: SignedIn) -> Response {
    tokens_view(&state, &who, None, None, String::new(), StatusCode::OK).await
}

async fn token_create(State(state): State<AppState>, who: SignedIn, form: Posted) -> Response {
    if let Err(r) = check_form(&who, &form) {
        return r.into_response();
    }
    let name = form.get("name").trim().to_owned();
    if let Err(e) = check_token_name(&name) {
        return tokens_view(
            &state,
            &who,
            None,
            None,
            e.to_string(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let days = form.get("days").trim();
    let expires = if days.is_empty() {
        None
    } else {
        match days.parse::<u32>() {
            Ok(d) if (1..=36_500).contains(&d) => {
                Some(Utc::now() + chrono::Duration::days(d.into()))
            }
            _ => {
                return tokens_view(
                    &state,
                    &who,
                    None,
                    None,
                    "Days must be 1 to 36500, or empty.".into(),
                    StatusCode::BAD_REQUEST,
                )
                .await;
            }
        }
    };
    let token = secrets::new_api_token();
    let digest = secrets::digest(&token);
    let actor = who.actor();
    let admin = who.session.admin.clone();
    let result = state
        .run(
            move |s| match s.store.create_token(&name, &admin, digest, expires) {
                Ok(t) => {
                    s.audit(&actor, "token.create", &format!("{} (id {})", t.name, t.id));
                    Ok(Ok(()))
                }
                Err(e @ StoreError::TokenExists(_)) => Ok(Err(e.to_string())),
                Err(e) => Err(AdminError::Store(e)),
            },
        )
        .await;
    match result {
        Ok(Ok(())) => {
            tokens_view(
                &state,
                &who,
                Some(token),
                None,
                String::new(),
                StatusCode::OK,
            )
            .await
        }
        Ok(Err(e)) => tokens_view(&state, &who, None, None, e, StatusCode::CONFLICT).await,
        Err(p) => problem_page(p, who.layout(), "/tokens"),
    }
}

async fn token_revoke(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<u64>,
    form: Posted,
) -> Response {
    if let Err(r) = check_form(&who, &form) {
        return r.into_response();
    }
    let actor = who.actor();
    let result = state
        .run(move |s| match s.store.revoke_token(&id.to_string()) {
            Ok(t) => {
                s.audit(&actor, "token.revoke", &format!("{} (id {})", t.name, t.id));
                Ok(Some(t.name))
            }
            Err(StoreError::NoSuchToken(_)) => Ok(None),
            Err(e) => Err(AdminError::Store(e)),
        })
        .await;
    match result {
        Ok(Some(name)) => {
            tokens_view(
                &state,
                &who,
                None,
                Some(format!("Revoked token {name}.")),
                String::new(),
                StatusCode::OK,
            )
            .await
        }
        Ok(None) => {
            tokens_view(
                &state,
                &who,
                None,
                None,
                "No such live token.".into(),
                StatusCode::NOT_FOUND,
            )
            .await
        }
        Err(p) => problem_page(p, who.layout(), "/tokens"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_limits_read_well() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(parse_limits("", ""), Ok((None, None)));
        assert_eq!(parse_limits("1M", "10"), Ok((Some(1 << 20), Some(10))));
        assert!(parse_limits("12", "").is_err(), "a bare number has no unit");
        assert!(parse_limits("", "-1").is_err());
        assert_eq!(urlencode("a b&c"), "a%20b%26c");
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let host = ("host", "panel.example:8080");
        assert!(same_origin(&headers(&[host])), "scripts send neither");
        assert!(same_origin(&headers(&[
            host,
            ("origin", "http://panel.example:8080")
        ])));
        assert!(same_origin(&headers(&[
            host,
            ("origin", "https://panel.example:8080")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[("origin", "http://x")])), "no Host");
        assert!(!same_origin(&headers(&[
            host,
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("sec-fetch-site", "same-site")
        ])));
        assert!(same_origin(&headers(&[
            host,
            ("sec-fetch-site", "same-origin"),
            ("origin", "null")
        ])));
        assert!(!same_origin(&headers(&[host, ("origin", "null")])));
    }
}
