//! Request parameters the way Mastodon clients send them: in the query string, a form body or a
//! JSON body, with Rails-style keys (`types[]=a&types[]=b`, `poll[options][]=x`). [`Input`]
//! merges them into one JSON object and deserialises it into the handler's type; the helpers
//! in [`de`] accept the strings a form carries where a bool or an ID is expected.

use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::AppState;

/// Most parameters one request may carry.
const MAX_PAIRS: usize = 1000;
/// Deepest Rails-style nesting accepted (`a[b][c][]`).
const MAX_DEPTH: usize = 4;
/// How much of an oversized body is read and thrown away so that the client, still sending,
/// receives the 413 instead of a reset connection.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Parameters from the query and the body, deserialised into `T`.
#[derive(Debug)]
pub struct Input<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Input<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let map = gather(req, state.config().max_body_bytes, None).await?;
        Ok(Input(deserialize(map)?))
    }
}

/// Parameters as [`Input`] reads them, and the files of a multipart body: for the routes that
/// take uploads, whose bodies may be as large as [`WithFiles::body_limit`] allows.
#[derive(Debug)]
pub struct WithFiles<T>(pub T, pub Files);

/// The files of a request, by field name.
#[derive(Debug, Default)]
pub struct Files(Vec<(String, FilePart)>);

/// One uploaded file. Its name and declared type are the client's word, and Roost trusts
/// neither: the content decides.
#[derive(Debug)]
pub struct FilePart {
    pub filename: String,
    pub bytes: Vec<u8>,
}

impl Files {
    /// The file sent as `name`, taken out.
    pub fn take(&mut self, name: &str) -> Option<FilePart> {
        let i = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.remove(i).1)
    }

    /// Every file sent as `name`, in order (a file input with `multiple`); empty parts (a
    /// form's file input left empty) are left out.
    pub fn take_all(&mut self, name: &str) -> Vec<FilePart> {
        let (taken, kept) = std::mem::take(&mut self.0).into_iter().partition(|(n, _)| n == name);
        self.0 = kept;
        taken.into_iter().map(|(_, f)| f).filter(|f| !f.bytes.is_empty() || !f.filename.is_empty()).collect()
    }
}

/// Files one request may carry: a post's four pictures.
const MAX_FILES: usize = roost_types::MAX_MEDIA_PER_POST;
/// Requests with files whose bodies are read at once on this node; others wait their turn (a
/// body may be [`MAX_FILES`] uploads large, so this bounds the memory they take).
static UPLOAD_BODIES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);
/// How long a request with files waits for its turn before it is told to come back.
const UPLOAD_TURN: std::time::Duration = std::time::Duration::from_secs(20);

impl<T: DeserializeOwned> FromRequest<AppState> for WithFiles<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let mut files = Files::default();
        // Only a multipart body can carry files; a plain form (a post without pictures) needs no
        // turn, and may be no larger than any other request's body.
        let multipart = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"));
        let limit = if multipart { WithFiles::<T>::body_limit(state) } else { state.config().max_body_bytes };
        let _turn = match multipart {
            true => Some(
                tokio::time::timeout(UPLOAD_TURN, UPLOAD_BODIES.acquire())
                    .await
                    .map_err(|_| ApiError::TooManyRequests)?
                    .map_err(|_| ApiError::Unavailable)?,
            ),
            false => None,
        };
        let map = gather(req, limit, Some(&mut files)).await?;
        Ok(WithFiles(deserialize(map)?, files))
    }
}

impl<T> WithFiles<T> {
    /// Four files of the largest upload allowed, and the form's other fields.
    pub fn body_limit(state: &AppState) -> usize {
        let upload = state.service().config().media.limits.max_bytes;
        upload.saturating_mul(MAX_FILES).saturating_add(state.config().max_body_bytes)
    }
}

fn deserialize<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(map)).map_err(|e| ApiError::bad_request(format!("Invalid parameters: {e}")))
}

