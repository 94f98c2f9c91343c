//! Per-IP rate limiting of the password endpoints (login, register): brute force and sign-up
//! floods get 429 + Retry-After long before they cost hashing capacity. Off unless configured.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};

use super::{SharedState, error::error_response};
use crate::app::{ErrorCode, throttle::AuthRateLimiter};

/// The client address: the proxy-appended (right-most) X-Forwarded-For entry, X-Real-IP, or the
/// peer. The right-most entry is the one our own load balancer wrote; earlier ones are client-controlled.
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>) -> IpAddr {
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').map(str::trim).find(|s| !s.is_empty()))
        .and_then(|v| v.parse().ok());
    let real_ip = || {
        headers
            .get("x-real-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
    };
    forwarded
        .or_else(real_ip)
        .or(peer)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

pub async fn limit_auth(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    limit(state.auth_limiter.as_ref(), request, next).await
}

/// Join-code lookups: a guest types a code now and then; a guesser is stopped at once.
pub async fn limit_join_code(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    limit(state.join_code_limiter.as_ref(), request, next).await
}

async fn limit(limiter: Option<&AuthRateLimiter>, request: Request, next: Next) -> Response {
    let Some(limiter) = limiter else {
        return next.run(request).await;
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let ip = client_ip(request.headers(), peer);
    match limiter.check(ip) {
        None => next.run(request).await,
        Some(wait) => {
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                "Too many attempts from this address, please wait",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait.max(1)));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::throttle::AuthRateLimiter;

    #[test]
    fn the_burst_passes_then_requests_wait() {
        let limiter = AuthRateLimiter::new(60, 3).expect("enabled");
        let ip = IpAddr::from([10, 0, 0, 1]);
        assert!((0..3).all(|_| limiter.check(ip).is_none()));
        assert!(
            limiter
                .check(ip)
                .is_some_and(|wait| (1..=2).contains(&wait))
        );
        assert!(
            limiter.check(IpAddr::from([10, 0, 0, 2])).is_none(),
            "limits are per address"
        );
        assert!(AuthRateLimiter::new(0, 5).is_none());
    }

    #[test]
    fn the_proxy_appended_address_wins() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 10.1.1.1"),
        );
        assert_eq!(client_ip(&headers, None), IpAddr::from([10, 1, 1, 1]));
        assert_eq!(
            client_ip(&HeaderMap::new(), Some(IpAddr::from([127, 0, 0, 1]))),
            IpAddr::from([127, 0, 0, 1])
        );
    }
}
