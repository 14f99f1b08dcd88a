//! A small browser: a cookie-keeping client that reads forms (hidden CSRF field included) out
//! of the HTML it receives and submits them.

use std::time::Duration as StdDuration;

use reqwest::header::HeaderMap;
use scraper::{ElementRef, Html, Selector};

use joinery::domain::{MembershipId, OrganizationId};

use super::TestApp;

impl TestApp {
    /// A fresh browser (its own cookie jar — a private window).
    pub fn browser(&self) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::limited(10))
                // Below the server's 5 s keep-alive, so a POST never goes out on a connection
                // the server is closing at that moment (a race no client retries).
                .pool_idle_timeout(StdDuration::from_secs(2))
                .build()
                .unwrap(),
            base: self.address.clone(),
        }
    }
}

impl TestApp {
    /// A browser whose cookie jar the test holds (to read the session cookie, or to plant one
    /// as another browser would send it), optionally not following redirects so the test sees
    /// each `303` and its `Location`.
    pub fn browser_with_jar(
        &self,
        jar: std::sync::Arc<reqwest::cookie::Jar>,
        follow_redirects: bool,
    ) -> Browser {
        let policy = if follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        };
        Browser {
            client: reqwest::Client::builder()
                .cookie_provider(jar)
                .redirect(policy)
                .build()
                .unwrap(),
            base: self.address.clone(),
        }
    }

    /// A browser that does not follow redirects (it keeps cookies).
    pub fn browser_without_redirects(&self) -> Browser {
        self.browser_with_jar(std::sync::Arc::new(reqwest::cookie::Jar::default()), false)
    }
}

/// A response as a browser sees it.
pub struct Page {
    pub status: u16,
    /// The final URL after redirects.
    pub url: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    fn html(&self) -> Html {
        Html::parse_document(&self.body)
    }

    /// The path of the final URL.
    pub fn path(&self) -> String {
        reqwest::Url::parse(&self.url).unwrap().path().to_owned()
    }

