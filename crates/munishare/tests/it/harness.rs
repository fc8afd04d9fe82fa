//! Boots the real application on a fresh database for each test.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use munishare_platform::blob::BlobStore;
use munishare_platform::db::testing::{Backend, TestDb};
use munishare_platform::demo::{self, DemoCredentials};
use munishare_platform::jobs::{JobContext, ProgressBoard, Waker};
use munishare_platform::secrets::SecretKey;
use munishare_platform::types::Timestamp;
use munishare_platform::{Clock, Db, TestClock};
use munishare_web::{App, AppState, Inner, WebConfig};
use serde_json::Value;
use tower::ServiceExt;

/// The demo users' password in tests.
pub const PASSWORD: &str = "test-password-123";

/// A running application on its own database.
#[derive(Clone)]
pub struct TestApp {
    pub router: Router,
    pub db: Db,
    pub clock: TestClock,
    pub creds: Arc<DemoCredentials>,
    /// What the job worker would get: run jobs with `munishare::jobs().run_one(&app.jobs)`.
    pub jobs: JobContext,
    pub page_routes: Vec<(Method, &'static str)>,
    pub openapi: Value,
    /// The database URL, for tests that open a second connection pool (a second node).
    pub url: String,
}

/// A response, read whole.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

/// How a request authenticates.
#[derive(Clone, Debug, Default)]
pub enum Auth {
    #[default]
    None,
    Token(String),
    Session {
        cookie: String,
        csrf: String,
    },
}

/// Runs `test` on a fresh app for `backend`; cleans the database up even when the test panics.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(tdb) = TestDb::create(backend).await.expect("test database") else {
        eprintln!("skipped: MUNISHARE_TEST_POSTGRES_URL is not set");
        return;
    };
    let app = TestApp::start(tdb.db.clone(), tdb.url.clone()).await;
    let outcome = tokio::spawn(test(app)).await;
    tdb.destroy().await.expect("drop test database");
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Declares a test that runs on both databases.
#[macro_export]
macro_rules! both_dbs {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::harness::run(munishare_platform::db::testing::Backend::Sqlite, super::$name).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::harness::run(munishare_platform::db::testing::Backend::Postgres, super::$name).await;
            }
        }
    )*};
}

impl TestApp {
    async fn start(db: Db, url: String) -> Self {
        let clock = TestClock::new(time::macros::datetime!(2026-11-26 14:00 UTC));
        let creds = demo::seed(&db, Timestamp::new(clock.now()), Some(PASSWORD.into()))
            .await
            .expect("seed");
        let dir =
            std::env::temp_dir().join(format!("munishare-blobs-{}", uuid::Uuid::now_v7().simple()));
        let blobs = BlobStore::open(&format!("file://{}", dir.display())).expect("blob store");
        // A real second store, as `--replica-store` gives the server.
        let replica_dir = std::env::temp_dir().join(format!(
            "munishare-replica-{}",
            uuid::Uuid::now_v7().simple()
        ));
        let replica =
            BlobStore::open(&format!("file://{}", replica_dir.display())).expect("replica store");
        let progress = ProgressBoard::default();
        let jobs = JobContext {
            db: db.clone(),
            clock: Arc::new(clock.clone()) as Arc<dyn Clock>,
            blobs: blobs.clone(),
            replica: Some(replica.clone()),
            progress: progress.clone(),
        };
        let state = AppState::new(Inner {
            db: db.clone(),
            blobs,
            replica: Some(replica),
            secrets: SecretKey::generate().expect("secret key"),
            clock: Arc::new(clock.clone()) as Arc<dyn Clock>,
            jobs: Waker::default(),
            progress: progress.clone(),
            config: WebConfig::default(),
            region_name: "Capitol Region Council of Governments".into(),
            signin_throttle: Default::default(),
            modules: munishare::module_state(
                &std::env::temp_dir()
                    .join(format!("munishare-data-{}", uuid::Uuid::now_v7().simple())),
                None,
            ),
        });
        let App {
            router,
            page_routes,
            openapi,
        } = munishare::app(state);
        let openapi = serde_json::to_value(&openapi).unwrap();
        Self {
            router,
            db,
            clock,
            creds: Arc::new(creds),
            jobs,
            page_routes,
            openapi,
            url,
        }
    }