/// Merges the query and the body (JSON, form or multipart, at most `limit` bytes) into one
/// object; a multipart body's files go to `files` when the route takes them.
async fn gather(req: Request, limit: usize, files: Option<&mut Files>) -> Result<Map<String, Value>, ApiError> {
    let mut map = Map::new();
    if let Some(q) = req.uri().query() {
        parse_pairs(q.as_bytes(), &mut map)?;
    }
    let raw_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let content_type = raw_type.as_deref().map(|s| s.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let boundary = raw_type.as_deref().and_then(|t| multer::parse_boundary(t).ok());
    let body = read_body(req, limit).await?;
    if !body.is_empty() {
        match content_type.as_deref() {
            Some(ct) if ct == "application/json" || ct.ends_with("+json") => {
                let v: Value = serde_json::from_slice(&body)
                    .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
                match v {
                    Value::Object(obj) => map.extend(obj),
                    _ => return Err(ApiError::bad_request("The JSON body must be an object")),
                }
            }
            Some("application/x-www-form-urlencoded") | None => parse_pairs(&body, &mut map)?,
            Some("multipart/form-data") => {
                let boundary = boundary.ok_or_else(|| ApiError::bad_request("A multipart body needs a boundary"))?;
                parse_multipart(body, &boundary, &mut map, files).await?
            }
            Some(other) => {
                return Err(ApiError::UnsupportedMedia(format!(
                    "Unsupported content type {other}: send application/json or application/x-www-form-urlencoded"
                )))
            }
        }
    }
    Ok(map)
}

/// Reads the body up to `limit` bytes. A larger body is drained (up to [`DRAIN_LIMIT`]) and
/// refused with 413.
async fn read_body(req: Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let declared =
        req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return Err(ApiError::TooLarge);
    }
    let mut body = req.into_body();
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            let e = e.into_inner();
            if e.downcast_ref::<roost_http::BodyTimeout>().is_some() {
                ApiError::RequestTimeout
            } else {
                ApiError::bad_request(format!("Could not read the request body: {e}"))
            }
        })?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > DRAIN_LIMIT {
                return Err(ApiError::TooLarge);
            }
            if seen <= limit {
                buf.extend_from_slice(&data);
            }
        }
    }
    if seen > limit {
        return Err(ApiError::TooLarge);
    }
    Ok(buf)
}

/// Parses a `multipart/form-data` body (as browsers and some apps send forms) into `map`: text
/// fields as their values, with the bracket conventions of forms. A file field becomes an object
/// naming the file (`{"filename", "content_type", "size"}`), so that endpoints see it and say
/// whether they accept it; its bytes are kept in `files` where the route takes files.
async fn parse_multipart(
    body: Vec<u8>,
    boundary: &str,
    map: &mut Map<String, Value>,
    mut files: Option<&mut Files>,
) -> Result<(), ApiError> {
    let bad = |e: multer::Error| ApiError::bad_request(format!("Invalid multipart body: {e}"));
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes::Bytes::from(body)) });
    let constraints = multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(u64::MAX));
    let mut parts = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut count = 0;
    while let Some(field) = parts.next_field().await.map_err(bad)? {
        count += 1;
        if count > MAX_PAIRS {
            return Err(ApiError::bad_request("Too many parameters"));
        }
        let Some(name) = field.name().map(str::to_string) else { continue };
        match field.file_name().map(str::to_string) {
            Some(filename) => {
                let content_type = field.content_type().map(|m| m.to_string());
                let bytes = field.bytes().await.map_err(bad)?;
                let file =
                    serde_json::json!({ "filename": filename, "content_type": content_type, "size": bytes.len() });
                insert_value(map, &name, file)?;
                if let Some(files) = files.as_deref_mut() {
                    if files.0.len() >= MAX_FILES {
                        return Err(ApiError::bad_request(format!("At most {MAX_FILES} files per request")));
                    }
                    files.0.push((name, FilePart { filename, bytes: bytes.to_vec() }));
                }
            }
            None => {
                let text = field.text().await.map_err(bad)?;
                insert(map, &name, text)?;
            }
        }
    }
    Ok(())
}

/// Parses `a=1&b[]=2` into `map`, refusing invalid percent-encoding and invalid UTF-8.
pub fn parse_pairs(input: &[u8], map: &mut Map<String, Value>) -> Result<(), ApiError> {
    let mut count = 0;
    for pair in input.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue;
        }
        count += 1;
        if count > MAX_PAIRS {
            return Err(ApiError::bad_request("Too many parameters"));
        }
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let key = decode_component(k)?;
        let value = decode_component(v)?;
        insert(map, &key, value)?;
    }
    Ok(())
}

fn decode_component(raw: &[u8]) -> Result<String, ApiError> {
    let plus_as_space: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    percent_encoding::percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ApiError::bad_request("Parameters must be valid UTF-8"))
}

/// Inserts one `key=value`, following Rails' bracket conventions.
fn insert(map: &mut Map<String, Value>, key: &str, value: String) -> Result<(), ApiError> {
    insert_value(map, key, Value::String(value))
}

