//! Photo missions: short tasks guests get at random ("a photo with the bride").

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::values::Invalid;

pub const MAX_MISSIONS: usize = 500;
pub const MAX_DESCRIPTION_CHARS: usize = 300;
const MAX_ID_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Mission {
    /// Client-chosen id (string or number in requests; always a string in responses).
    pub id: String,
    pub description: String,
}

/// The wire shape `{data: [...]}` used by the existing clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MissionList {
    pub data: Vec<Mission>,
}

const DEFAULT_MISSIONS: &[&str] = &[
    "A photo with the bride or the groom",
    "A selfie with someone you met today",
    "The best dance move of the night",
    "Your table, everyone in the picture",
    "The most beautiful detail of the decoration",
    "A toast: glasses up!",
    "Someone laughing out loud",
    "The oldest and the youngest guest together",
    "A group photo with at least five people",
    "The cake before it is cut",
    "Shoes on the dance floor",
    "A candid moment nobody posed for",
    "Your best funny face",
    "Something blue",
    "A photo of the photographer",
];

impl MissionList {
    pub fn defaults() -> Self {
        Self {
            data: DEFAULT_MISSIONS
                .iter()
                .enumerate()
                .map(|(i, d)| Mission {
                    id: (i + 1).to_string(),
                    description: (*d).to_owned(),
                })
                .collect(),
        }
    }

    /// Parses `{data:[{id, description}]}` (or a bare array) from a request body.
    pub fn parse(value: &Value) -> Result<Self, Invalid> {
        let items = match value {
            Value::Object(map) => match map.get("data") {
                Some(Value::Array(items)) => items,
                _ => return Err(Invalid::new("missions.data must be an array")),
            },
            Value::Array(items) => items,
            _ => return Err(Invalid::new("missions must be an object {data:[...]}")),
        };
        if items.len() > MAX_MISSIONS {
            return Err(Invalid::new(format!(
                "at most {MAX_MISSIONS} missions are allowed"
            )));
        }
        let mut data = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let Value::Object(item) = item else {
                return Err(Invalid::new(format!(
                    "missions.data[{index}] must be an object"
                )));
            };
            let id = match item.get("id") {
                None | Some(Value::Null) => Uuid::new_v4().to_string(),
                Some(Value::String(s))
                    if !s.trim().is_empty() && s.chars().count() <= MAX_ID_CHARS =>
                {
                    s.trim().to_owned()
                }
                Some(Value::Number(n)) => n.to_string(),
                Some(_) => {
                    return Err(Invalid::new(format!(
                        "missions.data[{index}].id must be a string of 1-{MAX_ID_CHARS} characters or a number"
                    )));
                }
            };
            let description = match item.get("description") {
                Some(Value::String(s)) => s.trim(),
                _ => {
                    return Err(Invalid::new(format!(
                        "missions.data[{index}].description is required"
                    )));
                }
            };
            if description.is_empty() {
                return Err(Invalid::new(format!(
                    "missions.data[{index}].description must not be empty"
                )));
            }
            if description.chars().count() > MAX_DESCRIPTION_CHARS {
                return Err(Invalid::new(format!(
                    "missions.data[{index}].description must be at most {MAX_DESCRIPTION_CHARS} characters"
                )));
            }
            data.push(Mission {
                id,
                description: description.to_owned(),
            });
        }
        Ok(Self { data })
    }
}

/// A mission reference on a picture, as sent by clients (string or number).
pub fn parse_mission_id(value: Option<&Value>) -> Result<Option<String>, Invalid> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= MAX_ID_CHARS => {
            Ok(Some(s.trim().to_owned()))
        }
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(Invalid::new(format!(
            "mission_id must be a string of at most {MAX_ID_CHARS} characters or a number"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missions_accept_string_and_numeric_ids() {
        let list = MissionList::parse(
            &json!({"data":[{"id":1,"description":"a"},{"id":"x","description":" b "}]}),
        )
        .expect("valid");
        assert_eq!(list.data[0].id, "1");
        assert_eq!(list.data[1].description, "b");
    }

    #[test]
    fn too_many_or_too_long_missions_are_rejected() {
        let many: Vec<_> = (0..=MAX_MISSIONS)
            .map(|i| json!({"id": i, "description": "d"}))
            .collect();
        assert!(MissionList::parse(&json!({ "data": many })).is_err());
        let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
        assert!(MissionList::parse(&json!({"data":[{"id":1,"description": long}]})).is_err());
        assert!(MissionList::parse(&json!({"data":[{"id":1}]})).is_err());
        assert!(MissionList::parse(&json!("nope")).is_err());
    }

    #[test]
    fn missing_ids_are_generated() {
        let list = MissionList::parse(&json!([{"description":"a"}])).expect("valid");
        assert!(Uuid::parse_str(&list.data[0].id).is_ok());
    }
}
