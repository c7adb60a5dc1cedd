//! sea-orm entities, one file per table. The schema itself lives in the
//! `migrations` crate; these mirror it.

pub mod api_key;
pub mod blob;
pub mod blob_source;
pub mod content;
pub mod content_source;
pub mod content_stat;
pub mod content_tag;
pub mod content_version;
pub mod dead_letter;
pub mod feed;
pub mod login;
pub mod login_vault;
pub mod media;
pub mod push_target;
pub mod pushed_record;
pub mod refresh;
pub mod upstream_event;
