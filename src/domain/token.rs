//! Stateless access tokens (JWT HS256): any replica that shares the secret accepts them.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub email: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Clone)]
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    lifetime: Duration,
}

impl TokenIssuer {
    pub fn new(secret: &[u8], lifetime: Duration) -> Self {
        // Only HS256 is accepted: `alg: none` and algorithm confusion fail validation.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            lifetime,
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    pub fn issue(&self, user_id: Uuid, email: &str) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            email: email.to_owned(),
            iat: now,
            exp: now + i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX / 2),
        };
        Ok(encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    pub fn verify(&self, token: &str) -> Option<Claims> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

    fn issuer(secret: &str) -> TokenIssuer {
        TokenIssuer::new(secret.as_bytes(), Duration::from_secs(60))
    }

    #[test]
    fn issued_tokens_verify() {
        let id = Uuid::new_v4();
        let token = issuer("s1").issue(id, "a@b.cd").expect("token");
        assert_eq!(issuer("s1").verify(&token).map(|c| c.sub), Some(id));
    }

    #[test]
    fn wrong_secret_tampered_and_alg_none_are_rejected() {
        let token = issuer("s1").issue(Uuid::new_v4(), "a@b.cd").expect("token");
        assert!(issuer("s2").verify(&token).is_none());

        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let forged = serde_json::json!({"sub": Uuid::new_v4(), "email":"x@y.zz", "iat": 0, "exp": 9_999_999_999i64});
        parts[1] = URL_SAFE_NO_PAD.encode(forged.to_string());
        assert!(issuer("s1").verify(&parts.join(".")).is_none());

        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert!(
            issuer("s1")
                .verify(&format!("{none_header}.{}.", parts[1]))
                .is_none()
        );
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let issuer = issuer("s1");
        let claims = Claims {
            sub: Uuid::new_v4(),
            email: "a@b.cd".into(),
            iat: 0,
            exp: 1,
        };
        let token =
            encode(&Header::new(Algorithm::HS256), &claims, &issuer.encoding).expect("token");
        assert!(issuer.verify(&token).is_none());
    }
}