    /// Sends a request with a raw body.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        match auth {
            Auth::None => {}
            Auth::Token(t) => req = req.header(header::AUTHORIZATION, format!("Bearer {t}")),
            Auth::Session { cookie, csrf } => {
                req = req
                    .header(header::COOKIE, format!("munishare_session={cookie}"))
                    .header("x-csrf-token", csrf.as_str());
            }
        }
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let resp = self
            .router
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    /// Sends JSON (or nothing) to the API.
    pub async fn api(&self, method: Method, path: &str, auth: &Auth, body: Option<Value>) -> Resp {
        match body {
            Some(v) => {
                self.raw(
                    method,
                    path,
                    auth,
                    Some("application/json"),
                    serde_json::to_vec(&v).unwrap(),
                )
                .await
            }
            None => self.raw(method, path, auth, None, Vec::new()).await,
        }
    }

    /// Sends a form, with the session's CSRF token as the `csrf` field.
    pub async fn form(&self, path: &str, auth: &Auth, fields: &[(&str, &str)]) -> Resp {
        let body = {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            if let Auth::Session { csrf, .. } = auth {
                s.append_pair("csrf", csrf);
            }
            for (k, v) in fields {
                s.append_pair(k, v);
            }
            s.finish()
        };
        self.raw(
            Method::POST,
            path,
            auth,
            Some("application/x-www-form-urlencoded"),
            body.into_bytes(),
        )
        .await
    }

    /// A bearer token for a demo user in one town and service.
    pub async fn token(&self, username: &str, town: &str, service: &str) -> Auth {
        let password = if username == self.creds.admin_username {
            self.creds.admin_password.clone()
        } else {
            PASSWORD.to_owned()
        };
        let r = self
            .api(Method::POST, "/api/v1/auth/token", &Auth::None, Some(serde_json::json!({
                "username": username, "password": password, "town": town, "service": service, "label": "test"
            })))
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "token for {username}: {}",
            r.text()
        );
        Auth::Token(r.json()["token"].as_str().unwrap().to_owned())
    }

    /// Signs in through the sign-in form, as a browser does.
    pub async fn sign_in(&self, username: &str, password: &str) -> Auth {
        let page = self
            .raw(Method::GET, "/signin", &Auth::None, None, Vec::new())
            .await;
        let set = page
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>();
        let pre = set
            .iter()
            .find_map(|c| c.strip_prefix("munishare_signin_csrf="))
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &pre)
            .append_pair("username", username)
            .append_pair("password", password)
            .append_pair("next", "/")
            .finish();
        let req = Request::builder()
            .method(Method::POST)
            .uri("/signin")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("munishare_signin_csrf={pre}"))
            .body(Body::from(form))
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::SEE_OTHER,
            "sign-in of {username} failed"
        );
        let cookie = resp
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .find_map(|v| {
                v.to_str()
                    .unwrap()
                    .strip_prefix("munishare_session=")
                    .map(|c| c.split(';').next().unwrap().to_owned())
            })
            .unwrap();
        let home = self
            .raw(
                Method::GET,
                "/profile",
                &Auth::Session {
                    cookie: cookie.clone(),
                    csrf: String::new(),
                },
                None,
                Vec::new(),
            )
            .await;
        let text = home.text();
        let csrf = text
            .split("name=\"csrf-token\" content=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        Auth::Session { cookie, csrf }
    }

    /// Signs in a demo user.
    pub async fn demo_session(&self, username: &str) -> Auth {
        let password = if username == self.creds.admin_username {
            self.creds.admin_password.clone()
        } else {
            PASSWORD.to_owned()
        };
        self.sign_in(username, &password).await
    }

    /// Advances the test clock.
    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
    }
}

/// Reads a file of the shared reference data (../shared/data from the repository root).
pub fn shared_data(rel: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    std::fs::read_to_string(root.join(rel))
        .unwrap_or_else(|e| panic!("reading shared data {rel}: {e}"))
}
