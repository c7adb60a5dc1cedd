//! [`Page`]: the one shape of every cursor-paged list, and the `limit` and
//! `cursor` parameters that ask for one.

use std::borrow::Cow;

use serde::Serialize;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};
use vaultstream_core::ErrorCode;
use vaultstream_core::db::contents::Cursor;

use crate::error::{ApiError, ApiResult};
use crate::extract::param;

/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 50;
/// Largest page.
pub const MAX_LIMIT: u64 = 200;

/// What to say about `next_cursor` wherever a page is documented.
const NEXT_CURSOR: &str = "Pass as `cursor` for the next page; null on the last page.";

/// One page of a list, newest first: `{"items": [...], "next_cursor"}`,
/// where `next_cursor` is null on the last page (it is always sent).
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page of `rows` read newest first, at most `limit` of them: a full
    /// page points past its last row (the page after it may be empty).
    pub fn keyset<R>(rows: Vec<R>, limit: u64, id: impl Fn(&R) -> i64) -> Self
    where
        T: From<R>,
    {
        let next_cursor = (rows.len() as u64 == limit)
            .then(|| rows.last().map(|r| Cursor { before_id: id(r) }.encode()))
            .flatten();
        Page {
            items: rows.into_iter().map(T::from).collect(),
            next_cursor,
        }
    }
}

/// `limit` from the query: a whole number from 1 to `max`; `default` when
/// absent.
pub fn limit_param(pairs: &[(String, String)], default: u64, max: u64) -> ApiResult<u64> {
    let Some(l) = param(pairs, "limit") else {
        return Ok(default);
    };
    l.parse::<u64>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            ApiError::invalid_parameter(format!(
                "limit `{}` is not a whole number from 1 to {max}",
                l.escape_debug()
            ))
        })
}

/// `cursor` from the query: the `next_cursor` of an earlier page.
pub fn cursor_param(pairs: &[(String, String)]) -> ApiResult<Option<Cursor>> {
    param(pairs, "cursor")
        .map(|c| {
            Cursor::decode(c).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidCursor,
                    "`cursor` is not one this server handed out",
                )
            })
        })
        .transpose()
}

/// An item type that is listed in pages, and the name its page has in the
/// OpenAPI document. utoipa would name a generic `Page<T>` `Page_T`; these
/// names keep the ones clients already generated code from.
pub trait Paged: ToSchema {
    const PAGE_NAME: &'static str;
}

impl<T: Paged> PartialSchema for Page<T> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property(
                "items",
                ArrayBuilder::new().items(Ref::from_schema_name(T::name())),
            )
            .required("items")
            .property(
                "next_cursor",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .description(Some(NEXT_CURSOR)),
            )
            .into()
    }
}

impl<T: Paged> ToSchema for Page<T> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(T::PAGE_NAME)
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[derive(Serialize, ToSchema)]
    struct Row {
        id: i64,
    }

    impl Paged for Row {
        const PAGE_NAME: &'static str = "RowList";
    }

    impl From<i64> for Row {
        fn from(id: i64) -> Self {
            Row { id }
        }
    }

    /// The hand-written schema names exactly the fields that are sent.
    #[test]
    fn the_schema_describes_what_is_sent() {
        let full: Page<Row> = Page::keyset(vec![3, 2], 2, |id| *id);
        let sent = serde_json::to_value(&full).unwrap();
        let cursor = Cursor { before_id: 2 }.encode();
        assert_eq!(
            sent,
            json!({"items": [{"id": 3}, {"id": 2}], "next_cursor": cursor})
        );
        let last: Page<Row> = Page::keyset(vec![1], 2, |id| *id);
        assert_eq!(
            serde_json::to_value(&last).unwrap()["next_cursor"],
            Value::Null
        );

        let schema = serde_json::to_value(Page::<Row>::schema()).unwrap();
        let documented: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        let sent: Vec<&String> = sent.as_object().unwrap().keys().collect();
        assert_eq!(documented, sent);
        assert_eq!(Page::<Row>::name(), "RowList");
        assert_eq!(
            schema["properties"]["items"]["items"]["$ref"],
            "#/components/schemas/Row"
        );
    }
}
