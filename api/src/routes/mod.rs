//! One file per route group, and [`api`]: the one list they are served and
//! documented from.

pub mod blobs;
pub mod contents;
pub mod export;
pub mod feed_read;
pub mod feeds;
pub mod health;
pub mod logins;
pub mod operator;
pub mod page;
pub mod push_targets;
pub mod pushed_records;
pub mod refresh;
pub mod search;
pub mod shares;
pub mod tags;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{AppState, metrics};

/// Every documented route: each handler is routed by the method and path
/// of its `#[utoipa::path]`, and its operation goes into the document in
/// the same step, so no route exists without its documentation. (One
/// `routes!` per path: handlers listed together share their path.)
/// `base` is the document before any operation (`openapi::base`, passed
/// in so that `openapi` assembles and the routes never point back at it).
pub fn api(base: utoipa::openapi::OpenApi) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(base)
        .routes(routes!(shares::create))
        .routes(routes!(shares::create_batch))
        .routes(routes!(contents::list))
        .routes(routes!(contents::get_one))
        .routes(routes!(tags::replace))
        .routes(routes!(search::search))
        .routes(routes!(refresh::history))
        .routes(routes!(operator::retry_content))
        .routes(routes!(refresh::refresh_content))
        .routes(routes!(operator::list_dead_letters))
        .routes(routes!(operator::retry_dead_letters))
        .routes(routes!(operator::retry_dead_letter))
        .routes(routes!(
            push_targets::list_targets,
            push_targets::create_target
        ))
        .routes(routes!(
            push_targets::get_target,
            push_targets::update_target,
            push_targets::delete_target
        ))
        .routes(routes!(pushed_records::list_records))
        .routes(routes!(pushed_records::resend_record))
        .routes(routes!(export::export_tar))
        .routes(routes!(feeds::list_feeds, feeds::create_feed))
        .routes(routes!(feeds::get_feed, feeds::revoke_feed))
        .routes(routes!(logins::list_logins))
        .routes(routes!(logins::set_login, logins::remove_login))
        .routes(routes!(logins::check_login))
        .routes(routes!(logins::start_qr_login))
        .routes(routes!(logins::poll_qr_login))
        .routes(routes!(feed_read::rss))
        .routes(routes!(feed_read::atom))
        .routes(routes!(feed_read::json))
        .routes(routes!(health::health))
        .routes(routes!(blobs::get_blob))
        .routes(routes!(metrics::scrape))
}

/// `status` with `body` as JSON and a `Location` header pointing at the
/// resource it describes (`/api/v1/...`).
fn located<T: Serialize>(status: StatusCode, body: T, location: &str) -> Response {
    let mut resp = (status, Json(body)).into_response();
    if let Ok(loc) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp
}
