//! The backup server module: repositories and backup tokens through the
//! session API, then the client REST API of docs/design/0012 exercised with
//! hand-built objects (packs, index and snapshot named by their SHA-256,
//! metadata signed with a known Ed25519 key), the refusals (overwrite, hash
//! mismatch, forged or incomplete metadata, quota, wrong/revoked/expired
//! tokens, sessions and API tokens), tenant isolation and the monitoring view.

use axum::http::{Method, StatusCode, header};
use ed25519_dalek::SigningKey;
use munishare_backup::config::{Chunker, RepoConfig};
use munishare_backup::meta::{SignedMeta, SnapshotMeta};
use munishare_platform::dispatch;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::both_dbs;
use crate::harness::{Auth, Resp, TestApp};

both_dbs!(
    the_backup_cli_backs_up_to_the_server_and_restores,
    a_client_backs_up_through_the_rest_api,
    backup_tokens_are_scoped_append_only_and_refusable,
    quotas_and_management_rights_are_enforced,
    retention_forgets_snapshots_and_collects_what_no_kept_snapshot_needs,
    the_client_rides_out_a_server_restart_mid_upload,
    the_scrub_finds_a_damaged_pack_and_the_snapshots_it_breaks,
    metering_keeps_each_days_peak_and_charges_gb_months,
    restore_drills_are_reported_checked_and_kept_as_evidence,
    the_town_lists_keys_and_removes_them_but_never_the_last_passphrase,
    replication_copies_mirrors_verifies_and_repairs_the_replica
);

const REPO: &str = "/api/v1/backup/repo";

fn sha(bytes: &[u8]) -> String {
    munishare_platform::types::hex(&Sha256::digest(bytes))
}

