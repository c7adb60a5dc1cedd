//! The OpenAPI 3.1 document of the REST API, served at [`OPENAPI_PATH`],
//! with Swagger UI (vendored assets, no CDN) at [`DOCS_PATH`].
//!
//! This module only assembles: operations come from `#[utoipa::path]` on
//! the handlers, routed and documented together by [`crate::routes::api`];
//! bodies are the types the handlers answer with, declared beside them.
//! Here: the document's info, tags and the schemas no operation reaches
//! (query enums, the error envelope), and the security of each operation,
//! decided by the auth middleware's own policy. `api/tests/openapi.rs`
//! keeps a snapshot of the result.

use axum::Router;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::SwaggerUi;
use vaultstream_core::content::Status;
use vaultstream_core::db::keys::Role;
use vaultstream_core::parsed::ErrorClass;
use vaultstream_core::platform::Platform;

use crate::AppState;
use crate::auth::{Access, access_for};
use crate::error::{ErrorCodeSchema, ErrorDetail, ErrorResponse};
use crate::routes;
use crate::routes::operator::DeadLetterState;
use crate::routes::pushed_records::PushRecordStatus;

/// Where the JSON document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";
/// Where Swagger UI is served.
pub const DOCS_PATH: &str = "/docs";
/// The name of the bearer security scheme in the document.
pub const BEARER: &str = "bearer";
/// The name of the feed-token scheme (`?token=vf_…`) in the document.
pub const FEED_TOKEN: &str = "feed_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "VaultStream",
        description = "VaultStream archives what people share: submit a link, \
            it is identified, parsed, its media archived and pushed to Telegram.\n\n\
            Every failure is a 4xx/5xx status with `{\"error\": {\"code\", \"message\"}}`; \
            `code` is one of the stable words of `ErrorCode`.",
    ),
    components(schemas(
        ErrorResponse,
        ErrorDetail,
        ErrorCodeSchema,
        Status,
        Platform,
        ErrorClass,
        PushRecordStatus,
        DeadLetterState,
    )),
    tags(
        (name = "shares", description = "Submit links"),
        (name = "contents", description = "Archived items"),
        (name = "operator", description = "Dead letters and manual retries"),
        (name = "push", description = "Telegram push targets and pushed records"),
        (name = "health", description = "Liveness"),
        (name = "blobs", description = "Archived media files"),
        (name = "feeds", description = "RSS, Atom and JSON feeds behind revocable tokens"),
        (name = "logins", description = "Platform logins: stored encrypted, checked, QR login; values never shown"),
    )
)]
struct ApiDoc;

/// The document before any operation: what [`crate::routes::api`] starts
/// from. The version is this crate's `CARGO_PKG_VERSION`.
pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The documented routes and their whole document, built from one list.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = routes::api(base()).split_for_parts();
    // OpenAPI has no catch-all parameter: axum's `{*rest}` is `{rest}` there.
    doc.paths.paths = std::mem::take(&mut doc.paths.paths)
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    Security.modify(&mut doc);
    (router, doc)
}

/// The whole document (as served).
pub fn document() -> utoipa::openapi::OpenApi {
    api().1
}

/// `GET /api/openapi.json` serving `doc`, and Swagger UI under `/docs`.
/// Both are public (no key).
pub fn docs<S: Clone + Send + Sync + 'static>(doc: utoipa::openapi::OpenApi) -> Router<S> {
    SwaggerUi::new(DOCS_PATH).url(OPENAPI_PATH, doc).into()
}

/// Adds the bearer scheme and marks each operation with what
/// [`crate::auth::access_for`] (the policy the auth middleware enforces)
/// decides for its path: open operations get `security: []`, the others the
/// bearer requirement, the role they need, and their 401/403/429 answers.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <key>`; keys come from \
                         `vaultstream keys create --role submitter|operator` \
                         (an operator key may do everything a submitter key may).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            FEED_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "A feed's token (`vf_…`, from `vaultstream feeds create` or \
                 `POST /api/v1/feeds`): reads that feed, and the archived files \
                 of the items it shows.",
            ))),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            // `method(get, head)` shares one operation; ids must be unique.
            if let Some(head) = item.head.as_mut()
                && let Some(id) = head.operation_id.as_mut()
                && let Some(rest) = id.strip_prefix("get_")
            {
                *id = format!("head_{rest}");
            }
            // A concrete path for the policy, which judges real request paths.
            let concrete = path.replace("{id}", "1").replace("{rest}", "ab/cd/x.webp");
            let access = access_for(&concrete);
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            let feed = path.starts_with("/api/v1/feed/");
            let blob = path.starts_with("/blobs/");
            for op in ops.into_iter().flatten() {
                match access {
                    Access::Open if feed => feed_secured(op),
                    Access::Open => op.security = Some(Vec::new()),
                    Access::Needs(role) => {
                        secure(op, role);
                        if blob {
                            // Or a feed's token, for the files its items have.
                            op.security
                                .get_or_insert_with(Vec::new)
                                .push(feed_requirement());
                        }
                    }
                }
            }
        }
    }
}

fn feed_requirement() -> SecurityRequirement {
    SecurityRequirement::new::<_, [&str; 0], &str>(FEED_TOKEN, [])
}

/// A feed route: its own token in the query instead of a key; limited per
/// client IP.
fn feed_secured(op: &mut Operation) {
    op.security = Some(vec![feed_requirement()]);
    op.responses
        .responses
        .entry("429".to_owned())
        .or_insert_with(|| {
            error_response("`rate_limited`: retry after the `Retry-After` header (seconds)")
        });
}

fn secure(op: &mut Operation, role: Role) {
    op.security = Some(vec![SecurityRequirement::new::<_, [&str; 0], &str>(
        BEARER,
        [],
    )]);
    let note = format!("Needs a `{}` key.", role.as_str());
    op.description = Some(match op.description.take() {
        Some(d) => format!("{d}\n\n{note}"),
        None => note,
    });
    for (status, text) in [
        (
            "401",
            "`unauthenticated`: no key, or a malformed, unknown or revoked key",
        ),
        ("403", "`forbidden`: the key's role may not do this"),
        (
            "429",
            "`rate_limited`: retry after the `Retry-After` header (seconds)",
        ),
    ] {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(text));
    }
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorResponse::name())))
                .build(),
        )
        .build()
        .into()
}
