//! The closed sets of words the database stores as text: statuses of rows
//! with queued work (items, media files, pushed records) and dead-letter
//! states here; job kinds (`queue`) and per-media error codes (`error`)
//! beside their subjects.
//!
//! Each is an enum whose variants name their stored word once
//! ([`string_enum!`]); entities hold the enum, so sea-orm converts at the
//! database boundary and no crate compares status strings. The columns stay
//! text: no migration, and a word unknown to this build fails the read
//! loudly instead of being misread.

/// An enum of stored words: `as_str`, `ALL`, `Display`, `FromStr` (an
/// unknown word is [`crate::platform::UnknownName`]), `Serialize` as the
/// word, and sea-orm's text column conversions.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $word:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, sea_orm::DeriveValueType)]
        #[sea_orm(value_type = "String")]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word stored in the database and shown in the API.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                // `pad`: widths and alignment (`{:<8}`) apply.
                f.pad(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::platform::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::platform::UnknownName(s.to_owned()))
            }
        }
    };
}
pub(crate) use string_enum;

string_enum! {
    /// `unprocessed` → `processing` → `pulled` | `failed`.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "openapi", schema(rename_all = "lowercase"))]
    pub enum Status {
        Unprocessed = "unprocessed",
        Processing = "processing",
        Pulled = "pulled",
        Failed = "failed",
    }
}

string_enum! {
    /// A media file: `pending` → `processing` → `archived` | `failed`;
    /// `skipped` when media archiving is off (the row still lists the
    /// original URL).
    pub enum MediaStatus {
        Pending = "pending",
        Processing = "processing",
        Archived = "archived",
        Failed = "failed",
        Skipped = "skipped",
    }
}

impl MediaStatus {
    /// Still on its way: its item's pushes wait for it.
    pub fn is_open(self) -> bool {
        matches!(self, MediaStatus::Pending | MediaStatus::Processing)
    }
}

string_enum! {
    /// A pushed record: `pending` → `sending` → `sent` | `failed`.
    pub enum RecordStatus {
        Pending = "pending",
        Sending = "sending",
        Sent = "sent",
        Failed = "failed",
    }
}

string_enum! {
    /// What a pushed record delivers: the item itself (`item`), or a
    /// notice that the original of an item the target received was
    /// deleted upstream (`deleted_upstream`; only to targets that asked
    /// for it). One record per (target, item, event): never twice.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "openapi", schema(rename_all = "snake_case"))]
    pub enum PushEvent {
        Item = "item",
        DeletedUpstream = "deleted_upstream",
    }
}

string_enum! {
    /// Where a push target delivers: a Telegram chat (`telegram`), or an
    /// HTTP endpoint that takes a signed JSON POST (`webhook`).
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "openapi", schema(rename_all = "lowercase"))]
    pub enum TargetKind {
        Telegram = "telegram",
        Webhook = "webhook",
    }
}

string_enum! {
    /// The JSON a webhook target's receiver takes: `standard` (the item as
    /// `GET /contents/{id}` shows it, signed the Standard Webhooks way),
    /// `discord` or `slack` (their incoming webhooks' message shapes and
    /// limits).
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "openapi", schema(rename_all = "lowercase"))]
    pub enum WebhookFormat {
        Standard = "standard",
        Discord = "discord",
        Slack = "slack",
    }
}

string_enum! {
    /// What the platform says of an item's original (see `db::refresh`):
    /// `live`; `deleted` (gone: 404, tombstone, "removed" — declared only
    /// after two refetches agree, spaced in time); `restricted` (login
    /// wall, private, region or age lock); `unreachable` (a refresh's
    /// attempts all failed on the network or 5xx).
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[cfg_attr(feature = "openapi", schema(rename_all = "lowercase"))]
    pub enum UpstreamState {
        Live = "live",
        Deleted = "deleted",
        Restricted = "restricted",
        Unreachable = "unreachable",
    }
}

string_enum! {
    /// An item's refresh row: `unscheduled` (new: the worker schedules it
    /// by the policy) → `waiting` (due at `next_attempt_at`) →
    /// `refreshing` → `waiting` for the next step, or `idle` (the policy
    /// has no more steps; an operator's refresh still runs).
    pub enum RefreshStatus {
        Unscheduled = "unscheduled",
        Waiting = "waiting",
        Refreshing = "refreshing",
        Idle = "idle",
    }
}

string_enum! {
    /// A dead letter: `open` until an operator retries it, then `retried`
    /// (kept as history).
    pub enum DeadLetterState {
        Open = "open",
        Retried = "retried",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), *s);
        }
        assert!("done".parse::<Status>().is_err());
    }

    #[test]
    fn words_round_trip() {
        for s in MediaStatus::ALL {
            assert_eq!(s.as_str().parse::<MediaStatus>(), Ok(*s));
        }
        for s in RecordStatus::ALL {
            assert_eq!(s.to_string().parse::<RecordStatus>(), Ok(*s));
        }
        for s in DeadLetterState::ALL {
            assert_eq!(s.as_str().parse::<DeadLetterState>(), Ok(*s));
        }
        assert!(
            "Pending".parse::<MediaStatus>().is_err(),
            "exact words only"
        );
    }
}