    /// The visible text, whitespace collapsed.
    pub fn text(&self) -> String {
        let html = self.html();
        let body = Selector::parse("body").unwrap();
        let text: Vec<String> = html
            .select(&body)
            .flat_map(|b| b.text())
            .map(str::to_owned)
            .collect();
        text.join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether the visible text contains `needle`.
    pub fn shows(&self, needle: &str) -> bool {
        self.text().contains(needle)
    }

    /// The text of every element matching `css`.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let sel = Selector::parse(css).unwrap();
        self.html()
            .select(&sel)
            .map(|e| {
                e.text()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// The value of `attr` on every element matching `css`. A link's `href`, a form's
    /// `action` and a button's `formaction` come resolved against the page's URL, as a
    /// browser's DOM properties give them (a same-origin path), so a test can `get` or compare
    /// a relative link (the Team page's rows use them).
    pub fn attrs(&self, css: &str, attr: &str) -> Vec<String> {
        let sel = Selector::parse(css).unwrap();
        let url = matches!(attr, "href" | "action" | "formaction");
        self.html()
            .select(&sel)
            .filter_map(|e| e.value().attr(attr))
            .map(|v| if url { self.resolve(v) } else { v.to_owned() })
            .collect()
    }

    /// `link` resolved against the page's URL: an absolute URL as it is, anything else as the
    /// path (with query and fragment) it leads to on this site.
    pub fn resolve(&self, link: &str) -> String {
        if reqwest::Url::parse(link).is_ok() {
            return link.to_owned();
        }
        let url = reqwest::Url::parse(&self.url).unwrap().join(link).unwrap();
        let mut path = url.path().to_owned();
        if let Some(query) = url.query() {
            path = format!("{path}?{query}");
        }
        if let Some(fragment) = url.fragment() {
            path = format!("{path}#{fragment}");
        }
        path
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        self.attrs("input[name=csrf_token]", "value")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no CSRF token on {}: {}", self.url, self.text()))
    }

    /// The first form matching `css`: what a browser submits when the form is sent without
    /// naming a button (its action, resolved, and its fields' current values).
    pub fn form(&self, css: &str) -> Form {
        let html = self.html();
        let sel = Selector::parse(css).unwrap();
        let form = html
            .select(&sel)
            .next()
            .unwrap_or_else(|| panic!("no form {css} on {}: {}", self.url, self.text()));
        self.submission(&html, form, None)
    }

    /// What a browser submits when the first button matching `css` is clicked: the fields of
    /// the button's form (its `form` attribute's, or the one around it), wherever they are in
    /// the page, the button's own `name=value`, to its `formaction` or else the form's action.
    pub fn button_form(&self, css: &str) -> Form {
        let html = self.html();
        let sel = Selector::parse(css).unwrap();
        let button = html
            .select(&sel)
            .next()
            .unwrap_or_else(|| panic!("no button {css} on {}: {}", self.url, self.text()));
        let form = owner(&html, button)
            .unwrap_or_else(|| panic!("the button {css} on {} has no form", self.url));
        self.submission(&html, form, Some(button))
    }

    /// What a browser submits when a button whose submission goes to `action` (a path) is
    /// clicked, or, without such a button, when the form posting there is sent.
    pub fn form_to(&self, action: &str) -> Form {
        let html = self.html();
        let action = self.resolve(action);
        let buttons =
            Selector::parse("button:not([type]), button[type=submit], input[type=submit]").unwrap();
        for button in html.select(&buttons) {
            let Some(form) = owner(&html, button) else {
                continue;
            };
            let target = button
                .value()
                .attr("formaction")
                .or_else(|| form.value().attr("action"))
                .unwrap_or("");
            if self.resolve(target) == action {
                return self.submission(&html, form, Some(button));
            }
        }
        let forms = Selector::parse("form").unwrap();
        let form = html
            .select(&forms)
            .find(|f| self.resolve(f.value().attr("action").unwrap_or("")) == action)
            .unwrap_or_else(|| {
                panic!("nothing posts to {action} on {}: {}", self.url, self.text())
            });
        self.submission(&html, form, None)
    }

    /// The submission of `form` by `button` (or by no button): every named control whose form
    /// it is, in page order, with its current value.
    fn submission(
        &self,
        html: &Html,
        form: ElementRef<'_>,
        button: Option<ElementRef<'_>>,
    ) -> Form {
        let target = button
            .and_then(|b| b.value().attr("formaction"))
            .or_else(|| form.value().attr("action"))
            .unwrap_or("");
        let mut fields = Vec::new();
        let inputs = Selector::parse("input[name], textarea[name], select[name]").unwrap();
        for input in html.select(&inputs) {
            if owner(html, input).is_none_or(|f| f.id() != form.id()) {
                continue;
            }
            let name = input.value().attr("name").unwrap().to_owned();
            let value = match input.value().name() {
                "textarea" => input.text().collect(),
                "select" => {
                    let selected = Selector::parse("option[selected]").unwrap();
                    let first = Selector::parse("option").unwrap();
                    input
                        .select(&selected)
                        .next()
                        .or_else(|| input.select(&first).next())
                        .and_then(|o| o.value().attr("value"))
                        .unwrap_or("")
                        .to_owned()
                }
                _ => {
                    let kind = input.value().attr("type").unwrap_or("text");
                    if (kind == "checkbox" || kind == "radio")
                        && input.value().attr("checked").is_none()
                    {
                        continue;
                    }
                    input.value().attr("value").unwrap_or("").to_owned()
                }
            };
            fields.push((name, value));
        }
        if let Some(button) = button
            && let Some(name) = button.value().attr("name")
        {
            let value = button.value().attr("value").unwrap_or("");
            fields.push((name.to_owned(), value.to_owned()));
        }
        Form {
            action: self.resolve(target),
            fields,
        }
    }
}

impl Page {
    /// The Team page's "Change role" of membership `id`, with `role` chosen in its row's
    /// selector (`role-{id}`; the members table is one form).
    pub fn role_change(&self, id: MembershipId, role: &str) -> Form {
        self.button_form(&format!("button[formaction$='/{id}/role']"))
            .set(&format!("role-{id}"), role)
    }
}

/// The form `control` belongs to: the one its `form` attribute names, or else the one it is in.
fn owner<'a>(html: &'a Html, control: ElementRef<'a>) -> Option<ElementRef<'a>> {
    if let Some(id) = control.value().attr("form") {
        let forms = Selector::parse("form[id]").unwrap();
        return html
            .select(&forms)
            .find(|f| f.value().attr("id") == Some(id));
    }
    control
        .ancestors()
        .filter_map(ElementRef::wrap)
        .find(|e| e.value().name() == "form")
}

/// How each of several racing requests ended, sorted: its status and the label of the first
/// `(text, label)` whose text its page shows ("something else" when none).
pub fn outcomes<'a>(pages: &[Page], labels: &[(&str, &'a str)]) -> Vec<(u16, &'a str)> {
    let mut outcomes: Vec<(u16, &str)> = pages
        .iter()
        .map(|p| {
            let shown = labels
                .iter()
                .find(|(text, _)| p.shows(text))
                .map_or("something else", |(_, label)| label);
            (p.status, shown)
        })
        .collect();
    outcomes.sort_unstable();
    outcomes
}

/// A form read from a page.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// Sets a field (replacing any value it had).
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.fields.retain(|(n, _)| n != name);
        self.fields.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Removes a field (an unticked checkbox).
    pub fn unset(mut self, name: &str) -> Self {
        self.fields.retain(|(n, _)| n != name);
        self
    }
}

/// A browser: a client with its own cookie jar (a clone shares the jar, as a second tab does).
#[derive(Clone)]
pub struct Browser {
    client: reqwest::Client,
    pub base: String,
}

