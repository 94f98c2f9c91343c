//! `/openapi.json`: the OpenAPI 3.1 description of the whole API, generated from the routes
//! (see `documented_routes`) and the types of their inputs and outputs.

use std::sync::OnceLock;

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use super::error;
use crate::{
    app::ErrorCode,
    domain::missions::{Mission, MissionList},
};

#[derive(OpenApi)]
#[openapi(
    info(title = "PartyPic API", description = "Photo sharing for weddings and parties."),
    components(schemas(error::ErrorBody, ErrorCode, Mission, MissionList)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The API description, e.g. for generating client types (`partypic openapi`).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    super::describe()
}

/// Rendered once: the description never changes while the process runs.
pub async fn openapi_json() -> Response {
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    let body = DOCUMENT.get_or_init(|| {
        serde_json::to_vec(&openapi_document())
            .map(Bytes::from)
            .unwrap_or_default()
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.clone(),
    )
        .into_response()
}
