//! `GET /api/anime/{id}/cover`: a series' cover from the data dir (fetched from the provider on
//! first use).
//!
//! A browser loads covers with `<img>`, which cannot send the bearer token. The API therefore
//! hands out signed cover URLs (`cover_url` in series answers): `?exp=<unix seconds>&sig=<hex>`,
//! an HMAC-SHA256 over the series key and the expiry, keyed from the server's signing secret.
//! Such a URL opens that one cover only, until `exp` (one to two days, rounded to a day so the
//! URL stays the same all day and the browser's cache works), and never reveals the session
//! token (which would end up in logs and history as a query parameter). API clients may send
//! the bearer token instead.

use aniworld_core::model::SeriesKey;
use hmac::{Hmac, Mac};
use poem::web::Data;
use poem::{IntoResponse, Request, Response};
use poem_openapi::auth::ApiKey;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::{ApiResponse, OpenApi, SecurityScheme};
use sha2::Sha256;

use super::{ApiTags, BearerAuth};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult, Errors, can};

const DAY: i64 = 86_400;
/// How long the browser may keep a cover without asking again.
const CACHE_SECS: u64 = 86_400;

/// Signs and checks cover URLs.
pub struct CoverSigner {
    key: Vec<u8>,
}

impl CoverSigner {
    /// A key of its own, derived from the server's signing secret.
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"aniworld cover URLs");
        CoverSigner {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self, key: &str, exp: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(format!("cover\n{key}\n{exp}").as_bytes());
        mac
    }

    /// The signed URL of a series' cover, valid for one to two days.
    pub fn url(&self, key: &SeriesKey) -> String {
        let exp = (aniworld_core::storage::now() / DAY + 2) * DAY;
        let sig = hex::encode(self.mac(key.as_str(), exp).finalize().into_bytes());
        format!("/api/anime/{key}/cover?exp={exp}&sig={sig}")
    }

    /// Whether `sig` signs `key` until `exp`, and `exp` has not passed.
    pub fn verify(&self, key: &str, exp: i64, sig: &str) -> bool {
        if exp < aniworld_core::storage::now() {
            return false;
        }
        let Ok(bytes) = hex::decode(sig) else {
            return false;
        };
        self.mac(key, exp).verify_slice(&bytes).is_ok()
    }
}

/// A signed cover URL's signature (`sig`, with `exp`), as `cover_url` gives it.
#[derive(SecurityScheme)]
#[oai(
    rename = "CoverSignature",
    ty = "api_key",
    key_in = "query",
    key_name = "sig",
    checker = "take_signature"
)]
pub struct CoverSignature(String);

async fn take_signature(_req: &Request, key: ApiKey) -> Option<String> {
    Some(key.key)
}

/// The bearer token, or a signed cover URL.
#[derive(SecurityScheme)]
pub enum CoverAuth {
    Bearer(BearerAuth),
    Signed(CoverSignature),
}

/// A JPEG, PNG, GIF or WebP image.
pub struct CoverImage {
    bytes: Vec<u8>,
    mime: &'static str,
}

impl Payload for CoverImage {
    const CONTENT_TYPE: &'static str = "image/*";

    fn check_content_type(_content_type: &str) -> bool {
        true
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            format: Some("binary"),
            ..MetaSchema::new("string")
        }))
    }
}

impl IntoResponse for CoverImage {
    fn into_response(self) -> Response {
        Response::builder().content_type(self.mime).body(self.bytes)
    }
}

#[derive(ApiResponse)]
pub enum CoverResponse {
    /// The cover image (`image/jpeg`, `image/png`, `image/gif` or `image/webp`).
    #[oai(status = 200)]
    Ok(CoverImage, #[oai(header = "Cache-Control")] String),
}

pub struct CoversApi;

#[OpenApi(prefix_path = "/api/anime", tag = "ApiTags::Anime")]
impl CoversApi {
    /// A series' cover, by key or folder name. Fetched from the provider once and kept in
    /// `DATA_DIR/covers`. Authorised by the bearer token or by a signed URL: `cover_url` in the
    /// series answers is one, for `<img>` tags (`exp` and `sig` query parameters). 404 when the
    /// series has no cover (or its site could not deliver it; asked again after ten minutes).
    #[oai(path = "/:id/cover", method = "get", operation_id = "anime_cover")]
    async fn cover(
        &self,
        auth: CoverAuth,
        state: Data<&AppState>,
        /// Series key or folder name.
        id: Path<String>,
        /// Expiry of a signed URL (unix seconds), with `sig`.
        exp: Query<Option<i64>>,
    ) -> ApiResult<
        CoverResponse,
        Errors<{ can::UNAUTHORIZED | can::NOT_FOUND | can::INTERNAL | can::UPSTREAM }>,
    > {
        let entry = state.library().find(&id.0).ok_or_else(|| {
            ApiError::not_found(format!(
                "no series with key or folder {:?}",
                id.0.chars().take(100).collect::<String>()
            ))
        })?;
        if let CoverAuth::Signed(CoverSignature(sig)) = &auth {
            let valid = exp
                .0
                .is_some_and(|exp| state.cover_signer().verify(entry.key.as_str(), exp, sig));
            if !valid {
                return Err(ApiError::unauthorized(
                    "the cover link is not valid (expired or not signed by this server): \
                     reload the page for a fresh one",
                )
                .into());
            }
        }
        let covers = state.covers();
        let cover = match covers.stored(&entry.site, &entry.key) {
            Some(c) => c,
            None => {
                let url = state
                    .library()
                    .cover_source(&entry.key)
                    .await
                    .ok_or_else(|| {
                        ApiError::not_found(format!(
                            "no cover known for series {} (its site has not answered yet)",
                            entry.key
                        ))
                    })?;
                covers.get_or_fetch(&entry.site, &entry.key, &url).await?
            }
        };
        let bytes = covers.read(&cover).await?;
        Ok(CoverResponse::Ok(
            CoverImage {
                bytes,
                mime: cover.mime,
            },
            format!("private, max-age={CACHE_SECS}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_urls_open_their_cover_only_until_they_expire() {
        let signer = CoverSigner::new(b"0123456789abcdef0123456789abcdef");
        let key = SeriesKey::parse("dark").unwrap();
        let url = url::Url::parse(&format!("http://x{}", signer.url(&key))).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        let exp: i64 = q["exp"].parse().unwrap();
        let sig = &q["sig"];
        assert!(exp > aniworld_core::storage::now() + DAY - 1);
        assert!(signer.verify("dark", exp, sig));
        assert!(!signer.verify("other", exp, sig));
        assert!(!signer.verify("dark", exp + 1, sig));
        assert!(!signer.verify("dark", exp, "zz"));
        let past = aniworld_core::storage::now() - 1;
        let old = hex::encode(signer.mac("dark", past).finalize().into_bytes());
        assert!(!signer.verify("dark", past, &old));
        let other = CoverSigner::new(b"another secret of thirty-two bytes");
        assert!(!other.verify("dark", exp, sig));
    }
}