/// Deterministic bytes standing in for a sealed object.
fn blob(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn config(id: &str) -> RepoConfig {
    RepoConfig {
        version: 1,
        id: id.to_owned(),
        chunker: Chunker::DEFAULT,
        pack_size: 16 << 20,
        metadata_key: munishare_platform::types::hex(key().verifying_key().as_bytes()),
        created: "2026-11-26T13:00:00Z".into(),
    }
}

fn meta(
    repo: &str,
    snapshot: &str,
    host: &str,
    packs: Vec<String>,
    index: Vec<String>,
) -> SnapshotMeta {
    SnapshotMeta {
        version: 1,
        repo: repo.to_owned(),
        snapshot: snapshot.to_owned(),
        host: host.to_owned(),
        tags: vec!["nightly".into()],
        time: "2026-11-26T13:30:00+01:00".into(),
        parent: None,
        files: 3,
        dirs: 1,
        logical_bytes: 10_000,
        added_bytes: 1_000,
        packs,
        index,
    }
}

async fn put(app: &TestApp, token: &Auth, path: &str, body: Vec<u8>) -> Resp {
    app.raw(
        Method::PUT,
        &format!("{REPO}/{path}"),
        token,
        Some("application/octet-stream"),
        body,
    )
    .await
}

async fn get(app: &TestApp, token: &Auth, path: &str) -> Resp {
    app.raw(
        Method::GET,
        &format!("{REPO}/{path}"),
        token,
        None,
        Vec::new(),
    )
    .await
}

/// Creates a repository and a token for `host` in `town` as `user`; returns (repo id, token).
async fn repo_and_token(
    app: &TestApp,
    user: &Auth,
    town: &str,
    name: &str,
    quota: Option<i64>,
    host: &str,
) -> (String, Auth) {
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/towns/{town}/backup/repos"),
            user,
            Some(json!({"name": name, "quota_bytes": quota})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let repo_id = r.json()["id"].as_str().unwrap().to_owned();
    let t = app
        .api(
            Method::POST,
            &format!("/api/v1/towns/{town}/backup/tokens"),
            user,
            Some(json!({"repo": name, "host": host})),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text());
    let secret = t.json()["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("msb_"), "{secret}");
    (repo_id, Auth::Token(secret))
}

fn detail(r: &Resp) -> String {
    r.json()["detail"].as_str().unwrap_or_default().to_owned()
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    let mut c = app.db.read().await.unwrap();
    dispatch!(&mut c, c => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_events WHERE action = $1")
        .bind(action).fetch_one(c).await)
    .unwrap()
}

async fn a_client_backs_up_through_the_rest_api(app: TestApp) {
    let admin = app.demo_session("townadmin.hartford").await;
    let (_, token) = repo_and_token(&app, &admin, "hartford", "town-hall", None, "fs01").await;
    let dup = app
        .api(
            Method::POST,
            "/api/v1/towns/hartford/backup/repos",
            &admin,
            Some(json!({"name": "town-hall"})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.text());
    assert_eq!(dup.json()["field"], "name");

    // Before init: no config. A config of another version is refused with the engine's message.
    assert_eq!(
        get(&app, &token, "config").await.status,
        StatusCode::NOT_FOUND
    );
    let repo_uuid = "0193c3a0-0000-7000-8000-000000000001";
    let mut v2 = config(repo_uuid);
    v2.version = 2;
    let r = put(&app, &token, "config", v2.to_bytes()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(detail(&r).contains("version 2"), "{}", r.text());
    let config_bytes = config(repo_uuid).to_bytes();
    let r = put(&app, &token, "config", config_bytes.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = put(&app, &token, "config", config_bytes.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let r = get(&app, &token, "config").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, config_bytes);

    // A key file; names are 32 to 64 hex digits.
    let key_name = "0123456789abcdef0123456789abcdef";
    let key_file = br#"{"version":1,"kdf":"argon2id"}"#.to_vec();
    let r = put(&app, &token, &format!("keys/{key_name}"), key_file.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = put(&app, &token, "keys/not-hex", key_file.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["field"], "name");

    // A pack, an index file and a sealed snapshot, each named by its SHA-256.
    let pack = blob(1, 1000);
    let index = blob(2, 300);
    let snapshot = blob(3, 200);
    let (pack_name, index_name, snap_name) = (sha(&pack), sha(&index), sha(&snapshot));
    for (kind, name, body) in [
        ("data", &pack_name, &pack),
        ("index", &index_name, &index),
        ("snapshots", &snap_name, &snapshot),
    ] {
        let r = put(&app, &token, &format!("{kind}/{name}"), body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{kind}: {}", r.text());
    }
    // Written once: the same name again is a conflict, whatever the body.
    let r = put(&app, &token, &format!("data/{pack_name}"), pack.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(detail(&r).contains("already exists"), "{}", r.text());
    // A body that does not hash to its name is refused, naming both.
    let other = blob(9, 1000);
    let r = put(
        &app,
        &token,
        &format!("data/{}", sha(&blob(8, 10))),
        other.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(detail(&r).contains(&sha(&other)), "{}", r.text());

    // Listing, whole and ranged reads, HEAD.
    let list = get(&app, &token, "data/").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    assert_eq!(list.json(), json!([{"name": pack_name, "size": 1000}]));
    assert_eq!(
        get(&app, &token, "keys/").await.json(),
        json!([{"name": key_name, "size": key_file.len()}])
    );
    let whole = get(&app, &token, &format!("data/{pack_name}")).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.body, pack);
    let ranged = |range: &'static str| {
        let app = app.clone();
        let token = token.clone();
        let path = format!("{REPO}/data/{pack_name}");
        async move {
            let req = axum::http::Request::builder()
                .method(Method::GET)
                .uri(path)
                .header(header::RANGE, range);
            let req = match &token {
                Auth::Token(t) => req.header(header::AUTHORIZATION, format!("Bearer {t}")),
                _ => unreachable!(),
            };
            use tower::ServiceExt;
            let resp = app
                .router
                .clone()
                .oneshot(req.body(axum::body::Body::empty()).unwrap())
                .await
                .unwrap();
            let status = resp.status();
            let cr = resp
                .headers()
                .get(header::CONTENT_RANGE)
                .map(|v| v.to_str().unwrap().to_owned());
            let body = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes()
                .to_vec();
            (status, cr, body)
        }
    };
    let (status, cr, body) = ranged("bytes=10-19").await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(cr.as_deref(), Some("bytes 10-19/1000"));
    assert_eq!(body, pack[10..20]);
    let (status, cr, body) = ranged("bytes=-4").await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(cr.as_deref(), Some("bytes 996-999/1000"));
    assert_eq!(body, pack[996..]);
    let (status, cr, _) = ranged("bytes=1000-1001").await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(cr.as_deref(), Some("bytes */1000"));
    let head = app
        .raw(
            Method::HEAD,
            &format!("{REPO}/data/{pack_name}"),
            &token,
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.headers[header::CONTENT_LENGTH], "1000");
    assert!(head.body.is_empty());
    let missing = app
        .raw(
            Method::HEAD,
            &format!("{REPO}/data/{}", sha(b"nothing")),
            &token,
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Metadata: a pack it lists must exist (named), the host must be the token's,
    // and a forged record (a pack dropped after signing) does not verify.
    let absent = sha(b"absent pack");
    let incomplete = SignedMeta::sign(
        &meta(
            repo_uuid,
            &snap_name,
            "fs01",
            vec![pack_name.clone(), absent.clone()],
            vec![index_name.clone()],
        ),
        &key(),
    );
    let r = put(
        &app,
        &token,
        &format!("meta/{snap_name}"),
        incomplete.to_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(
        detail(&r).contains(&format!("data/{absent}")),
        "{}",
        r.text()
    );
    assert_eq!(r.json()["field"], "packs");
    let elsewhere = SignedMeta::sign(
        &meta(
            repo_uuid,
            &snap_name,
            "fs02",
            vec![pack_name.clone()],
            vec![index_name.clone()],
        ),
        &key(),
    );
    let r = put(
        &app,
        &token,
        &format!("meta/{snap_name}"),
        elsewhere.to_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["field"], "host");
    let good = SignedMeta::sign(
        &meta(
            repo_uuid,
            &snap_name,
            "fs01",
            vec![pack_name.clone()],
            vec![index_name.clone()],
        ),
        &key(),
    );
    let forged = SignedMeta {
        meta: good.meta.replace("\"files\":3", "\"files\":4"),
        signature: good.signature.clone(),
    };
    let r = put(
        &app,
        &token,
        &format!("meta/{snap_name}"),
        forged.to_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(detail(&r).contains("does not verify"), "{}", r.text());
    let unsnapped = sha(b"no such snapshot");
    let r = put(
        &app,
        &token,
        &format!("meta/{unsnapped}"),
        SignedMeta::sign(&meta(repo_uuid, &unsnapped, "fs01", vec![], vec![]), &key()).to_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(
        detail(&r).contains(&format!("snapshots/{unsnapped}")),
        "{}",
        r.text()
    );
    assert_eq!(audit_count(&app, "backup.snapshot.add").await, 0);
    let r = put(&app, &token, &format!("meta/{snap_name}"), good.to_bytes()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        get(&app, &token, &format!("meta/{snap_name}")).await.body,
        good.to_bytes()
    );
    assert_eq!(audit_count(&app, "backup.snapshot.add").await, 1);
    assert_eq!(audit_count(&app, "backup.key.add").await, 1);
    assert_eq!(audit_count(&app, "backup.repository.init").await, 1);
    // The snapshot's packs are kept for garbage collection.
    let mut c = app.db.read().await.unwrap();
    let packs: Vec<String> = dispatch!(&mut c, c => sqlx::query_scalar("SELECT pack FROM backup_snapshot_packs WHERE snapshot = $1")
        .bind(&snap_name).fetch_all(c).await)
    .unwrap();
    drop(c);
    assert_eq!(packs, vec![pack_name.clone()]);

    // The town's view: every object counted once, the latest snapshot's logical bytes, the ratio.
    let stored = (config_bytes.len()
        + key_file.len()
        + pack.len()
        + index.len()
        + snapshot.len()
        + good.to_bytes().len()) as i64;
    let o = app
        .api(Method::GET, "/api/v1/towns/hartford/backup", &admin, None)
        .await;
    assert_eq!(o.status, StatusCode::OK, "{}", o.text());
    let o = o.json();
    assert_eq!(o["stored_bytes"], stored);
    assert_eq!(o["latest_logical_bytes"], 10_000);
    let ratio = o["dedup_ratio"].as_f64().unwrap();
    assert!((ratio - 10_000.0 / stored as f64).abs() < 1e-9, "{ratio}");
    assert_eq!(o["repos"][0]["objects"], 6);
    assert_eq!(o["repos"][0]["initialised"], true);
    assert_eq!(
        o["trend"],
        json!([{"day": "2026-11-26", "stored_bytes": stored}])
    );
    let hosts = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/backup/hosts",
            &admin,
            None,
        )
        .await
        .json();
    assert_eq!(hosts[0]["host"], "fs01");
    assert_eq!(hosts[0]["state"], "ok");
    assert_eq!(hosts[0]["snapshots"], 1);
    // The client's signed time, normalised to UTC.
    assert_eq!(
        hosts[0]["last_snapshot_time"],
        "2026-11-26T12:30:00.000000Z"
    );
    let snaps = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/backup/snapshots?host=fs01",
            &admin,
            None,
        )
        .await
        .json();
    assert_eq!(snaps[0]["name"], snap_name.as_str());
    assert_eq!(snaps[0]["tags"], "[\"nightly\"]");

    // A day and an hour later with no backup: overdue here and in the regional view.
    app.advance(time::Duration::hours(25));
    // (Sessions end after 30 idle minutes: sign in again.)
    let admin = app.demo_session("townadmin.hartford").await;
    let hosts = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/backup/hosts",
            &admin,
            None,
        )
        .await
        .json();
    assert_eq!(hosts[0]["state"], "overdue");
    assert_eq!(hosts[0]["hours_since"], 25);
    let page = app
        .api(Method::GET, "/t/hartford/backup", &admin, None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("missed backup"), "{}", page.text());
    assert!(
        page.text().contains(
            "fs01 (town-hall) missed its backup: the last was 25 h ago, expected every 24 h."
        ),
        "the page alerts: {}",
        page.text()
    );
    // Expecting a backup every two days makes it fresh again; audited.
    let r = app
        .api(
            Method::PUT,
            "/api/v1/towns/hartford/backup/repos/town-hall/hosts/fs01",
            &admin,
            Some(json!({"expected_interval_hours": 48})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(audit_count(&app, "backup.host.interval").await, 1);
    let operator = app.demo_session("backup.operator").await;
    let region = app
        .api(Method::GET, "/api/v1/backup/towns", &operator, None)
        .await
        .json();
    let hartford = region
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["town"] == "hartford")
        .unwrap();
    assert_eq!(hartford["state"], "ok");
    assert_eq!(hartford["stored_bytes"], stored);
    let west = region
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["town"] == "west-hartford")
        .unwrap();
    assert_eq!(west["state"], "none");
    let page = app.api(Method::GET, "/backup", &operator, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("fs01: ok"), "{}", page.text());
}

async fn backup_tokens_are_scoped_append_only_and_refusable(app: TestApp) {
    let hartford = app.demo_session("townadmin.hartford").await;
    let west = app.demo_session("townadmin.west-hartford").await;
    let (_, a_token) = repo_and_token(&app, &hartford, "hartford", "main", None, "fs01").await;
    let (_, b_token) = repo_and_token(&app, &west, "west-hartford", "main", None, "fs01").await;
    let pack = blob(4, 500);
    let name = sha(&pack);
    assert_eq!(
        put(&app, &a_token, &format!("data/{name}"), pack.clone())
            .await
            .status,
        StatusCode::CREATED
    );
    // West Hartford's token sees its own, empty repository only.
    assert_eq!(get(&app, &b_token, "data/").await.json(), json!([]));
    assert_eq!(
        get(&app, &b_token, &format!("data/{name}")).await.status,
        StatusCode::NOT_FOUND
    );
    // … and can store the same name in its own repository: names are per repository.
    assert_eq!(
        put(&app, &b_token, &format!("data/{name}"), pack.clone())
            .await
            .status,
        StatusCode::CREATED
    );

    // No DELETE: the route answers 405 and the pack stays.
    let del = app
        .raw(
            Method::DELETE,
            &format!("{REPO}/data/{name}"),
            &a_token,
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(del.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        get(&app, &a_token, &format!("data/{name}")).await.body,
        pack
    );

    // Packs are larger than the 2 MiB other routes take: a 3 MiB one is accepted whole.
    let big = blob(7, 3 << 20);
    let r = put(&app, &a_token, &format!("data/{}", sha(&big)), big.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        get(&app, &a_token, &format!("data/{}", sha(&big)))
            .await
            .body
            .len(),
        3 << 20
    );

    // A session, a user's API token, no credentials and an unknown token: 401, before the body is read.
    let api_token = app.token("townadmin.hartford", "hartford", "backup").await;
    for (who, auth) in [
        ("session", &hartford),
        ("API token", &api_token),
        ("nobody", &Auth::None),
        ("unknown", &Auth::Token("msb_not-a-real-token".into())),
    ] {
        let r = put(&app, auth, &format!("data/{}", sha(b"x")), b"x".to_vec()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{who}: {}", r.text());
        let r = get(&app, auth, "data/").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{who}: {}", r.text());
    }
    // And the session API refuses a backup token.
    let r = app
        .api(Method::GET, "/api/v1/towns/hartford/backup", &a_token, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());

    // Revoked: refused from then on; listed as revoked; audited.
    let tokens = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/backup/tokens",
            &hartford,
            None,
        )
        .await
        .json();
    let id = tokens[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(tokens[0]["host"], "fs01");
    assert!(tokens[0]["last_used_at"].is_string());
    let Auth::Token(a_secret) = &a_token else {
        unreachable!()
    };
    assert!(!tokens.to_string().contains(a_secret.as_str()));
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/towns/hartford/backup/tokens/{id}/revoke"),
            &hartford,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = get(&app, &a_token, "data/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(detail(&r).contains("unknown or revoked"), "{}", r.text());
    assert_eq!(audit_count(&app, "backup.token.revoke").await, 1);
    // West Hartford cannot revoke Hartford's token, nor see it.
    let r = app
        .api(
            Method::POST,
            &format!("/api/v1/towns/west-hartford/backup/tokens/{id}/revoke"),
            &west,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());

    // Expired: a token for one day, two days later.
    let t = app
        .api(
            Method::POST,
            "/api/v1/towns/hartford/backup/tokens",
            &hartford,
            Some(json!({"repo": "main", "host": "fs02", "expires_in_days": 1})),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text());
    let short = Auth::Token(t.json()["secret"].as_str().unwrap().to_owned());
    assert_eq!(get(&app, &short, "data/").await.status, StatusCode::OK);
    app.advance(time::Duration::days(2));
    let r = get(&app, &short, "data/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(detail(&r).contains("expired"), "{}", r.text());
    let hartford = app.demo_session("townadmin.hartford").await;
    // The host the expired token named is known, and has never backed up.
    let hosts: Value = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/backup/hosts",
            &hartford,
            None,
        )
        .await
        .json();
    let fs02 = hosts
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == "fs02")
        .unwrap();
    assert_eq!(fs02["state"], "never");

    // A token acts with its issuer's rights: disabling the issuer stops it, enabling them restores it.
    let t = app
        .api(
            Method::POST,
            "/api/v1/towns/hartford/backup/tokens",
            &hartford,
            Some(json!({"repo": "main", "host": "fs03"})),
        )
        .await;
    let fs03 = Auth::Token(t.json()["secret"].as_str().unwrap().to_owned());
    assert_eq!(get(&app, &fs03, "data/").await.status, StatusCode::OK);
    let admin = app.demo_session("admin").await;
    let users = app
        .api(Method::GET, "/api/v1/admin/users", &admin, None)
        .await
        .json();
    let issuer = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "townadmin.hartford")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (active, status) in [(false, StatusCode::UNAUTHORIZED), (true, StatusCode::OK)] {
        let r = app
            .api(
                Method::POST,
                &format!("/api/v1/admin/users/{issuer}/active"),
                &admin,
                Some(json!({"active": active})),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text());
        let r = get(&app, &fs03, "data/").await;
        assert_eq!(r.status, status, "issuer active {active}: {}", r.text());
        if !active {
            assert!(detail(&r).contains("disabled"), "{}", r.text());
        }
    }
}

async fn quotas_and_management_rights_are_enforced(app: TestApp) {
    let admin = app.demo_session("townadmin.hartford").await;
    let config_bytes = config("0193c3a0-0000-7000-8000-000000000002").to_bytes();
    let quota = config_bytes.len() as i64 + 1000;
    let (_, token) = repo_and_token(&app, &admin, "hartford", "small", Some(quota), "fs01").await;
    assert_eq!(
        put(&app, &token, "config", config_bytes.clone())
            .await
            .status,
        StatusCode::CREATED
    );
    let fits = blob(5, 1000);
    let too_much = blob(6, 1);
    assert_eq!(
        put(&app, &token, &format!("data/{}", sha(&fits)), fits.clone())
            .await
            .status,
        StatusCode::CREATED
    );
    let r = put(
        &app,
        &token,
        &format!("data/{}", sha(&too_much)),
        too_much.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::INSUFFICIENT_STORAGE, "{}", r.text());
    let d = detail(&r);
    assert!(d.contains(&format!("holds {quota} bytes")), "{d}");
    assert!(d.contains(&format!("quota of {quota} bytes")), "{d}");
    // Nothing was stored.
    assert_eq!(
        get(&app, &token, &format!("data/{}", sha(&too_much)))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Someone who may only view backups cannot create repositories or tokens, nor list tokens.
    let auditor = app.demo_session("auditor").await;
    for (m, path, body) in [
        (Method::POST, "repos", Some(json!({"name": "x"}))),
        (
            Method::POST,
            "tokens",
            Some(json!({"repo": "small", "host": "fs09"})),
        ),
        (Method::GET, "tokens", None),
    ] {
        let r = app
            .api(
                m,
                &format!("/api/v1/towns/hartford/backup/{path}"),
                &auditor,
                body,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text());
    }
    assert_eq!(
        app.api(Method::GET, "/api/v1/towns/hartford/backup", &auditor, None)
            .await
            .status,
        StatusCode::OK
    );
    // Bad input names its field.
    let r = app
        .api(
            Method::POST,
            "/api/v1/towns/hartford/backup/repos",
            &admin,
            Some(json!({"name": "Bad Name"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "name");
    let r = app
        .api(
            Method::POST,
            "/api/v1/towns/hartford/backup/tokens",
            &admin,
            Some(json!({"repo": "nope", "host": "fs01"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "repo");

    // In the browser: the secret is shown once, on the answer to the form.
    let page = app
        .form(
            "/t/hartford/backup/tokens",
            &admin,
            &[("repo", "small"), ("host", "web01"), ("label", "web")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let text = page.text();
    let start = text.find("msb_").unwrap();
    let secret: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    assert_eq!(
        get(&app, &Auth::Token(secret.clone()), "data/")
            .await
            .status,
        StatusCode::OK
    );
    let again = app
        .api(Method::GET, "/t/hartford/backup", &admin, None)
        .await;
    assert!(!again.text().contains(&secret));
    assert!(again.text().contains("web01"));
}

/// Runs the `munishare` binary's backup client (off the async runtime); returns (exit code, stdout, stderr).
async fn cli(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_munishare"))
            .args(&args)
            .env("MUNISHARE_BACKUP_PASSWORD", "town hall passphrase")
            .env_remove("MUNISHARE_BACKUP_SERVER")
            .env_remove("MUNISHARE_BACKUP_TOKEN")
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// Serves the application on a loopback port; its base URL.
async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    server
}

/// A client command line: `args`, then `--server URL --token SECRET`.
fn remote_args(server: &str, secret: &str, args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    v.extend([
        "--server".into(),
        server.to_owned(),
        "--token".into(),
        secret.to_owned(),
    ]);
    v
}

/// Deterministic incompressible bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// End to end: the real client (`munishare init | backup | restore | check`) over HTTP against
/// the served application, then the town's view of what it stored.
async fn the_backup_cli_backs_up_to_the_server_and_restores(app: TestApp) {
    let admin = app.demo_session("townadmin.hartford").await;
    let (repo_id, token) =
        repo_and_token(&app, &admin, "hartford", "town-hall", None, "fs01").await;
    let Auth::Token(secret) = token.clone() else {
        unreachable!()
    };
    let server = serve(&app).await;

    let dir = std::env::temp_dir().join(format!("munishare-e2e-{}", uuid::Uuid::now_v7().simple()));
    let (src, target) = (dir.join("src"), dir.join("restore"));
    std::fs::create_dir_all(src.join("scans")).unwrap();
    let files: Vec<(String, Vec<u8>)> = vec![
        ("scans/deed-1.tif".into(), noise(1, 3_000_000)),
        ("scans/deed-2.tif".into(), noise(2, 2_500_000)),
        (
            "minutes.txt".into(),
            "Board of Finance minutes, regular meeting.\n"
                .repeat(5_000)
                .into_bytes(),
        ),
    ];
    for (name, bytes) in &files {
        std::fs::write(src.join(name), bytes).unwrap();
    }
    let logical: i64 = files.iter().map(|(_, b)| b.len() as i64).sum();
    let remote = |args: &[&str]| remote_args(&server, &secret, args);
    let src_arg = src.to_str().unwrap().to_owned();

    let (code, out, err) = cli(remote(&["init"])).await;
    assert_eq!(code, 0, "init: {out}\n{err}");
    let (code, out, err) = cli(remote(&[
        "backup", "--host", "fs01", "--tag", "nightly", &src_arg,
    ]))
    .await;
    assert_eq!(code, 0, "backup: {out}\n{err}");
    let packs = get(&app, &token, "data/").await.json();
    assert!(!packs.as_array().unwrap().is_empty(), "{packs}");

    // The server verified the snapshot's signed metadata and counts it for the host.
    let hosts = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/backup/hosts",
            &admin,
            None,
        )
        .await
        .json();
    assert_eq!(hosts[0]["host"], "fs01");
    assert_eq!(hosts[0]["state"], "ok");
    assert_eq!(hosts[0]["snapshots"], 1);
    assert_eq!(hosts[0]["latest_logical_bytes"], logical);
    assert_eq!(audit_count(&app, "backup.snapshot.add").await, 1);
    assert_eq!(audit_count(&app, "backup.repository.init").await, 1);
    let mut c = app.db.read().await.unwrap();
    let referenced: i64 = dispatch!(&mut c, c => sqlx::query_scalar("SELECT COUNT(*) FROM backup_snapshot_packs WHERE repo_id = $1")
        .bind(&repo_id).fetch_one(c).await)
    .unwrap();
    drop(c);
    assert_eq!(referenced, packs.as_array().unwrap().len() as i64);

    // Unchanged data: a second snapshot, no new pack.
    let (code, out, err) = cli(remote(&["backup", "--host", "fs01", &src_arg])).await;
    assert_eq!(code, 0, "second backup: {out}\n{err}");
    assert_eq!(get(&app, &token, "data/").await.json(), packs);
    let (code, out, err) = cli(remote(&["snapshots"])).await;
    assert_eq!(code, 0, "snapshots: {out}\n{err}");
    assert!(out.contains("2 snapshot(s)"), "{out}");

    // Restore whole and verify; check every byte.
    let (code, out, err) = cli(remote(&[
        "restore",
        "latest",
        "--target",
        target.to_str().unwrap(),
    ]))
    .await;
    assert_eq!(code, 0, "restore: {out}\n{err}");
    let restored = target.join(src.strip_prefix("/").unwrap());
    for (name, bytes) in &files {
        assert!(
            &std::fs::read(restored.join(name)).unwrap() == bytes,
            "{name}"
        );
    }
    let (code, out, err) = cli(remote(&["check", "--read-data"])).await;
    assert_eq!(code, 0, "check: {out}\n{err}");
    assert!(out.contains("No errors were found."), "{out}");

    // The token's host is the only one it may record.
    let (code, out, err) = cli(remote(&["backup", "--host", "fs02", &src_arg])).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("fs02") && err.contains("fs01"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Three nightly snapshots sharing a pack, each with a pack and an index file of its own, and an
/// orphan pack from an interrupted run. Keeping two days forgets the oldest at once; its own pack
/// and index file, and the orphan, go only once they are past the 24-hour grace.
async fn retention_forgets_snapshots_and_collects_what_no_kept_snapshot_needs(app: TestApp) {
    let admin = app.demo_session("townadmin.hartford").await;
    let (repo_id, token) =
        repo_and_token(&app, &admin, "hartford", "town-hall", None, "fs01").await;
    let r = put(
        &app,
        &token,
        "config",
        serde_json::to_vec(&config(&repo_id)).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let upload = async |kind: &str, bytes: Vec<u8>| -> String {
        let name = sha(&bytes);
        let r = put(&app, &token, &format!("{kind}/{name}"), bytes).await;
        assert_eq!(r.status, StatusCode::CREATED, "{kind}: {}", r.text());
        name
    };
    let shared = upload("data", blob(1, 4000)).await;
    let mut snapshots = Vec::new();
    let mut own = Vec::new();
    for (i, day) in ["2026-11-24", "2026-11-25", "2026-11-26"]
        .iter()
        .enumerate()
    {
        let seed = 10 * (i as u8 + 1);
        let pack = upload("data", blob(seed, 1000 + i)).await;
        let index = upload("index", blob(seed + 1, 300)).await;
        let snapshot = upload("snapshots", blob(seed + 2, 200)).await;
        let mut m = meta(
            &repo_id,
            &snapshot,
            "fs01",
            vec![shared.clone(), pack.clone()],
            vec![index.clone()],
        );
        m.time = format!("{day}T02:00:00Z");
        let signed = SignedMeta::sign(&m, &key());
        let r = put(&app, &token, &format!("meta/{snapshot}"), signed.to_bytes()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        snapshots.push(snapshot);
        own.push((pack, index));
    }
    let orphan = upload("data", blob(99, 700)).await;

    // A policy is checked field by field; keep two days.
    let policy = "/api/v1/towns/hartford/backup/repos/town-hall/hosts/fs01/retention";
    let r = app
        .api(Method::PUT, policy, &admin, Some(json!({"keep_daily": -1})))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        detail(&r).starts_with("keep_daily: -1 is not between 0 and 100,000"),
        "{}",
        detail(&r)
    );
    let r = app
        .api(Method::PUT, policy, &admin, Some(json!({"keep_daily": 2})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["keep_daily"], 2);

    let apply = "/api/v1/towns/hartford/backup/repos/town-hall/retention/apply";
    let r = app.api(Method::POST, apply, &admin, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let report = r.json();
    assert_eq!(report["kept"], 2);
    assert_eq!(report["forgotten"], json!([snapshots[0]]));
    // Nothing is collected inside the grace period.
    assert_eq!(
        (
            report["packs_removed"].as_i64(),
            report["index_removed"].as_i64()
        ),
        (Some(0), Some(0))
    );
    for kind in ["snapshots", "meta"] {
        let r = get(&app, &token, &format!("{kind}/{}", snapshots[0])).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{kind} of the forgotten snapshot"
        );
    }
    let listed = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/backup/snapshots",
            &admin,
            None,
        )
        .await
        .json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec![snapshots[2].as_str(), snapshots[1].as_str()]);

    // A day later the server's own hourly run (acting for the policy's author) collects the
    // forgotten snapshot's pack and index file and the orphan pack.
    app.advance(time::Duration::hours(25));
    let now = munishare_platform::types::Timestamp::new(munishare_platform::Clock::now(&app.clock));
    let registry = munishare::jobs();
    assert!(
        registry.schedule_due(&app.db, now).await.unwrap() >= 1,
        "backup.retention is due"
    );
    while registry.run_one(&app.jobs).await.unwrap() {}
    let result: String = {
        let mut c = app.db.read().await.unwrap();
        dispatch!(&mut c, c => sqlx::query_scalar("SELECT result FROM jobs WHERE kind = 'backup.retention' AND status = 'done'")
            .fetch_one(c).await)
        .unwrap()
    };
    let runs: Value = serde_json::from_str(&result).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(runs[0]["skipped"], Value::Null, "{runs}");
    let report = runs[0]["report"].clone();
    let admin = app.demo_session("townadmin.hartford").await;
    assert_eq!(report["forgotten"], json!([]));
    assert_eq!(
        (
            report["packs_removed"].as_i64(),
            report["index_removed"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(report["bytes_freed"], 1000 + 700 + 300);
    assert_eq!(
        get(&app, &token, &format!("data/{}", own[0].0))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, &token, &format!("data/{orphan}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, &token, &format!("index/{}", own[0].1))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    for kept in [&shared, &own[1].0, &own[2].0] {
        assert_eq!(
            get(&app, &token, &format!("data/{kept}")).await.status,
            StatusCode::OK
        );
    }
    let listing = get(&app, &token, "data/").await.json();
    assert_eq!(listing.as_array().unwrap().len(), 3);
    assert_eq!(audit_count(&app, "backup.retention.apply").await, 2);
    let actor: String = {
        let mut c = app.db.read().await.unwrap();
        dispatch!(&mut c, c => sqlx::query_scalar(
            "SELECT actor FROM audit_events WHERE action = 'backup.retention.apply' ORDER BY at DESC, seq DESC LIMIT 1")
            .fetch_one(c).await)
        .unwrap()
    };
    assert_eq!(actor, "townadmin.hartford via scheduled backup retention");
    assert_eq!(audit_count(&app, "backup.host.retention").await, 1);

    // The town page shows the policy.
    let page = app
        .raw(Method::GET, "/t/hartford/backup", &admin, None, Vec::new())
        .await
        .text();
    assert!(
        page.contains("id=\"backup-retention\"")
            && page.contains("Apply retention to town-hall now"),
        "{page}"
    );
}

/// Everything between the client and the server goes through this relay. Once `trip_at` bytes
/// have gone up to the server, the connection carrying that byte is cut mid-request and `tripped`
/// fires; `kill` drops every connection and stops listening, `restart` listens again on the same
/// port — to the client, the server died mid-upload and came back. Tripping on a byte count (not
/// on a poll of the database) makes the cut land mid-upload however loaded the machine is.
struct Relay {
    port: u16,
    upstream: std::net::SocketAddr,
    tasks: std::sync::Arc<std::sync::Mutex<tokio::task::JoinSet<()>>>,
    trip_at: u64,
    forwarded: std::sync::Arc<std::sync::atomic::AtomicU64>,
    tripped: std::sync::Arc<tokio::sync::Notify>,
}

impl Relay {
    async fn start(upstream: std::net::SocketAddr, port: u16, trip_at: u64) -> Relay {
        let relay = Relay {
            port,
            upstream,
            tasks: Default::default(),
            trip_at,
            forwarded: Default::default(),
            tripped: Default::default(),
        };
        relay.restart().await;
        relay
    }

    async fn restart(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        let (upstream, tasks) = (self.upstream, self.tasks.clone());
        let (trip_at, forwarded, tripped) =
            (self.trip_at, self.forwarded.clone(), self.tripped.clone());
        let accept = async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let (forwarded, tripped) = (forwarded.clone(), tripped.clone());
                let conn = async move {
                    use std::sync::atomic::Ordering;
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let ((mut cr, mut cw), (mut sr, mut sw)) =
                        (client.into_split(), server.into_split());
                    let up = async {
                        let mut buf = vec![0u8; 64 << 10];
                        loop {
                            let n = cr.read(&mut buf).await?;
                            if n == 0 {
                                return Ok::<_, std::io::Error>(());
                            }
                            let before = forwarded.fetch_add(n as u64, Ordering::SeqCst);
                            if before < trip_at && before + n as u64 >= trip_at {
                                tripped.notify_one();
                                return Ok(());
                            }
                            sw.write_all(&buf[..n]).await?;
                        }
                    };
                    let down = tokio::io::copy(&mut sr, &mut cw);
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                    }
                };
                tasks.lock().unwrap().spawn(conn);
            }
        };
        self.tasks.lock().unwrap().spawn(accept);
    }

    fn kill(&self) {
        self.tasks.lock().unwrap().abort_all();
    }
}

/// The issue's fault test: the server goes away while the client uploads packs and comes back
/// seconds later; the client retries and completes, and the repository checks clean.
async fn the_client_rides_out_a_server_restart_mid_upload(app: TestApp) {
    let admin = app.demo_session("townadmin.hartford").await;
    let (_, token) = repo_and_token(&app, &admin, "hartford", "town-hall", None, "fs01").await;
    let Auth::Token(secret) = token else {
        unreachable!()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The first 16 MiB pack goes through; the cut lands in the second.
    let relay = Relay::start(upstream, port, 20 << 20).await;
    let server = format!("http://127.0.0.1:{port}");

    let dir = std::env::temp_dir().join(format!(
        "munishare-restart-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..10u64 {
        std::fs::write(dir.join(format!("scan-{i}.pdf")), noise(i + 10, 5_000_000)).unwrap();
    }
    let remote = |args: &[&str]| remote_args(&server, &secret, args);
    let (code, out, err) = cli(remote(&["init"])).await;
    assert_eq!(code, 0, "init: {out}\n{err}");

    let backup = tokio::spawn(cli(remote(&[
        "backup",
        "--host",
        "fs01",
        dir.to_str().unwrap(),
    ])));
    // Mid-upload, the server goes away for three seconds.
    tokio::time::timeout(
        std::time::Duration::from_secs(120),
        relay.tripped.notified(),
    )
    .await
    .expect("the upload reached 20 MiB");
    relay.kill();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    relay.restart().await;

    let (code, out, err) = backup.await.unwrap();
    assert_eq!(code, 0, "backup: {out}\n{err}");
    assert!(out.contains("Files:     10 new"), "{out}");
    assert!(
        err.contains("retrying in"),
        "the client said it retried: {err}"
    );
    let (code, out, err) = cli(remote(&["check", "--read-data"])).await;
    assert_eq!(code, 0, "check: {out}\n{err}");
    assert!(out.contains("No errors were found."), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The scrub: the hourly job checks every pack against its SHA-256 name; a pack altered in the
/// object store is found on the next check (a week later) and reported with its snapshot.
async fn the_scrub_finds_a_damaged_pack_and_the_snapshots_it_breaks(app: TestApp) {
    let admin = app.demo_session("townadmin.hartford").await;
    let (repo_id, token) =
        repo_and_token(&app, &admin, "hartford", "town-hall", None, "fs01").await;
    assert_eq!(
        put(
            &app,
            &token,
            "config",
            serde_json::to_vec(&config(&repo_id)).unwrap()
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let upload = async |kind: &str, bytes: Vec<u8>| -> String {
        let name = sha(&bytes);
        assert_eq!(
            put(&app, &token, &format!("{kind}/{name}"), bytes)
                .await
                .status,
            StatusCode::CREATED
        );
        name
    };
    let (a, b) = (
        upload("data", blob(1, 5000)).await,
        upload("data", blob(2, 3000)).await,
    );
    let index = upload("index", blob(3, 200)).await;
    let snapshot = upload("snapshots", blob(4, 100)).await;
    let signed = SignedMeta::sign(
        &meta(
            &repo_id,
            &snapshot,
            "fs01",
            vec![a.clone(), b.clone()],
            vec![index],
        ),
        &key(),
    );
    assert_eq!(
        put(&app, &token, &format!("meta/{snapshot}"), signed.to_bytes())
            .await
            .status,
        StatusCode::CREATED
    );

    // The scheduled scrub checks both packs, acting for the repository's owner.
    let now =
        || munishare_platform::types::Timestamp::new(munishare_platform::Clock::now(&app.clock));
    let registry = munishare::jobs();
    registry.schedule_due(&app.db, now()).await.unwrap();
    while registry.run_one(&app.jobs).await.unwrap() {}
    let result: String = {
        let mut c = app.db.read().await.unwrap();
        dispatch!(&mut c, c => sqlx::query_scalar("SELECT result FROM jobs WHERE kind = 'backup.scrub' AND status = 'done'")
            .fetch_one(c).await)
        .unwrap()
    };
    let runs: Value = serde_json::from_str(&result).unwrap();
    let run = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo_id"] == repo_id.as_str())
        .unwrap();
    assert_eq!(run["report"]["packs_checked"], 2, "{runs}");
    assert_eq!(run["report"]["bytes_checked"], 8000);
    assert_eq!(run["report"]["damaged"], json!([]));
    let integrity = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/backup/integrity",
            &admin,
            None,
        )
        .await
        .json();
    assert_eq!(
        (
            integrity[0]["packs_verified"].as_i64(),
            integrity[0]["packs"].as_i64()
        ),
        (Some(2), Some(2))
    );

    // Pack a is altered in the object store, behind the server's back.
    let town: String = {
        let mut c = app.db.read().await.unwrap();
        dispatch!(&mut c, c => sqlx::query_scalar("SELECT id FROM municipalities WHERE slug = 'hartford'").fetch_one(c).await).unwrap()
    };
    let root = app
        .jobs
        .blobs
        .describe()
        .trim_start_matches("file://")
        .to_owned();
    let path = std::path::Path::new(&root).join(format!("towns/{town}/backup/{repo_id}/data/{a}"));
    let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes[100] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    // Checked packs wait a week for their next check; then the damage is found.
    let scrub = "/api/v1/towns/hartford/backup/repos/town-hall/scrub";
    assert_eq!(
        app.api(Method::POST, scrub, &admin, None).await.json()["packs_checked"],
        0
    );
    app.advance(time::Duration::days(8));
    let admin = app.demo_session("townadmin.hartford").await;
    let r = app.api(Method::POST, scrub, &admin, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let report = r.json();
    assert_eq!(report["packs_checked"], 2);
    let damaged = report["damaged"].as_array().unwrap();
    assert_eq!(damaged.len(), 1, "{report}");
    assert_eq!(damaged[0]["pack"], a.as_str());
    assert!(
        damaged[0]["reason"]
            .as_str()
            .unwrap()
            .ends_with("not its name"),
        "{report}"
    );
    assert_eq!(damaged[0]["snapshots"], json!([snapshot]));
    assert_eq!(audit_count(&app, "backup.scrub.damage").await, 1);
    let page = app
        .raw(Method::GET, "/t/hartford/backup", &admin, None, Vec::new())
        .await
        .text();
    assert!(
        page.contains(&format!("data/{a}")) && page.contains("damaged"),
        "{page}"
    );
    assert!(
        page.contains("town-hall: 1 damaged pack(s), needed by 1 snapshot(s)"),
        "the page alerts: {page}"
    );
    // The council sees it on the regional overview.
    let operator = app.demo_session("backup.operator").await;
    let towns = app
        .api(Method::GET, "/api/v1/backup/towns", &operator, None)
        .await
        .json();
    let damaged: Vec<(&str, i64)> = towns
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["damaged_packs"] != 0)
        .map(|t| {
            (
                t["town"].as_str().unwrap(),
                t["damaged_packs"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(damaged, [("hartford", 1)]);
    let page = app
        .raw(Method::GET, "/backup", &operator, None, Vec::new())
        .await
        .text();
    assert!(page.contains("1 damaged pack(s)"), "{page}");
}

/// Runs every due periodic job (and what they enqueue) to completion.
async fn run_due_jobs(app: &TestApp) {
    let registry = munishare::jobs();
    let now = munishare_platform::types::Timestamp::new(munishare_platform::Clock::now(&app.clock));
    registry.schedule_due(&app.db, now).await.unwrap();
    while registry.run_one(&app.jobs).await.unwrap() {}
}

/// The hourly meter records each town's stored bytes (the sizes the client PUT, summed by hand)
/// as the day's peak: a second reading the same day changes nothing, the next day gets its own;
/// the month sums them into byte-days and GB-months, per town and across the region, with an
/// export for the chargeback.
async fn metering_keeps_each_days_peak_and_charges_gb_months(app: TestApp) {
    let admin = app.demo_session("townadmin.hartford").await;
    let (repo_id, token) =
        repo_and_token(&app, &admin, "hartford", "town-hall", None, "fs01").await;
    let config = serde_json::to_vec(&config(&repo_id)).unwrap();
    let config_len = config.len() as i64;
    assert_eq!(
        put(&app, &token, "config", config).await.status,
        StatusCode::CREATED
    );
    for (seed, len) in [(1u8, 5000usize), (2, 3000)] {
        let bytes = blob(seed, len);
        let r = put(&app, &token, &format!("data/{}", sha(&bytes)), bytes).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let day1 = config_len + 8000;

    // 2026-11-26 14:00: the first reading.
    run_due_jobs(&app).await;
    assert_eq!(audit_count(&app, "backup.metering.reading").await, 1);
    // More data the same day raises the day's peak …
    let bytes = blob(3, 2000);
    assert_eq!(
        put(&app, &token, &format!("data/{}", sha(&bytes)), bytes)
            .await
            .status,
        StatusCode::CREATED
    );
    app.advance(time::Duration::hours(1));
    run_due_jobs(&app).await;
    let day1 = day1 + 2000;
    assert_eq!(audit_count(&app, "backup.metering.reading").await, 2);
    // … and an unchanged reading records nothing.
    app.advance(time::Duration::hours(1));
    run_due_jobs(&app).await;
    assert_eq!(audit_count(&app, "backup.metering.reading").await, 2);

    // The next day (2026-11-27 16:00), with one more pack.
    app.advance(time::Duration::days(1));
    let admin = app.demo_session("townadmin.hartford").await;
    let bytes = blob(4, 1000);
    assert_eq!(
        put(&app, &token, &format!("data/{}", sha(&bytes)), bytes)
            .await
            .status,
        StatusCode::CREATED
    );
    run_due_jobs(&app).await;
    let day2 = day1 + 1000;

    let usage = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/backup/usage?month=2026-11",
            &admin,
            None,
        )
        .await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.text());
    let u = usage.json();
    assert_eq!(
        u["days"],
        json!([{"day": "2026-11-26", "stored_bytes": day1}, {"day": "2026-11-27", "stored_bytes": day2}])
    );
    assert_eq!(u["byte_days"], day1 + day2);
    assert_eq!(
        (u["days_measured"].as_i64(), u["days_in_month"].as_i64()),
        (Some(2), Some(30))
    );
    assert_eq!(u["peak_bytes"], day2);
    assert_eq!(u["stored_bytes_now"], day2);
    // A few kilobytes for two days of thirty: 0.000 GB-months to three places.
    assert_eq!(u["gb_months"], "0.000");
    // October has no readings.
    let oct = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/backup/usage?month=2026-10",
            &admin,
            None,
        )
        .await
        .json();
    assert_eq!(
        (oct["byte_days"].as_i64(), oct["days_in_month"].as_i64()),
        (Some(0), Some(31))
    );
    let bad = app
        .api(
            Method::GET,
            "/api/v1/towns/hartford/backup/usage?month=2026-13",
            &admin,
            None,
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad.text()
    );
    assert_eq!(bad.json()["field"], "month");

    // The council's operator sees every town; the town's administrator only Hartford.
    let operator = app.demo_session("backup.operator").await;
    let all = app
        .api(
            Method::GET,
            "/api/v1/backup/usage?month=2026-11",
            &operator,
            None,
        )
        .await
        .json();
    let all = all.as_array().unwrap();
    assert!(all.len() > 1, "{all:?}");
    let hartford = all.iter().find(|t| t["town"] == "hartford").unwrap();
    assert_eq!(hartford["byte_days"], day1 + day2);
    assert!(
        all.iter()
            .filter(|t| t["town"] != "hartford")
            .all(|t| t["byte_days"] == 0)
    );
    let own = app
        .api(
            Method::GET,
            "/api/v1/backup/usage?month=2026-11",
            &admin,
            None,
        )
        .await
        .json();
    assert_eq!(own.as_array().unwrap().len(), 1, "{own}");
    let csv = app
        .raw(
            Method::GET,
            "/backup/usage?month=2026-11&format=csv",
            &operator,
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.text().contains(&format!(
            "Hartford,2026-11,30,2,{},0.000,{day2}",
            day1 + day2
        )),
        "{}",
        csv.text()
    );
    let page = app
        .raw(
            Method::GET,
            "/backup/usage?month=2026-11",
            &operator,
            None,
            Vec::new(),
        )
        .await
        .text();
    assert!(
        page.contains("usage-chart") && page.contains("Hartford"),
        "{page}"
    );
    let town_page = app
        .raw(Method::GET, "/t/hartford/backup", &admin, None, Vec::new())
        .await
        .text();
    assert!(town_page.contains("GB-months in 2026-11"), "{town_page}");
}

/// A drill over HTTP with the real client: it reads the chosen packs, restores sample files,
/// reports; the server checks the report against what it stores and keeps it as evidence. A
/// drill over damaged data fails and says so; an old pass turns overdue; forged reports are
/// refused naming the field.
async fn restore_drills_are_reported_checked_and_kept_as_evidence(app: TestApp) {
    let admin = app.demo_session("townadmin.hartford").await;
    let (repo_id, token) =
        repo_and_token(&app, &admin, "hartford", "town-hall", None, "fs01").await;
    let Auth::Token(secret) = token.clone() else {
        unreachable!()
    };
    let server = serve(&app).await;
    let dir =
        std::env::temp_dir().join(format!("munishare-drill-{}", uuid::Uuid::now_v7().simple()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("scans")).unwrap();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("scans/deed-1.tif", noise(11, 3_000_000)),
        ("scans/deed-2.tif", noise(12, 2_500_000)),
        (
            "minutes.txt",
            b"Board of Selectmen minutes.\n".repeat(4_000),
        ),
    ];
    for (name, bytes) in &files {
        std::fs::write(src.join(name), bytes).unwrap();
    }
    let logical: i64 = files.iter().map(|(_, b)| b.len() as i64).sum();
    let remote = |args: &[&str]| remote_args(&server, &secret, args);
    let (code, out, err) = cli(remote(&["init"])).await;
    assert_eq!(code, 0, "init: {out}\n{err}");
    let (code, out, err) = cli(remote(&["backup", "--host", "fs01", src.to_str().unwrap()])).await;
    assert_eq!(code, 0, "backup: {out}\n{err}");
    let packs: Vec<(String, i64)> = get(&app, &token, "data/")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["size"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(!packs.is_empty());
    let drills = async |app: &TestApp, who: &Auth| {
        let r = app
            .api(
                Method::GET,
                "/api/v1/towns/hartford/backup/drills",
                who,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()[0].clone()
    };
    assert_eq!(drills(&app, &admin).await["state"], "never");

    // A drill reading every pack (subset 1 of 1) and restoring every file.
    let scratch = dir.join("scratch");
    let (code, out, err) = cli(remote(&[
        "drill",
        "--subset",
        "1/1",
        "--scratch",
        scratch.to_str().unwrap(),
    ]))
    .await;
    assert_eq!(code, 0, "drill: {out}\n{err}");
    assert!(
        out.contains("Drill passed.") && out.contains("Restored 3 of 3"),
        "{out}"
    );
    assert!(!scratch.exists(), "the scratch directory is removed");
    let d = drills(&app, &admin).await;
    assert_eq!(d["state"], "ok", "{d}");
    assert_eq!(
        (d["packs_proven"].as_i64(), d["packs"].as_i64()),
        (Some(packs.len() as i64), Some(packs.len() as i64))
    );
    let last = &d["recent"][0];
    assert_eq!(last["passed"], true);
    assert_eq!(last["host"], "fs01");
    assert_eq!(last["packs_read"], packs.len() as i64);
    assert_eq!(last["bytes_read"], packs.iter().map(|p| p.1).sum::<i64>());
    assert_eq!(
        (
            last["files_restored"].as_i64(),
            last["bytes_restored"].as_i64()
        ),
        (Some(3), Some(logical))
    );
    assert_eq!(audit_count(&app, "backup.drill").await, 1);

    // Forged or broken reports are refused, naming the field; nothing is recorded.
    let report = |packs: Vec<&str>, bytes_read: i64, subset: &str| {
        json!({"started_at": "2026-11-26T13:00:00Z", "finished_at": "2026-11-26T13:05:00Z", "subset": subset,
            "snapshots": 1, "packs": packs, "bytes_read": bytes_read, "snapshot": null,
            "files_restored": 0, "bytes_restored": 0, "problems": []})
    };
    let post = async |body: Value| {
        let r = app
            .raw(
                Method::POST,
                &format!("{REPO}/drills"),
                &token,
                Some("application/json"),
                serde_json::to_vec(&body).unwrap(),
            )
            .await;
        (
            r.status,
            r.json()["field"].as_str().unwrap_or_default().to_owned(),
            r.text(),
        )
    };
    let unknown = "ab".repeat(32);
    let (status, field, text) = post(report(vec![&unknown], 0, "1/1")).await;
    assert_eq!(
        (status, field.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "packs[0]"),
        "{text}"
    );
    let (status, field, text) = post(report(vec![&packs[0].0], packs[0].1 + 1, "1/1")).await;
    assert_eq!(
        (status, field.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "bytes_read"),
        "{text}"
    );
    let (status, field, text) = post(report(vec![], 0, "0/10")).await;
    assert_eq!(
        (status, field.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "subset"),
        "{text}"
    );
    let mut backwards = report(vec![], 0, "1/10");
    backwards["finished_at"] = json!("2026-11-26T12:00:00Z");
    let (status, field, text) = post(backwards).await;
    assert_eq!(
        (status, field.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "finished_at"),
        "{text}"
    );
    let no_token = app
        .raw(
            Method::POST,
            &format!("{REPO}/drills"),
            &admin,
            Some("application/json"),
            serde_json::to_vec(&report(vec![], 0, "1/1")).unwrap(),
        )
        .await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
    assert_eq!(audit_count(&app, "backup.drill").await, 1);

    // The interval: refused out of range, then a week; eight days later the drill is overdue.
    let interval = "/api/v1/towns/hartford/backup/repos/town-hall/drill-interval";
    let r = app
        .api(
            Method::PUT,
            interval,
            &admin,
            Some(json!({"drill_interval_days": 0})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["field"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("drill_interval_days")
        )
    );
    let r = app
        .api(
            Method::PUT,
            interval,
            &admin,
            Some(json!({"drill_interval_days": 7})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    app.advance(time::Duration::days(8));
    let admin = app.demo_session("townadmin.hartford").await;
    let d = drills(&app, &admin).await;
    assert_eq!(
        (
            d["state"].as_str(),
            d["interval_days"].as_i64(),
            d["packs_proven"].as_i64()
        ),
        (Some("overdue"), Some(7), Some(0))
    );

    // A pack altered in the store: the next drill fails, names it, and the town sees it.
    let town: String = {
        let mut c = app.db.read().await.unwrap();
        dispatch!(&mut c, c => sqlx::query_scalar("SELECT id FROM municipalities WHERE slug = 'hartford'").fetch_one(c).await).unwrap()
    };
    let root = app
        .jobs
        .blobs
        .describe()
        .trim_start_matches("file://")
        .to_owned();
    let (victim, _) = &packs[0];
    let path =
        std::path::Path::new(&root).join(format!("towns/{town}/backup/{repo_id}/data/{victim}"));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[200] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let (code, out, err) = cli(remote(&["drill", "--subset", "1/1"])).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("Drill FAILED") && out.contains(victim.as_str()),
        "{out}"
    );
    let d = drills(&app, &admin).await;
    assert_eq!(d["state"], "failed", "{d}");
    assert_eq!(d["recent"][0]["passed"], false);
    let page = app
        .raw(Method::GET, "/t/hartford/backup", &admin, None, Vec::new())
        .await
        .text();
    assert!(
        page.contains("last drill failed") && page.contains(victim.as_str()),
        "{page}"
    );
    assert!(
        page.contains("The last restore drill of town-hall failed."),
        "the page alerts: {page}"
    );
    let towns = app
        .api(Method::GET, "/api/v1/backup/towns", &admin, None)
        .await
        .json();
    assert_eq!(
        (towns[0]["town"].as_str(), towns[0]["drill_state"].as_str()),
        (Some("hartford"), Some("failed")),
        "{towns}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Keys: `init` adds a passphrase and the recovery key, `key add` another passphrase; the town
/// sees all three (kind and label, never the sealed key), cannot remove the only passphrase, and
/// once a second exists removes the first — which then no longer opens the repository.
async fn the_town_lists_keys_and_removes_them_but_never_the_last_passphrase(app: TestApp) {
    let admin = app.demo_session("townadmin.hartford").await;
    let (_, token) = repo_and_token(&app, &admin, "hartford", "town-hall", None, "fs01").await;
    let Auth::Token(secret) = token else {
        unreachable!()
    };
    let server = serve(&app).await;
    let remote = |args: &[&str]| remote_args(&server, &secret, args);
    let (code, out, err) = cli(remote(&["init"])).await;
    assert_eq!(code, 0, "init: {out}\n{err}");
    let keys_url = "/api/v1/towns/hartford/backup/repos/town-hall/keys";
    let keys = async |app: &TestApp| -> Vec<(String, String)> {
        let r = app.api(Method::GET, keys_url, &admin, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let list = r.json();
        assert!(
            !list.to_string().contains("\"data\""),
            "no sealed key material: {list}"
        );
        list.as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["id"].as_str().unwrap().to_owned(),
                    k["kind"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let first = keys(&app).await;
    let mut kinds: Vec<&str> = first.iter().map(|k| k.1.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["argon2id", "recovery"]);
    let passphrase = first.iter().find(|k| k.1 == "argon2id").unwrap().0.clone();

    let r = app
        .api(
            Method::DELETE,
            &format!("{keys_url}/{passphrase}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.json()["field"].clone()),
        (StatusCode::CONFLICT, json!("key")),
        "{}",
        r.text()
    );

    let args = remote(&["key", "add"]);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_munishare"))
            .args(&args)
            .env("MUNISHARE_BACKUP_PASSWORD", "town hall passphrase")
            .env(
                "MUNISHARE_BACKUP_NEW_PASSWORD",
                "the new clerk's passphrase",
            )
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(keys(&app).await.len(), 3);

    let r = app
        .api(
            Method::DELETE,
            &format!("{keys_url}/{passphrase}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["kind"], "argon2id");
    assert_eq!(audit_count(&app, "backup.key.remove").await, 1);
    assert_eq!(keys(&app).await.len(), 2);
    // The removed passphrase opens nothing; the new one does.
    let (code, out, err) = cli(remote(&["snapshots"])).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.starts_with("error: wrong passphrase"), "{err}");
    let args = remote(&["snapshots"]);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_munishare"))
            .args(&args)
            .env("MUNISHARE_BACKUP_PASSWORD", "the new clerk's passphrase")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Removing it again: gone.
    let r = app
        .api(
            Method::DELETE,
            &format!("{keys_url}/{passphrase}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let page = app
        .raw(Method::GET, "/t/hartford/backup", &admin, None, Vec::new())
        .await
        .text();
    assert!(
        page.contains("backup-keys") && page.contains("recovery key"),
        "{page}"
    );
}

/// Every file under `towns/{town}/backup/{repo}/` of a `file://` store, by relative path.
fn stored_files(
    store: &munishare_platform::blob::BlobStore,
    town: &str,
    repo: &str,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    let root = std::path::PathBuf::from(store.describe().trim_start_matches("file://"))
        .join(format!("towns/{town}/backup/{repo}"));
    let mut out = std::collections::BTreeMap::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let rel = path.strip_prefix(&root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Replication: the hourly job copies every object of a repository to the replica store and
/// verifies it; a new snapshot shows as lag and pending bytes; a pack damaged in the primary is
/// reported, not copied; retention's deletions are mirrored; a replica copy cut short or altered
/// is found by the verify pass and copied again by the next run; without a replica store the
/// job skips and says why.
async fn replication_copies_mirrors_verifies_and_repairs_the_replica(app: TestApp) {
    let replica = app
        .jobs
        .replica
        .clone()
        .expect("the harness gives a replica store");
    let primary = app.jobs.blobs.clone();
    let admin = app.demo_session("townadmin.hartford").await;
    let (repo_id, token) =
        repo_and_token(&app, &admin, "hartford", "town-hall", None, "fs01").await;
    let town: String = {
        let mut c = app.db.read().await.unwrap();
        dispatch!(&mut c, c => sqlx::query_scalar("SELECT id FROM municipalities WHERE slug = 'hartford'").fetch_one(c).await).unwrap()
    };
    let config_bytes = serde_json::to_vec(&config(&repo_id)).unwrap();
    assert_eq!(
        put(&app, &token, "config", config_bytes.clone())
            .await
            .status,
        StatusCode::CREATED
    );
    let key_file = br#"{"version":1,"kdf":"argon2id"}"#.to_vec();
    let key_name = "0123456789abcdef0123456789abcdef";
    assert_eq!(
        put(&app, &token, &format!("keys/{key_name}"), key_file.clone())
            .await
            .status,
        StatusCode::CREATED
    );
    let upload = async |kind: &str, bytes: Vec<u8>| -> String {
        let name = sha(&bytes);
        let r = put(&app, &token, &format!("{kind}/{name}"), bytes).await;
        assert_eq!(r.status, StatusCode::CREATED, "{kind}: {}", r.text());
        name
    };
    let snapshot =
        async |seed: u8, day: &str, packs: Vec<String>, index: String| -> (String, usize) {
            let snap = upload("snapshots", blob(seed, 200)).await;
            let mut m = meta(&repo_id, &snap, "fs01", packs, vec![index]);
            m.time = format!("{day}T02:00:00Z");
            let signed = SignedMeta::sign(&m, &key()).to_bytes();
            let len = signed.len();
            let r = put(&app, &token, &format!("meta/{snap}"), signed).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
            (snap, len)
        };
    let shared = upload("data", blob(1, 4000)).await;
    let pack1 = upload("data", blob(10, 1000)).await;
    let index1 = upload("index", blob(11, 300)).await;
    let (snap1, meta1_len) = snapshot(
        12,
        "2026-11-25",
        vec![shared.clone(), pack1.clone()],
        index1.clone(),
    )
    .await;

    let now =
        || munishare_platform::types::Timestamp::new(munishare_platform::Clock::now(&app.clock));
    // A run reads at most its byte budget (the first object always goes): with one byte, it
    // copies the oldest object — all arrived at once, so the first by kind: the config.
    let (owner, town_id): (
        munishare_platform::types::UserId,
        munishare_platform::types::MunicipalityId,
    ) = {
        let mut c = app.db.read().await.unwrap();
        dispatch!(&mut c, c => sqlx::query_as("SELECT owner_id, municipality_id FROM backup_repositories WHERE id = $1")
            .bind(&repo_id).fetch_one(c).await)
        .unwrap()
    };
    let scope = munishare_platform::access::authorize_issued_credential(
        &app.db,
        now().datetime().date(),
        &owner,
        &town_id,
        munishare_platform::types::Service::Backup,
        munishare_platform::types::Permission::View,
        "test",
    )
    .await
    .unwrap();
    let small = munishare_backup_server::replication::replicate(
        &scope,
        &app.db,
        &primary,
        &replica,
        now(),
        &repo_id,
        1,
    )
    .await
    .unwrap();
    assert_eq!(
        (small.copied, small.bytes_copied),
        (1, config_bytes.len() as i64)
    );
    assert_eq!((small.missing, small.complete), (6, false));
    assert_eq!(
        small.bytes_pending,
        (key_file.len() + 4000 + 1000 + 300 + 200 + meta1_len) as i64
    );

    // The hourly job copies the other six objects, acting for the repository's owner.
    let registry = munishare::jobs();
    registry.schedule_due(&app.db, now()).await.unwrap();
    while registry.run_one(&app.jobs).await.unwrap() {}
    let result: String = {
        let mut c = app.db.read().await.unwrap();
        dispatch!(&mut c, c => sqlx::query_scalar("SELECT result FROM jobs WHERE kind = 'backup.replicate' AND status = 'done'")
            .fetch_one(c).await)
        .unwrap()
    };
    let job: Value = serde_json::from_str(&result).unwrap();
    assert_eq!(job["replica"], replica.describe(), "{job}");
    let run = job["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo_id"] == repo_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(run["skipped"], Value::Null, "{job}");
    let rest = key_file.len() + 4000 + 1000 + 300 + 200 + meta1_len;
    assert_eq!(run["report"]["copied"], 6, "{job}");
    assert_eq!(run["report"]["bytes_copied"], rest);
    assert_eq!(run["report"]["complete"], true);
    assert_eq!(run["report"]["missing"], 0);
    let in_primary = stored_files(&primary, &town, &repo_id);
    assert_eq!(in_primary.len(), 7);
    assert_eq!(stored_files(&replica, &town, &repo_id), in_primary);
    let first_verified = now().to_db();
    let status_url = "/api/v1/towns/hartford/backup/replication";
    let status = app.api(Method::GET, status_url, &admin, None).await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.text());
    let s = status.json();
    assert_eq!(s["replica"], replica.describe());
    assert_eq!(s["repos"][0]["objects"], 7);
    assert_eq!(s["repos"][0]["replicated"], 7);
    assert_eq!(s["repos"][0]["bytes_pending"], 0);
    assert_eq!(s["repos"][0]["lag_seconds"], 0);
    assert_eq!(s["repos"][0]["missing"], 0);
    assert_eq!(
        s["repos"][0]["last_verified_complete_at"],
        first_verified.as_str()
    );
    assert_eq!(audit_count(&app, "backup.replication.run").await, 2);
    let actor: String = {
        let mut c = app.db.read().await.unwrap();
        dispatch!(&mut c, c => sqlx::query_scalar(
            "SELECT actor FROM audit_events WHERE action = 'backup.replication.run' ORDER BY at DESC, seq DESC LIMIT 1")
            .fetch_one(c).await)
        .unwrap()
    };
    assert_eq!(actor, "townadmin.hartford via scheduled backup replication");

    // An hour later a second snapshot arrives; half an hour after that it is not yet replicated.
    app.advance(time::Duration::hours(1));
    let pack2_bytes = blob(20, 1500);
    let pack2 = upload("data", pack2_bytes.clone()).await;
    let index2 = upload("index", blob(21, 250)).await;
    let (snap2, meta2_len) = snapshot(
        22,
        "2026-11-26",
        vec![shared.clone(), pack2.clone()],
        index2.clone(),
    )
    .await;
    app.advance(time::Duration::minutes(30));
    let admin = app.demo_session("townadmin.hartford").await;
    let s = app.api(Method::GET, status_url, &admin, None).await.json();
    let pending = 1500 + 250 + 200 + meta2_len as i64;
    let unreplicated: i64 = {
        let mut c = app.db.read().await.unwrap();
        dispatch!(&mut c, c => sqlx::query_scalar("SELECT CAST(SUM(size) AS BIGINT) FROM backup_objects WHERE replicated_at IS NULL")
            .fetch_one(c).await)
        .unwrap()
    };
    assert_eq!(unreplicated, pending);
    assert_eq!(s["repos"][0]["bytes_pending"], pending, "{s}");
    assert_eq!(s["repos"][0]["lag_seconds"], 1800);
    assert_eq!(s["repos"][0]["replicated"], 7);
    assert_eq!(s["repos"][0]["objects"], 11);
    let regional = app
        .api(Method::GET, "/api/v1/backup/towns", &admin, None)
        .await
        .json();
    let hartford = regional
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["town"] == "hartford")
        .unwrap();
    assert_eq!(hartford["replication_lag_seconds"], 1800, "{regional}");

    // The new pack is damaged in the primary store before it is copied: it is reported, and
    // nothing is written in its place in the replica; the other three objects are copied.
    let primary_path = |kind: &str, name: &str| {
        std::path::PathBuf::from(primary.describe().trim_start_matches("file://"))
            .join(format!("towns/{town}/backup/{repo_id}/{kind}/{name}"))
    };
    let replica_path = |kind: &str, name: &str| {
        std::path::PathBuf::from(replica.describe().trim_start_matches("file://"))
            .join(format!("towns/{town}/backup/{repo_id}/{kind}/{name}"))
    };
    let mut bad = pack2_bytes.clone();
    bad[7] ^= 0xff;
    std::fs::write(primary_path("data", &pack2), &bad).unwrap();
    let replicate = "/api/v1/towns/hartford/backup/repos/town-hall/replicate";
    let r = app.api(Method::POST, replicate, &admin, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let report = r.json();
    assert_eq!(report["copied"], 3, "{report}");
    assert_eq!(report["bytes_copied"], 250 + 200 + meta2_len as i64);
    let damaged = report["primary_damaged"].as_array().unwrap();
    assert_eq!(damaged.len(), 1, "{report}");
    assert_eq!(damaged[0]["object"], format!("data/{pack2}"));
    assert_eq!(
        damaged[0]["reason"],
        format!("SHA-256 is {}, not its name", sha(&bad))
    );
    assert_eq!(damaged[0]["replica_has_good_copy"], false);
    assert_eq!(report["missing"], 1);
    assert_eq!(report["complete"], false);
    assert_eq!(report["bytes_pending"], 1500);
    assert_eq!(report["lag_seconds"], 1800);
    assert!(!replica_path("data", &pack2).exists());
    assert_eq!(audit_count(&app, "backup.replication.run").await, 3);
    // The pack is put right; the scrub reads it well and clears the mark; the next run copies it.
    std::fs::write(primary_path("data", &pack2), &pack2_bytes).unwrap();
    let r = app
        .api(
            Method::POST,
            "/api/v1/towns/hartford/backup/repos/town-hall/scrub",
            &admin,
            None,
        )
        .await;
    assert_eq!(r.json()["damaged"], json!([]), "{}", r.text());
    let report = app.api(Method::POST, replicate, &admin, None).await.json();
    assert_eq!(report["copied"], 1, "{report}");
    assert_eq!(report["bytes_copied"], 1500);
    assert_eq!(report["complete"], true);
    assert_eq!(report["lag_seconds"], 0);
    assert_eq!(
        stored_files(&replica, &town, &repo_id),
        stored_files(&primary, &town, &repo_id)
    );

    // Retention keeps the last snapshot; a day on, it forgets the first and collects its pack
    // and index file. The next run deletes those four objects from the replica too.
    let r = app
        .api(
            Method::PUT,
            "/api/v1/towns/hartford/backup/repos/town-hall/hosts/fs01/retention",
            &admin,
            Some(json!({"keep_last": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    app.advance(time::Duration::hours(25));
    let admin = app.demo_session("townadmin.hartford").await;
    let r = app
        .api(
            Method::POST,
            "/api/v1/towns/hartford/backup/repos/town-hall/retention/apply",
            &admin,
            None,
        )
        .await;
    assert_eq!(r.json()["forgotten"], json!([snap1]), "{}", r.text());
    assert_eq!(r.json()["packs_removed"], 1);
    assert_eq!(r.json()["index_removed"], 1);
    let report = app.api(Method::POST, replicate, &admin, None).await.json();
    assert_eq!(report["deleted"], 4, "{report}");
    assert_eq!(report["copied"], 0);
    assert_eq!(report["complete"], true);
    let in_primary = stored_files(&primary, &town, &repo_id);
    assert_eq!(in_primary.len(), 7);
    for gone in [
        format!("data/{pack1}"),
        format!("index/{index1}"),
        format!("snapshots/{snap1}"),
        format!("meta/{snap1}"),
    ] {
        assert!(!in_primary.contains_key(&gone), "{gone}");
    }
    assert_eq!(stored_files(&replica, &town, &repo_id), in_primary);
    assert!(in_primary.contains_key(&format!("meta/{snap2}")));

    // A replica copy cut short is found by the verify pass at once (the listing's size) ...
    let shared_copy = replica_path("data", &shared);
    std::fs::write(&shared_copy, &blob(1, 4000)[..3999]).unwrap();
    let verified_before = app.api(Method::GET, status_url, &admin, None).await.json()["repos"][0]
        ["last_verified_complete_at"]
        .clone();
    let report = app.api(Method::POST, replicate, &admin, None).await.json();
    assert_eq!(
        report["mismatched"],
        json!([format!(
            "data/{shared}: 3999 bytes in the replica where 4000 were accepted"
        )]),
        "{report}"
    );
    assert_eq!(report["missing"], 1);
    assert_eq!(report["complete"], false);
    let s = app.api(Method::GET, status_url, &admin, None).await.json();
    assert_eq!(s["repos"][0]["missing"], 1);
    assert_eq!(s["repos"][0]["bytes_pending"], 4000);
    assert_eq!(s["repos"][0]["last_verified_complete_at"], verified_before);
    // ... and the next run copies it again.
    let report = app.api(Method::POST, replicate, &admin, None).await.json();
    assert_eq!(report["copied"], 1, "{report}");
    assert_eq!(report["complete"], true);
    assert_eq!(std::fs::read(&shared_copy).unwrap(), blob(1, 4000));

    // A byte altered in a replica copy keeps its size: the weekly re-read finds it.
    let pack2_copy = replica_path("data", &pack2);
    let mut altered = pack2_bytes.clone();
    altered[0] ^= 0x01;
    std::fs::write(&pack2_copy, &altered).unwrap();
    let report = app.api(Method::POST, replicate, &admin, None).await.json();
    assert_eq!(report["mismatched"], json!([]), "not due yet: {report}");
    app.advance(time::Duration::days(8));
    let admin = app.demo_session("townadmin.hartford").await;
    let report = app.api(Method::POST, replicate, &admin, None).await.json();
    assert_eq!(
        report["mismatched"],
        json!([format!(
            "data/{pack2}: the replica's bytes differ from the object's"
        )]),
        "{report}"
    );
    let report = app.api(Method::POST, replicate, &admin, None).await.json();
    assert_eq!(report["copied"], 1, "{report}");
    assert_eq!(report["complete"], true);
    assert_eq!(std::fs::read(&pack2_copy).unwrap(), pack2_bytes);
    assert_eq!(
        stored_files(&replica, &town, &repo_id),
        stored_files(&primary, &town, &repo_id)
    );

    // The shared pack is damaged in the primary and the scrub finds it: the replica's good copy
    // is kept (never overwritten) and the status says it is the one to restore from.
    let mut bad = blob(1, 4000);
    bad[0] ^= 0xff;
    std::fs::write(primary_path("data", &shared), &bad).unwrap();
    let r = app
        .api(
            Method::POST,
            "/api/v1/towns/hartford/backup/repos/town-hall/scrub",
            &admin,
            None,
        )
        .await;
    assert_eq!(
        r.json()["damaged"][0]["pack"],
        shared.as_str(),
        "{}",
        r.text()
    );
    let report = app.api(Method::POST, replicate, &admin, None).await.json();
    assert_eq!(report["copied"], 0, "{report}");
    assert_eq!(report["complete"], true);
    assert_eq!(
        report["primary_damaged"],
        json!([{"object": format!("data/{shared}"), "reason": format!("SHA-256 is {}, not its name", sha(&bad)),
            "replica_has_good_copy": true}])
    );
    assert_eq!(std::fs::read(&shared_copy).unwrap(), blob(1, 4000));
    let s = app.api(Method::GET, status_url, &admin, None).await.json();
    assert_eq!(s["repos"][0]["primary_damaged"], report["primary_damaged"]);

    // Replicating on demand is for administrators: the auditor sees the figures, no more.
    let auditor = app.demo_session("auditor").await;
    let r = app.api(Method::GET, status_url, &auditor, None).await;
    assert_eq!(r.json()["repos"][0]["lag_seconds"], 0, "{}", r.text());
    let r = app.api(Method::POST, replicate, &auditor, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());

    // The town page loads the section; the section names the replica and offers the button.
    let page = app
        .raw(Method::GET, "/t/hartford/backup", &admin, None, Vec::new())
        .await
        .text();
    assert!(
        page.contains("hx-get=\"/t/hartford/backup/replication\""),
        "{page}"
    );
    let section = app
        .raw(
            Method::GET,
            "/t/hartford/backup/replication",
            &admin,
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(section.status, StatusCode::OK, "{}", section.text());
    let section = section.text();
    assert!(
        section.contains(replica.describe())
            && section.contains("Replicate now")
            && section.contains("complete"),
        "{section}"
    );

    // Without a replica store the job does nothing and says why.
    let mut without = app.jobs.clone();
    without.replica = None;
    let outcome = munishare_backup_server::replication::run_scheduled(&without)
        .await
        .unwrap();
    assert!(outcome.runs.is_empty());
    assert_eq!(
        outcome.skipped.as_deref(),
        Some(munishare_backup_server::replication::NO_REPLICA)
    );
    assert!(
        munishare_backup_server::replication::NO_REPLICA
            .starts_with("no replica store is configured")
    );
}