impl Browser {
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    async fn page(resp: reqwest::Response) -> Page {
        Page {
            status: resp.status().as_u16(),
            url: resp.url().to_string(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    /// GET, following redirects.
    pub async fn get(&self, path: &str) -> Page {
        Self::page(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    /// GET with extra request headers (e.g. `If-None-Match`), following redirects.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::page(request.send().await.unwrap()).await
    }

    /// POSTs these fields; `Err` when the connection failed before a response was read.
    pub async fn try_post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<Page, reqwest::Error> {
        let resp = self.client.post(self.url(path)).form(fields).send().await?;
        Ok(Self::page(resp).await)
    }

    /// POSTs a body larger than the server accepts. The server answers after reading its limit
    /// and closes the connection; if that happens while the rest of the body is still being
    /// written, the client sees a broken connection instead of the answer. Retries until the
    /// answer is read (up to 10 tries).
    pub async fn post_oversized(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut last = None;
        for _ in 0..10 {
            match self.try_post(path, fields).await {
                Ok(page) => return page,
                Err(e) => last = Some(e),
            }
        }
        panic!("no answer to an oversized POST after 10 tries: {last:?}");
    }

    /// POSTs a `multipart/form-data` body as a browser does for a form with a file input:
    /// these text fields, then `bytes` as the file `file_name` in field `file_field`. `Err`
    /// when the connection failed before a response was read.
    pub async fn try_upload(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file_field: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<Page, reqwest::Error> {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in fields {
            form = form.text((*name).to_owned(), (*value).to_owned());
        }
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str("text/csv")
            .unwrap();
        let resp = self
            .client
            .post(self.url(path))
            .multipart(form.part(file_field.to_owned(), part))
            .send()
            .await?;
        Ok(Self::page(resp).await)
    }

    /// POSTs exactly these fields (no CSRF token unless given).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        Self::page(
            self.client
                .post(self.url(path))
                .form(fields)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Submits a form read from a page.
    pub async fn submit(&self, form: &Form) -> Page {
        Self::page(
            self.client
                .post(self.url(&form.action))
                .form(&form.fields)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Opens `/login`, fills it and submits.
    pub async fn login(&self, email: &str, password: &str) -> Page {
        let page = self.get("/login").await;
        let form = page
            .form("form[action='/login']")
            .set("email", email)
            .set("password", password);
        self.submit(&form).await
    }

    /// Opens the Team page and sends the invite form with these values.
    pub async fn invite(
        &self,
        org: OrganizationId,
        emails: &str,
        role: &str,
        message: &str,
    ) -> Page {
        let team = self.get(&format!("/orgs/{org}/team/invite")).await;
        let form = team
            .form("form.invite-form")
            .set("emails", emails)
            .set("role", role)
            .set("message", message);
        self.submit(&form).await
    }

    /// Clicks a button that posts to `action`, on the page at `page_path`.
    pub async fn click(&self, page_path: &str, action: &str) -> Page {
        let page = self.get(page_path).await;
        self.submit(&page.form_to(action)).await
    }
}

/// The value of the cookie `name` that `jar` would send to `url`, if any.
pub fn cookie_value(jar: &reqwest::cookie::Jar, url: &str, name: &str) -> Option<String> {
    use reqwest::cookie::CookieStore as _;
    let header = jar.cookies(&reqwest::Url::parse(url).unwrap())?;
    header
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

impl Page {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

impl Browser {
    /// Submits a form with extra request headers (e.g. a forged `Host`).
    pub async fn submit_with_headers(&self, form: &Form, headers: &[(&str, &str)]) -> Page {
        let mut request = self.client.post(self.url(&form.action)).form(&form.fields);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::page(request.send().await.unwrap()).await
    }
}

/// A POST whose body is still being sent: the server has the request's head (and its session)
/// but not all of its form yet. [`HeldPost::finish`] sends the rest and returns the answer.
pub struct HeldPost {
    rest: tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    response: tokio::task::JoinHandle<Page>,
}

impl HeldPost {
    /// Sends `rest` as the last part of the body and waits for the answer.
    pub async fn finish(self, rest: &str) -> Page {
        self.rest.send(Ok(rest.as_bytes().to_vec())).await.unwrap();
        drop(self.rest);
        self.response.await.unwrap()
    }
}

impl Browser {
    /// Starts a form POST to `path` with a chunked body, sending `first` now and holding the
    /// rest until [`HeldPost::finish`]; returns once the server has had a moment to read the
    /// request's head (its session is loaded before the body is read).
    pub async fn post_held(&self, path: &str, first: &str) -> HeldPost {
        let (rest, chunks) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        rest.send(Ok(first.as_bytes().to_vec())).await.unwrap();
        let body = reqwest::Body::wrap_stream(futures::stream::unfold(chunks, |mut rx| async {
            rx.recv().await.map(|chunk| (chunk, rx))
        }));
        let request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        let response = tokio::spawn(async move { Self::page(request.send().await.unwrap()).await });
        tokio::time::sleep(StdDuration::from_millis(500)).await;
        HeldPost { rest, response }
    }
}