/// [`insert`] of any JSON value.
fn insert_value(map: &mut Map<String, Value>, key: &str, value: Value) -> Result<(), ApiError> {
    let (head, rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    let mut path = vec![head.to_string()];
    let mut rest = rest;
    while let Some(stripped) = rest.strip_prefix('[') {
        let Some(end) = stripped.find(']') else { break };
        path.push(stripped[..end].to_string());
        rest = &stripped[end + 1..];
    }
    if path.len() > MAX_DEPTH + 1 {
        return Err(ApiError::bad_request("Parameters are nested too deeply"));
    }
    let mut slot = map.entry(path[0].clone()).or_insert(Value::Null);
    for seg in &path[1..] {
        if seg.is_empty() {
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            if let Value::Array(items) = slot {
                items.push(Value::Null);
                slot = items.last_mut().ok_or_else(|| ApiError::Internal("array push".into()))?;
            }
        } else {
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(obj) = slot {
                slot = obj.entry(seg.clone()).or_insert(Value::Null);
            }
        }
    }
    *slot = value;
    Ok(())
}

/// Deserialisers that accept both JSON types and the strings of form bodies.
pub mod de {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    fn err<'de, D: Deserializer<'de>>(what: &str, v: &Value) -> D::Error {
        serde::de::Error::custom(format!("expected {what}, got {v}"))
    }

    /// `true`, `"true"`, `"1"`, `"on"`… or absent.
    pub fn bool_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            Value::Number(n) => Ok(Some(n.as_i64() != Some(0))),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "on" | "yes" => Ok(Some(true)),
                "false" | "0" | "off" | "no" | "" => Ok(Some(false)),
                _ => Err(err::<D>("a boolean", &v)),
            },
            _ => Err(err::<D>("a boolean", &v)),
        }
    }

    /// An ID as a string or number, or absent/empty.
    pub fn id_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Null => Ok(None),
            Value::Number(n) => n.as_u64().map(Some).ok_or_else(|| err::<D>("an ID", &v)),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => s.parse().map(Some).map_err(|_| err::<D>("an ID", &v)),
            _ => Err(err::<D>("an ID", &v)),
        }
    }

    /// A non-negative integer as a string or number, or absent.
    pub fn usize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        id_opt(d).map(|o| o.map(|n| n.min(usize::MAX as u64) as usize))
    }

    /// A whole number as a string or number, or absent/empty.
    pub fn i64_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Null => Ok(None),
            Value::Number(n) => n.as_i64().map(Some).ok_or_else(|| err::<D>("a whole number", &v)),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => s.parse().map(Some).map_err(|_| err::<D>("a whole number", &v)),
            _ => Err(err::<D>("a whole number", &v)),
        }
    }

    /// A string, or absent. Numbers are accepted as their decimal text.
    pub fn string_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let v = Value::deserialize(d)?;
        match v {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::Bool(b) => Ok(Some(b.to_string())),
            other => Err(err::<D>("a string", &other)),
        }
    }

    /// A list of strings: an array, one string, or a space/newline-separated string when
    /// `split` applies (Mastodon's `scopes` and `redirect_uris`).
    pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let v = Value::deserialize(d)?;
        match v {
            Value::Null => Ok(Vec::new()),
            Value::String(s) => Ok(vec![s]),
            Value::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s),
                    Value::Number(n) => Ok(n.to_string()),
                    other => Err(err::<D>("a string", &other)),
                })
                .collect(),
            other => Err(err::<D>("a list of strings", &other)),
        }
    }

    /// IDs from an array (`id[]=1&id[]=2`) or a single value.
    pub fn ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        strings(d)?
            .into_iter()
            .map(|s| s.parse().map_err(|_| serde::de::Error::custom(format!("expected an ID, got {s}"))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Value) {
        let mut map = Map::new();
        parse_pairs(input.as_bytes(), &mut map).unwrap();
        assert_eq!(Value::Object(map), expected, "parsing {input:?}");
    }

    #[test]
    fn rails_style_pairs() {
        check("a=1&b=x+y%21", serde_json::json!({"a": "1", "b": "x y!"}));
        check("types[]=mention&types[]=follow", serde_json::json!({"types": ["mention", "follow"]}));
        check(
            "poll[options][]=a&poll[options][]=b&poll[expires_in]=60",
            serde_json::json!({"poll": {"options": ["a", "b"], "expires_in": "60"}}),
        );
        check("flag", serde_json::json!({"flag": ""}));
    }

    #[test]
    fn multipart_forms_become_the_same_parameters() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"display_name\"\r\n\r\nAl\r\n--XyZ\r\nContent-Disposition: form-data; name=\"fields_attributes[0][name]\"\r\n\r\nTeam\r\n--XyZ\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ--\r\n".to_vec();
        let mut map = Map::new();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(parse_multipart(body, "XyZ", &mut map, None)).unwrap();
        assert_eq!(
            Value::Object(map),
            serde_json::json!({
                "display_name": "Al",
                "fields_attributes": {"0": {"name": "Team"}},
                "avatar": {"filename": "a.png", "content_type": "image/png", "size": 4},
            })
        );
    }

    #[test]
    fn invalid_utf8_is_refused() {
        let mut map = Map::new();
        assert!(parse_pairs(b"status=%FF%FE", &mut map).is_err());
    }
}
