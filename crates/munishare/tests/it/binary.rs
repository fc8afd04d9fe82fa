//! The binary end to end: `serve` over TLS on a fresh data directory (demo
//! seeded, Secure cookies), then the operator commands against the same
//! database: `admin create-user`, `admin list-users`, `audit verify`.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_munishare");

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "5"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn serves_over_tls_and_the_operator_commands_work() {
    let dir = std::env::temp_dir().join(format!("munishare-bin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success(), "openssl made a self-signed certificate");
    let data = dir.join("data");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let server = Server(
        Command::new(BIN)
            .arg("--data-dir")
            .arg(&data)
            .args(["serve", "--listen", &listen, "--tls-cert"])
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .env("MUNISHARE_DEMO_PASSWORD", "binary-test-password")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("https://{listen}");
    let mut ready = false;
    // The first start seeds the demo, finance books of 37 towns included:
    // about a minute in this unoptimised test build on two cores.
    for _ in 0..3000 {
        if curl(&[&format!("{base}/readyz")]) == "ready" {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ready, "the server answered over HTTPS");
    let headers = curl(&["-D", "-", "-o", "/dev/null", &format!("{base}/signin")]);
    let cookie = headers
        .lines()
        .find(|l| l.to_lowercase().starts_with("set-cookie"))
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let token = curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"username":"clerk.hartford","password":"binary-test-password","town":"hartford","service":"finance","label":"cli test"}"#,
        &format!("{base}/api/v1/auth/token"),
    ]);
    assert!(token.contains("\"token\":\"mst_"), "{token}");
    // The demo seeded OPM's sales of the region's towns: the dashboard has Hartford.
    let bearer = token
        .split("\"token\":\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .to_owned();
    let studies = curl(&[
        "-H",
        &format!("authorization: Bearer {bearer}"),
        &format!("{base}/api/v1/assessment/opm-ratio-studies"),
    ]);
    assert!(
        studies.contains("\"list_year\":2022") && studies.contains("\"town\":\"Hartford\""),
        "{studies}"
    );
    // … and each assessment town's field work: the field assessor's queue
    // (through a Hartford token) holds Hartford's demo permits, one assigned to them.
    let field_token = curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"username":"field.assessor","password":"binary-test-password","town":"hartford","service":"assessment","label":"cli test"}"#,
        &format!("{base}/api/v1/auth/token"),
    ]);
    let field_bearer = field_token
        .split("\"token\":\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap_or_default()
        .to_owned();
    let queue = curl(&[
        "-H",
        &format!("authorization: Bearer {field_bearer}"),
        &format!("{base}/api/v1/assessment/field/inspections?reason=permit"),
    ]);
    assert!(
        queue.contains("\"source\":\"permit B-")
            && queue.contains("\"inspector_name\":\"Regional Field Assessor\"")
            && !queue.contains("east-hartford"),
        "{queue}"
    );
    drop(server);
    // The server made its secret key on first start, readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data.join("secret.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // `import opm-sales`: a new file is imported; the same file again changes nothing.
    let sales = dir.join("opm.csv");
    std::fs::write(
        &sales,
        "Serial Number,List Year,Date Recorded,Town,Address,Assessed Value,Sale Amount,Sales Ratio,Property Type,Residential Type,Non Use Code\n\
         990001,2023,10/02/2023,Hartford,1 MAIN ST,70000.00,100000.00,0.7,Residential,Single Family,\n",
    )
    .unwrap();
    let first = run(&data, &["import", "opm-sales", sales.to_str().unwrap()]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        String::from_utf8_lossy(&first.stdout)
            .contains("opm.csv: 1 sales read, 1 new, 0 replaced.")
    );
    let again = run(&data, &["import", "opm-sales", sales.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&again.stderr)
            .contains("Nothing was imported. this file was imported already")
    );

    // `import assessment`: a town's roll as its assessor (their grants apply); refused files
    // name the row and column and write nothing.
    let roll = dir.join("roll.csv");
    std::fs::write(
        &roll,
        "parcel_id,location,neighbourhood,property_class,land_sqft,land_value,building_value,owner\n\
         99-9-1,1 Test Lane,N01,residential,10000,50000,100000,CLI Owner\n",
    )
    .unwrap();
    let as_assessor = |file: &Path, kind: &str| {
        run(
            &data,
            &[
                "import",
                "assessment",
                "--town",
                "hartford",
                "--as",
                "assessor.hartford",
                "--kind",
                kind,
                file.to_str().unwrap(),
            ],
        )
    };
    let imported = as_assessor(&roll, "parcels");
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let out = String::from_utf8_lossy(&imported.stdout);
    assert!(
        out.contains("Imported roll.csv into Hartford as parcels (1 rows, 1 added, 0 changed"),
        "{out}"
    );
    let again = as_assessor(&roll, "parcels");
    assert_eq!(again.status.code(), Some(2));
    let bad = dir.join("bad-roll.csv");
    std::fs::write(
        &bad,
        "parcel_id,location,neighbourhood,property_class,land_sqft,land_value,building_value,owner\n\
         99-9-2,2 Test Lane,N01,castle,10000,50000,100000,CLI Owner\n",
    )
    .unwrap();
    let refused = as_assessor(&bad, "parcels");
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("bad-roll.csv, row 2, column property_class")
            && err.contains("nothing was written"),
        "{err}"
    );
    let clerk = run(
        &data,
        &[
            "import",
            "assessment",
            "--town",
            "hartford",
            "--as",
            "clerk.hartford",
            "--kind",
            "parcels",
            bad.to_str().unwrap(),
        ],
    );
    assert!(!clerk.status.success());
    assert!(
        String::from_utf8_lossy(&clerk.stderr)
            .contains("clerk.hartford cannot edit assessment in hartford")
    );
    let no_year = as_assessor(&roll, "motor-vehicles");
    assert!(!no_year.status.success());
    assert!(String::from_utf8_lossy(&no_year.stderr).contains("list_year"));

    let created = run(
        &data,
        &[
            "admin",
            "create-user",
            "--username",
            "ops.clerk",
            "--name",
            "Ops Clerk",
        ],
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        String::from_utf8_lossy(&created.stdout)
            .contains("Created ops.clerk. Temporary password (shown once): ")
    );
    let list = String::from_utf8_lossy(&run(&data, &["admin", "list-users"]).stdout).into_owned();
    assert!(
        list.contains("ops.clerk") && list.contains("admin") && list.contains("council admin"),
        "{list}"
    );
    let dup = run(
        &data,
        &[
            "admin",
            "create-user",
            "--username",
            "ops.clerk",
            "--name",
            "Again",
        ],
    );
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("the username ops.clerk is taken"));
    let grant = run(
        &data,
        &[
            "admin",
            "grant",
            "ops.clerk",
            "--role",
            "records-clerk",
            "--town",
            "west-hartford",
        ],
    );
    assert!(
        String::from_utf8_lossy(&grant.stdout)
            .contains("Granted Records clerk to ops.clerk in West Hartford.")
    );
    let verify = run(&data, &["audit", "verify"]);
    assert!(verify.status.success());
    let report = String::from_utf8_lossy(&verify.stdout).into_owned();
    assert!(
        report.contains("in 39 chains") && report.contains("Every chain is intact."),
        "{report}"
    );
    let help = String::from_utf8_lossy(
        &Command::new(BIN)
            .args(["serve", "--help"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    for flag in [
        "--database-url",
        "--data-dir",
        "--listen",
        "--object-store",
        "--no-demo",
        "--tls-cert",
        "--job-workers",
        "MUNISHARE_LISTEN",
    ] {
        assert!(help.contains(flag), "serve --help documents {flag}");
    }
    // SQLite has one writer: a second job worker is refused before serving.
    let refused = run(
        &data,
        &["serve", "--listen", "127.0.0.1:0", "--job-workers", "2"],
    );
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("--job-workers 2: SQLite has one writer"),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
