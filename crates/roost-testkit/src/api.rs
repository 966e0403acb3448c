//! A blocking HTTP client signed in as one member (or nobody), with the calls tests make most.

use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// A response: status, parsed JSON (Null if none) and headers.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub json: Value,
    pub headers: HeaderMap,
}

impl Resp {
    pub fn ids(&self) -> Vec<String> {
        self.json
            .as_array()
            .map(|a| a.iter().map(|v| v["id"].as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }

    /// The URL of a `Link` relation (`next` or `prev`).
    pub fn link(&self, rel: &str) -> Option<String> {
        let link = self.headers.get("link")?.to_str().ok()?;
        link.split(", ").find(|p| p.ends_with(&format!("rel=\"{rel}\""))).map(|p| {
            let start = p.find('<').unwrap() + 1;
            let end = p.find('>').unwrap();
            p[start..end].to_string()
        })
    }
}

/// A client signed in as one user (or anonymous).
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: Option<String>,
    pub http: Client,
    pub id: String,
}

impl Api {
    fn send(&self, req: reqwest::blocking::RequestBuilder) -> Resp {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp { status, json, headers }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send(self.http.get(self.url(path)))
    }

    pub fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.send(self.http.post(self.url(path)).form(form))
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Resp {
        self.send(self.http.post(self.url(path)).json(body))
    }

    pub fn post(&self, path: &str) -> Resp {
        self.send(self.http.post(self.url(path)))
    }

    pub fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
        self.send(self.http.post(self.url(path)).header("content-type", content_type).body(body))
    }

    pub fn patch_form(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.send(self.http.patch(self.url(path)).form(form))
    }

    pub fn put_form(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.send(self.http.put(self.url(path)).form(form))
    }

    /// Any method with a JSON body.
    pub fn send_json(&self, method: &str, path: &str, body: &Value) -> Resp {
        self.send(self.http.request(method.parse().unwrap(), self.url(path)).json(body))
    }

    /// Any method with a body of the given type.
    pub fn send_raw(&self, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> Resp {
        let req = self.http.request(method.parse().unwrap(), self.url(path));
        self.send(req.header("content-type", content_type).body(body))
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.send(self.http.delete(self.url(path)))
    }

    pub fn post_with_headers(&self, path: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Resp {
        let mut req = self.http.post(self.url(path)).form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req)
    }

    /// A `multipart/form-data` request, as apps upload files: text `fields` and one file.
    pub fn multipart(
        &self,
        method: &str,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, &[u8])>,
    ) -> Resp {
        let (content_type, body) = multipart_body(fields, file);
        self.send_raw(method, path, &content_type, body)
    }

    /// Uploads a picture through `POST /api/v2/media` with these fields (`description`,
    /// `focus`); the file's name says nothing true about it unless the test wants it to.
    pub fn upload(&self, bytes: &[u8], fields: &[(&str, &str)]) -> Resp {
        self.multipart("POST", "/api/v2/media", fields, Some(("file", "picture.jpg", bytes)))
    }

    /// A GET whose body is kept as bytes (a picture file): status, headers, body.
    pub fn get_bytes(&self, path: &str) -> (u16, HeaderMap, Vec<u8>) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.bytes().unwrap().to_vec())
    }

    /// Posts a status; returns its id (panics unless 200).
    pub fn status(&self, text: &str) -> String {
        self.status_with(&[("status", text)])
    }

    pub fn status_with(&self, form: &[(&str, &str)]) -> String {
        let r = self.post_form("/api/v1/statuses", form);
        assert_eq!(r.status, 200, "posting {form:?}: {:?}", r.json);
        r.json["id"].as_str().unwrap().to_string()
    }

    /// Follows every page of a paginated list through its `Link: next` headers.
    pub fn all_pages(&self, first: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut next = Some(first.to_string());
        let mut pages = 0;
        while let Some(url) = next {
            let r = self.get(&url);
            assert_eq!(r.status, 200, "{url}: {:?}", r.json);
            if r.ids().is_empty() {
                break;
            }
            ids.extend(r.ids());
            next = r.link("next");
            pages += 1;
            assert!(pages < 1000, "pagination does not end");
        }
        ids
    }
}

/// A multipart body and its content type.
pub fn multipart_body(fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "roost-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    if let Some((name, filename, bytes)) = file {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: image/jpeg\r\n\r\n"
            )
            .bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
