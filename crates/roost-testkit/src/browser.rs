//! A browser without JavaScript: forms and cookies over plain HTTP, following no redirect by
//! itself, for the web app's tests.

use reqwest::blocking::Client;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;

use crate::Server;

/// A browser without JavaScript: follows nothing by itself, keeps its cookies by hand.
pub struct Browser {
    /// The client, which follows no redirect (for requests the helpers do not make).
    pub http: Client,
    pub base: String,
    /// The cookies the server set and has not cleared, in the order set.
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn new(server: &Server) -> Browser {
        Browser {
            http: Client::builder().redirect(Policy::none()).build().unwrap(),
            base: server.base.clone(),
            cookies: Vec::new(),
        }
    }

    /// The `Cookie` header this browser sends.
    pub fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep_cookies(&mut self, resp: &reqwest::blocking::Response) {
        for v in resp.headers().get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !val.is_empty() && !v.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), val.to_string()));
            }
        }
    }

    pub fn get(&mut self, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
        let resp = self.http.get(format!("{}{path}", self.base)).header(COOKIE, self.cookie_header()).send().unwrap();
        self.keep_cookies(&resp);
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        (status, resp.text().unwrap(), headers)
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String, reqwest::header::HeaderMap) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .unwrap();
        self.keep_cookies(&resp);
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        (status, resp.text().unwrap(), headers)
    }

    /// A form with one file, as a browser sends it (`multipart/form-data`).
    pub fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, &[u8])>,
    ) -> (u16, String, reqwest::header::HeaderMap) {
        let (content_type, body) = crate::api::multipart_body(fields, file);
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .unwrap();
        self.keep_cookies(&resp);
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        (status, resp.text().unwrap(), headers)
    }

    pub fn sign_in(&mut self, username: &str, password: &str) -> u16 {
        let (_, page, _) = self.get("/auth/sign_in");
        let csrf = hidden(&page, "csrf");
        self.post("/auth/sign_in", &[("csrf", &csrf), ("username", username), ("password", password)]).0
    }
}

/// The value of a hidden input of a page.
pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} in the page")) + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_string()
}
