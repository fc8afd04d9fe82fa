//! Blob storage on local disk and on a real S3-compatible server (moto,
//! started on loopback for the test).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use munishare_platform::blob::{BlobKey, BlobStore, S3Settings};

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn http(port: u16, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

async fn start_moto() -> (Moto, u16) {
    let port = free_port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server (pip install 'moto[server]'; scripts/test.sh does this)");
    let moto = Moto(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (moto, port);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not start");
}

async fn round_trip(store: &BlobStore) {
    let key = BlobKey::system("tests/hello.txt").unwrap();
    assert!(!store.exists(&key).await.unwrap());
    store
        .put(&key, Bytes::from_static(b"grand list 2025"))
        .await
        .unwrap();
    assert!(store.exists(&key).await.unwrap());
    assert_eq!(
        store.get(&key).await.unwrap(),
        Bytes::from_static(b"grand list 2025")
    );
    store.delete(&key).await.unwrap();
    assert!(matches!(
        store.get(&key).await,
        Err(munishare_platform::Error::NotFound { .. })
    ));
    store.delete(&key).await.unwrap();
    store.ping().await.unwrap();
    assert!(BlobKey::system("../escape").is_err());
    assert!(BlobKey::system("a//b").is_err());
}

#[tokio::test]
async fn local_directory_store_round_trips() {
    let dir =
        std::env::temp_dir().join(format!("munishare-blob-{}", uuid::Uuid::now_v7().simple()));
    let store = BlobStore::open(&format!("file://{}", dir.display())).unwrap();
    round_trip(&store).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn s3_compatible_store_round_trips() {
    let (_moto, port) = start_moto().await;
    let created = http(port, "PUT /munishare-test HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");
    let store = BlobStore::open_s3(
        "munishare-test",
        &S3Settings {
            endpoint: format!("http://127.0.0.1:{port}"),
            region: "us-east-1".into(),
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
        },
    )
    .unwrap();
    round_trip(&store).await;
    // Missing bucket: a clear error, not a panic.
    let missing = BlobStore::open_s3(
        "no-such-bucket",
        &S3Settings {
            endpoint: format!("http://127.0.0.1:{port}"),
            region: "us-east-1".into(),
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
        },
    )
    .unwrap();
    assert!(
        missing
            .put(&BlobKey::system("x").unwrap(), Bytes::from_static(b"x"))
            .await
            .is_err()
    );
}

#[test]
fn store_urls_are_checked() {
    assert!(BlobStore::open("ftp://x").is_err());
    assert!(BlobStore::open("s3://").is_err());
}

crate::both_dbs!(objects_are_kept_apart_by_town_and_service);

async fn objects_are_kept_apart_by_town_and_service(app: crate::harness::TestApp) {
    use munishare_platform::types::{Permission, Service};
    use munishare_platform::{access, identity};
    let dir =
        std::env::temp_dir().join(format!("munishare-blob-{}", uuid::Uuid::now_v7().simple()));
    let store = BlobStore::open(&format!("file://{}", dir.display())).unwrap();
    let today = time::macros::date!(2026 - 11 - 26);
    let scope = |user: &'static str, town: &'static str, service: Service| {
        let db = app.db.clone();
        async move {
            let mut c = db.read().await.unwrap();
            let u = identity::user_by_username(&mut c, user)
                .await
                .unwrap()
                .unwrap();
            drop(c);
            access::authorize_service(
                &db,
                &identity::principal_for_user(&u),
                today,
                town,
                service,
                Permission::Edit,
            )
            .await
            .unwrap()
        }
    };
    let hartford = scope("clerk.hartford", "hartford", Service::Finance).await;
    let west = scope("records.west-hartford", "west-hartford", Service::Records).await;
    let name = "invoices/2026/inv-0001.pdf";
    store
        .put(
            &BlobKey::in_scope(&hartford, name).unwrap(),
            Bytes::from_static(b"hartford"),
        )
        .await
        .unwrap();
    store
        .put(
            &BlobKey::in_scope(&west, name).unwrap(),
            Bytes::from_static(b"west hartford"),
        )
        .await
        .unwrap();
    // The same name in two towns is two objects; each scope reads and lists only its own.
    assert_eq!(
        store
            .get(&BlobKey::in_scope(&hartford, name).unwrap())
            .await
            .unwrap(),
        Bytes::from_static(b"hartford")
    );
    let listed = store.list(&hartford).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].0,
        format!("towns/{}/finance/{name}", hartford.municipality_id())
    );
    assert_eq!(listed[0].1, 8);
    assert!(BlobKey::in_scope(&hartford, "../../west-hartford/records/x").is_err());
    let _ = std::fs::remove_dir_all(dir);
}
