//! Who runs an event: its owner (the host who created it) and the co-hosts the owner invited.
//! A co-host may do everything a host does on the event except what touches the owner's account
//! or the event's existence: deleting it and managing its co-hosts stay the owner's.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostRole {
    Owner,
    CoHost,
}

impl HostRole {
    /// The stored (and serialized) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::CoHost => "co_host",
        }
    }

    pub fn is_owner(self) -> bool {
        self == Self::Owner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_serialize_as_their_stored_names() {
        for role in [HostRole::Owner, HostRole::CoHost] {
            assert_eq!(
                serde_json::to_value(role).expect("serializes"),
                role.as_str()
            );
        }
    }
}
