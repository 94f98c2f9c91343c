//! `/openapi.json`: the OpenAPI 3.1 description of the whole API, generated from the handlers.

use axum::Json;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use super::{auth, download, error, health, hosting, live, pictures, sessions};
use crate::domain::missions::{Mission, MissionList};

#[derive(OpenApi)]
#[openapi(
    info(title = "PartyPic API", description = "Photo sharing for weddings and parties."),
    paths(
        auth::register, auth::login, auth::me,
        hosting::mine, hosting::update_settings, hosting::end, hosting::qr_code,
        live::events, download::zip,
        pictures::delete, pictures::approve,
        sessions::create, sessions::get, sessions::set_missions,
        sessions::register_guest, sessions::login_guest, sessions::heartbeat,
        pictures::init_upload, pictures::finalize_upload, pictures::gallery,
        health::healthz, health::readyz,
    ),
    components(schemas(error::ErrorBody, Mission, MissionList)),
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

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
