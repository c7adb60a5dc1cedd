//! The OpenAPI 3.1 document of the REST API, served at
//! [`OPENAPI_PATH`], with Swagger UI (vendored assets, no CDN) at
//! [`DOCS_PATH`].
//!
//! Operations are described by `#[utoipa::path]` on the handlers in
//! [`crate::routes`]; this module gathers them, adds the shapes that the
//! handlers build as loose JSON, the error envelope (its `code` enum is
//! generated from [`ErrorCode::ALL`], so it cannot drift), and the bearer
//! security scheme. `api/tests/openapi.rs` keeps a snapshot of the result.

use std::borrow::Cow;

use axum::Router;
use utoipa::openapi::HttpMethod;
use utoipa::openapi::path::{Operation, OperationBuilder};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{IntoParams, Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_swagger_ui::SwaggerUi;
use vaultstream_core::ErrorCode;
use vaultstream_core::content::Status;
use vaultstream_core::db::keys::Role;
use vaultstream_core::parsed::ErrorClass;
use vaultstream_core::platform::Platform;

use crate::auth::{Access, access_for};
use crate::routes;

/// Where the JSON document is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";
/// Where Swagger UI is served.
pub const DOCS_PATH: &str = "/docs";
/// The name of the bearer security scheme in the document.
pub const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "VaultStream",
        description = "VaultStream archives what people share: submit a link, \
            it is identified, parsed, its media archived and pushed to Telegram.\n\n\
            Every failure is a 4xx/5xx status with `{\"error\": {\"code\", \"message\"}}`; \
            `code` is one of the stable words of `ErrorCode`.",
    ),
    paths(
        routes::shares::create,
        routes::contents::list,
        routes::contents::get_one,
        routes::operator::retry_content,
        routes::operator::list_dead_letters,
        routes::operator::retry_dead_letters,
        routes::operator::retry_dead_letter,
        routes::push::list_targets,
        routes::push::create_target,
        routes::push::get_target,
        routes::push::update_target,
        routes::push::delete_target,
        routes::push::list_records,
        routes::push::resend_record,
        routes::health::health,
        routes::blobs::get_blob,
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
    modifiers(&Security),
    tags(
        (name = "shares", description = "Submit links"),
        (name = "contents", description = "Archived items"),
        (name = "operator", description = "Dead letters and manual retries"),
        (name = "push", description = "Telegram push targets and pushed records"),
        (name = "health", description = "Liveness"),
        (name = "blobs", description = "Archived media files"),
    )
)]
pub struct ApiDoc;

/// The whole document. The version is this crate's `CARGO_PKG_VERSION`.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// `GET /api/openapi.json` and Swagger UI under `/docs`; merge into the
/// app router. Both are public (no key).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    SwaggerUi::new(DOCS_PATH)
        .url(OPENAPI_PATH, document())
        .into()
}

/// Adds the bearer scheme and marks each operation with what
/// [`crate::auth::access_for`] (the policy the auth middleware enforces)
/// decides for its path: open operations get `security: []`, the others the
/// bearer requirement, the role they need, and their 401/403/429 answers.
/// Also documents `GET /metrics`, whose handler lives outside `routes`.
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
        openapi.paths.add_path_operation(
            "/metrics",
            vec![HttpMethod::Get],
            OperationBuilder::new()
                .operation_id(Some("metrics"))
                .tag("health")
                .summary(Some("Prometheus metrics"))
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("The Prometheus text exposition format")
                        .content(
                            "text/plain; version=0.0.4",
                            ContentBuilder::new().schema(Some(String::schema())).build(),
                        ),
                ),
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
            for op in ops.into_iter().flatten() {
                match access {
                    Access::Open => op.security = Some(Vec::new()),
                    Access::Needs(role) => secure(op, role),
                }
            }
        }
    }
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

// -- the error envelope -----------------------------------------------------

/// Every failure: a 4xx/5xx status and this body.
#[derive(ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

#[derive(ToSchema)]
pub struct ErrorDetail {
    #[schema(value_type = ErrorCodeSchema)]
    pub code: ErrorCode,
    /// For people; may change between versions. Match on `code`.
    pub message: String,
}

/// The `ErrorCode` schema: a string enum of every [`ErrorCode::ALL`], with
/// the HTTP status each is answered with.
pub struct ErrorCodeSchema;

impl PartialSchema for ErrorCodeSchema {
    fn schema() -> RefOr<Schema> {
        let table: Vec<String> = ErrorCode::ALL
            .iter()
            .map(|c| format!("- `{}`: {}", c.as_str(), c.http_status()))
            .collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some(format!(
                "A stable, machine-readable word. Each code is always answered \
                 with the same HTTP status:\n{}",
                table.join("\n")
            )))
            .into()
    }
}

impl ToSchema for ErrorCodeSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

// -- shapes the handlers build as loose JSON ----------------------------------

/// `pending`, `sending`, `sent` or `failed`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum PushRecordStatus {
    Pending,
    Sending,
    Sent,
    Failed,
}

/// Which dead letters: `open` (waiting for an operator, the default),
/// `retried`, or `all`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum DeadLetterState {
    Open,
    Retried,
    All,
}

#[derive(ToSchema)]
pub struct DeadLetterList {
    pub items: Vec<routes::operator::DeadLetterView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `202`: the item is queued again.
#[derive(ToSchema)]
pub struct ContentRetried {
    pub content_id: i64,
    /// `unprocessed` (the item is parsed again) or `pulled` (the item is
    /// kept; its failed media files are retried).
    pub status: String,
    /// The media files queued again, when `status` is `pulled`.
    #[schema(required = false)]
    pub media_ids: Option<Vec<i64>>,
}

/// `202`: the dead letter's job is queued again.
#[derive(ToSchema)]
pub struct DeadLetterRetried {
    pub dead_letter_id: i64,
    pub content_id: i64,
    /// `unprocessed` (a parse job) or `pending` (media jobs).
    pub status: String,
    /// The media files queued again, for a media dead letter.
    #[schema(required = false)]
    pub media_ids: Option<Vec<i64>>,
}

/// `202`: every matching open dead letter is queued again.
#[derive(ToSchema)]
pub struct DeadLettersRetried {
    /// How many jobs were queued (items plus media files).
    pub retried: u64,
    pub content_ids: Vec<i64>,
    pub media_ids: Vec<i64>,
}

#[derive(ToSchema)]
pub struct TargetList {
    pub items: Vec<routes::push::TargetView>,
}

#[derive(ToSchema)]
pub struct RecordList {
    pub items: Vec<routes::push::RecordView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `202`: the record is `pending` again and queued for the publisher.
#[derive(ToSchema)]
pub struct RecordResent {
    pub id: i64,
    #[schema(value_type = PushRecordStatus)]
    pub status: String,
    pub record: Option<routes::push::RecordView>,
}

/// A Telegram chat: `@channelname` or a numeric id (a string or a JSON
/// integer, e.g. `-1001234567890`).
#[derive(ToSchema)]
#[serde(untagged)]
pub enum ChatId {
    Name(String),
    Id(i64),
}

/// A push target. On `POST` only `chat_id` is required (`platforms` and
/// `tags` default to `[]`, meaning everything; `enabled` to `true`); on
/// `PATCH` only the fields sent change, and `"name": null` clears the name.
/// Unknown fields are refused (`invalid_body`).
#[derive(ToSchema)]
pub struct TargetRequest {
    #[schema(required = false)]
    pub chat_id: ChatId,
    #[schema(required = false)]
    pub name: Option<String>,
    /// Empty: every platform.
    #[schema(required = false)]
    pub platforms: Vec<Platform>,
    /// Empty: every tag (and untagged items).
    #[schema(required = false)]
    pub tags: Vec<String>,
    #[schema(required = false)]
    pub enabled: bool,
}

#[derive(ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when a dependency is failing (the status is 503
    /// only when the database is).
    pub status: String,
    pub version: String,
    pub checks: HealthChecks,
}

#[derive(ToSchema)]
pub struct HealthChecks {
    pub database: DependencyCheck,
    pub blobs: DependencyCheck,
}

#[derive(ToSchema)]
pub struct DependencyCheck {
    /// `ok` or `error`.
    pub status: String,
    /// e.g. `sqlite`, `postgres`, `local`, `s3`.
    pub backend: String,
    /// Present when `status` is `ok`.
    #[schema(required = false)]
    pub latency_ms: Option<f64>,
    /// Present when `status` is `error`: `unreachable`, `unavailable` or
    /// `timeout`.
    #[schema(required = false)]
    pub error: Option<String>,
}

/// The bytes of an archived file.
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/octet-stream")
            .into()
    }
}

impl ToSchema for Binary {}

// -- query parameters -------------------------------------------------------

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentListQuery {
    pub status: Option<Status>,
    pub platform: Option<Platform>,
    /// Items with this tag (a leading `#` is ignored; case-insensitive).
    pub tag: Option<String>,
    /// Text search in title and text, at most 200 characters.
    pub q: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    pub platform: Option<Platform>,
    pub error_type: Option<ErrorClass>,
    pub state: Option<DeadLetterState>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterRetryQuery {
    pub platform: Option<Platform>,
    pub error_type: Option<ErrorClass>,
    /// At most this many dead letters per call.
    #[param(minimum = 1, maximum = 10000, default = 1000)]
    pub limit: Option<u64>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordListQuery {
    /// Records of this push target.
    #[param(minimum = 1)]
    pub target_id: Option<i64>,
    /// Records of this item.
    #[param(minimum = 1)]
    pub content_id: Option<i64>,
    pub status: Option<PushRecordStatus>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
