//! `Db`: one handle over SQLite (embedded default) or PostgreSQL (production).
//!
//! Queries are written once, in portable SQL with `$1` placeholders (SQLite
//! accepts them too), and expanded for both drivers by [`dispatch!`]. Write
//! transactions on SQLite begin `IMMEDIATE` so a read-then-write transaction
//! never fails to upgrade its lock. The few dialect differences live in
//! [`dialect`].

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};

use crate::cache::Caches;
use crate::error::{Error, Result};

/// The migrations, embedded in the binary; one folder for both databases.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A connection pool to one of the two supported databases, with the read
/// cache of access data that every committed write invalidates.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool,
    cache: Arc<Caches>,
}

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls back;
/// committing it invalidates the access cache.
#[derive(Debug)]
pub struct Tx {
    inner: TxInner,
    cache: Arc<Caches>,
}

#[derive(Debug)]
enum TxInner {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A pooled connection for reads outside a transaction.
#[derive(Debug)]
pub enum Conn {
    /// On SQLite.
    Sqlite(PoolConnection<Sqlite>),
    /// On PostgreSQL.
    Postgres(PoolConnection<Postgres>),
}

/// A borrowed connection of either kind; what [`dispatch!`] matches on.
#[derive(Debug)]
pub enum ConnRef<'a> {
    /// On SQLite.
    Sqlite(&'a mut SqliteConnection),
    /// On PostgreSQL.
    Postgres(&'a mut PgConnection),
}

/// Anything store functions can run SQL on: a [`Tx`] or a [`Conn`].
pub trait Executor: Send {
    /// Borrows the underlying connection.
    fn conn(&mut self) -> ConnRef<'_>;
}

impl Executor for Tx {
    fn conn(&mut self) -> ConnRef<'_> {
        match &mut self.inner {
            TxInner::Sqlite(t) => ConnRef::Sqlite(&mut *t),
            TxInner::Postgres(t) => ConnRef::Postgres(&mut *t),
        }
    }
}

impl Executor for Conn {
    fn conn(&mut self) -> ConnRef<'_> {
        match self {
            Conn::Sqlite(c) => ConnRef::Sqlite(&mut *c),
            Conn::Postgres(c) => ConnRef::Postgres(&mut *c),
        }
    }
}

/// Runs the same sqlx expression on whichever driver the executor holds.
///
/// `execute!(ex, c => sqlx::query("…").bind(x).execute(c).await)` expands the
/// body once per driver with `c` bound to `&mut SqliteConnection` or
/// `&mut PgConnection`; both arms must produce the same type.
#[macro_export]
macro_rules! dispatch {
    ($ex:expr, $c:ident => $body:expr) => {
        match $crate::db::Executor::conn($ex) {
            $crate::db::ConnRef::Sqlite($c) => $body,
            $crate::db::ConnRef::Postgres($c) => $body,
        }
    };
}

/// Like [`dispatch!`] for a statement run with `.execute(c).await`; yields
/// the number of rows affected, the one result both drivers share.
#[macro_export]
macro_rules! execute {
    ($ex:expr, $c:ident => $body:expr) => {
        match $crate::db::Executor::conn($ex) {
            $crate::db::ConnRef::Sqlite($c) => ($body).map(|r| r.rows_affected()),
            $crate::db::ConnRef::Postgres($c) => ($body).map(|r| r.rows_affected()),
        }
    };
}

impl Db {
    fn new(pool: Pool) -> Self {
        Self {
            pool,
            cache: Arc::new(Caches::default()),
        }
    }

    /// The read cache of access data.
    pub(crate) fn cache(&self) -> &Caches {
        &self.cache
    }

    /// Opens a pool for `url` (`sqlite://path` or `postgres://…`). SQLite files
    /// are created when missing.
    pub async fn connect(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| Error::invalid("database-url", e.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                // 32 MiB of page cache per connection (the default is 2 MiB):
                // bulk posting and reports touch large indexes.
                .pragma("cache_size", "-32768")
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(opts)
                .await?;
            Ok(Self::new(Pool::Sqlite(pool)))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| Error::invalid("database-url", e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            Ok(Self::new(Pool::Postgres(pool)))
        } else {
            Err(Error::invalid(
                "database-url",
                "must start with sqlite:// or postgres://".to_owned(),
            ))
        }
    }

    /// Applies pending migrations and installs the dialect-specific guards.
    pub async fn migrate(&self) -> Result<()> {
        let run = match &self.pool {
            Pool::Sqlite(p) => MIGRATOR.run(p).await,
            Pool::Postgres(p) => MIGRATOR.run(p).await,
        };
        run.map_err(|e| Error::Internal(format!("migration failed: {e}")))?;
        dialect::install_guards(self).await
    }

    /// Begins a write transaction.
    pub async fn begin(&self) -> Result<Tx> {
        let inner = match &self.pool {
            Pool::Sqlite(p) => TxInner::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => TxInner::Postgres(p.begin().await?),
        };
        Ok(Tx {
            inner,
            cache: self.cache.clone(),
        })
    }

    /// Takes a pooled connection for reads.
    pub async fn read(&self) -> Result<Conn> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => Conn::Sqlite(p.acquire().await?),
            Pool::Postgres(p) => Conn::Postgres(p.acquire().await?),
        })
    }

    /// "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        match &self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Checks the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        let mut c = self.read().await?;
        execute!(&mut c, c => sqlx::query("SELECT 1").execute(c).await)?;
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    /// Commits the transaction, then invalidates the access cache (any write
    /// may have changed who can see what; writes are rare next to reads).
    pub async fn commit(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::Postgres(t) => t.commit().await?,
        }
        self.cache.invalidate();
        Ok(())
    }
}

/// The most parameters one multi-row statement binds. SQLite finds a
/// numbered parameter (`$n`) by a linear search of the statement's parameter
/// names, so binding is quadratic in a statement's parameters: 10,400 of them
/// took 70 % of a 10,000-parcel import. Around 500 the search costs less than
/// the statement, and a large write still takes few statements.
pub const MAX_PARAMS_PER_STATEMENT: usize = 500;

/// How many rows of `cols` parameters of their own go in one multi-row
/// statement (at least one).
pub fn rows_per_statement(cols: usize) -> usize {
    (MAX_PARAMS_PER_STATEMENT / cols.max(1)).max(1)
}

/// The `VALUES` list of a multi-row statement: `rows` rows, each with `cols`
/// parameters of its own, numbered in bind order (`($1, …, $cols), …`),
/// followed by `shared` parameters bound once after every row's and repeated
/// in each row (the town, a timestamp). Bind each row's values in column
/// order, then the shared ones; list the shared columns last.
pub fn value_rows(rows: usize, cols: usize, shared: usize) -> String {
    let own = rows * cols;
    let mut sql = String::with_capacity(rows * (cols + shared) * 6);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        let marks = (1..=cols)
            .map(|c| r * cols + c)
            .chain((1..=shared).map(|s| own + s));
        for (i, n) in marks.enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&n.to_string());
        }
        sql.push(')');
    }
    sql
}

/// The dialect differences, in one place.
pub mod dialect {
    use super::{Db, Pool};
    use crate::error::Result;

    const SQLITE_GUARDS: [&str; 4] = [
        "CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events \
         BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events \
         BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS ledger_lines_no_update BEFORE UPDATE ON ledger_lines \
         BEGIN SELECT RAISE(ABORT, 'ledger_lines is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS ledger_lines_no_delete BEFORE DELETE ON ledger_lines \
         BEGIN SELECT RAISE(ABORT, 'ledger_lines is append-only'); END",
    ];

    const POSTGRES_GUARDS: [&str; 15] = [
        // Each start replaces the guards in place: `CREATE OR REPLACE TRIGGER` (PostgreSQL 14+)
        // takes a share lock that lets readers on, where dropping a trigger takes an exclusive one.
        "CREATE OR REPLACE FUNCTION munishare_append_only() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$",
        "CREATE OR REPLACE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events \
         FOR EACH ROW EXECUTE FUNCTION munishare_append_only()",
        // Journal lines keep their references per statement, not per row (docs/design/0002,
        // "Integrity of journal lines"): a row-level foreign key runs one query per line, two
        // thirds of the server's time in a large import. The statement-level check below does
        // the same work as one join over the distinct entries and accounts of the statement's
        // new lines (one probe per entry, not per line: 53 → 13 ms for 20,000 lines at
        // 10 million); lines are append-only, and an entry or account that lines point to can
        // be neither deleted nor re-keyed.
        "DO $$ DECLARE c record; BEGIN \
           FOR c IN SELECT conname FROM pg_constraint \
                    WHERE conrelid = 'ledger_lines'::regclass AND contype = 'f' LOOP \
             EXECUTE format('ALTER TABLE ledger_lines DROP CONSTRAINT %I', c.conname); \
           END LOOP; END $$",
        "CREATE OR REPLACE FUNCTION ledger_lines_references() RETURNS trigger LANGUAGE plpgsql AS $$ \
         DECLARE bad record; BEGIN \
           SELECT n.entry_id INTO bad FROM (SELECT DISTINCT municipality_id, entry_id FROM ledger_new_lines) n \
             WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e \
             WHERE e.municipality_id = n.municipality_id AND e.id = n.entry_id) LIMIT 1; \
           IF FOUND THEN RAISE EXCEPTION 'journal line of entry %, which is not in the town''s books', bad.entry_id \
             USING ERRCODE = 'foreign_key_violation'; END IF; \
           SELECT n.account_id INTO bad FROM (SELECT DISTINCT municipality_id, account_id FROM ledger_new_lines) n \
             WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a \
             WHERE a.municipality_id = n.municipality_id AND a.id = n.account_id) LIMIT 1; \
           IF FOUND THEN RAISE EXCEPTION 'journal line on account %, which is not in the town''s chart', bad.account_id \
             USING ERRCODE = 'foreign_key_violation'; END IF; \
           RETURN NULL; END $$",
        "CREATE OR REPLACE TRIGGER ledger_lines_references AFTER INSERT ON ledger_lines \
         REFERENCING NEW TABLE AS ledger_new_lines FOR EACH STATEMENT EXECUTE FUNCTION ledger_lines_references()",
        "CREATE OR REPLACE TRIGGER ledger_lines_append_only BEFORE UPDATE OR DELETE ON ledger_lines \
         FOR EACH ROW EXECUTE FUNCTION munishare_append_only()",
        "CREATE OR REPLACE FUNCTION ledger_keep_referenced() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.municipality_id = OLD.municipality_id THEN RETURN NEW; END IF; \
           IF (TG_TABLE_NAME = 'ledger_entries' AND EXISTS (SELECT 1 FROM ledger_lines l \
                 WHERE l.municipality_id = OLD.municipality_id AND l.entry_id = OLD.id)) \
              OR (TG_TABLE_NAME = 'ledger_accounts' AND EXISTS (SELECT 1 FROM ledger_lines l \
                 WHERE l.municipality_id = OLD.municipality_id AND l.account_id = OLD.id)) THEN \
             RAISE EXCEPTION '% % has journal lines', TG_TABLE_NAME, OLD.id USING ERRCODE = 'foreign_key_violation'; \
           END IF; \
           IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$",
        "CREATE OR REPLACE TRIGGER ledger_entries_keep_referenced BEFORE DELETE OR UPDATE OF municipality_id, id ON ledger_entries \
         FOR EACH ROW EXECUTE FUNCTION ledger_keep_referenced()",
        "CREATE OR REPLACE TRIGGER ledger_accounts_keep_referenced BEFORE DELETE OR UPDATE OF municipality_id, id ON ledger_accounts \
         FOR EACH ROW EXECUTE FUNCTION ledger_keep_referenced()",
        // Journal entries keep their town the same way (a third of the server's time in
        // writing entries was the row-level key's query per entry): checked once per
        // statement for inserts, per row for the (never made) change of an entry's town, and
        // a town with entries can be neither deleted nor re-keyed.
        "DO $$ DECLARE c record; BEGIN \
           FOR c IN SELECT conname FROM pg_constraint \
                    WHERE conrelid = 'ledger_entries'::regclass AND contype = 'f' \
                      AND confrelid = 'municipalities'::regclass LOOP \
             EXECUTE format('ALTER TABLE ledger_entries DROP CONSTRAINT %I', c.conname); \
           END LOOP; END $$",
        "CREATE OR REPLACE FUNCTION ledger_entries_town() RETURNS trigger LANGUAGE plpgsql AS $$ \
         DECLARE bad text; BEGIN \
           IF TG_LEVEL = 'ROW' THEN \
             IF NOT EXISTS (SELECT 1 FROM municipalities t WHERE t.id = NEW.municipality_id) THEN \
               bad := NEW.municipality_id; END IF; \
           ELSE \
             SELECT n.municipality_id INTO bad FROM (SELECT DISTINCT municipality_id FROM ledger_new_entries) n \
               WHERE NOT EXISTS (SELECT 1 FROM municipalities t WHERE t.id = n.municipality_id) LIMIT 1; \
           END IF; \
           IF bad IS NOT NULL THEN RAISE EXCEPTION 'journal entry of town %, which is not in the region', bad \
             USING ERRCODE = 'foreign_key_violation'; END IF; \
           IF TG_LEVEL = 'ROW' THEN RETURN NEW; END IF; RETURN NULL; END $$",
        "CREATE OR REPLACE TRIGGER ledger_entries_town AFTER INSERT ON ledger_entries \
         REFERENCING NEW TABLE AS ledger_new_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_town()",
        "CREATE OR REPLACE TRIGGER ledger_entries_town_change BEFORE UPDATE OF municipality_id ON ledger_entries \
         FOR EACH ROW EXECUTE FUNCTION ledger_entries_town()",
        "CREATE OR REPLACE FUNCTION municipalities_keep_entries() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN RETURN NEW; END IF; \
           IF EXISTS (SELECT 1 FROM ledger_entries e WHERE e.municipality_id = OLD.id) THEN \
             RAISE EXCEPTION 'town % has journal entries', OLD.id USING ERRCODE = 'foreign_key_violation'; \
           END IF; \
           IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$",
        "CREATE OR REPLACE TRIGGER municipalities_keep_entries BEFORE DELETE OR UPDATE OF id ON municipalities \
         FOR EACH ROW EXECUTE FUNCTION municipalities_keep_entries()",
    ];

    /// Refreshes PostgreSQL's statistics of `tables` after a bulk write has grown them (as its
    /// manual advises after loading data): with statistics from before the load, the planner
    /// takes a table of many rows for a few and filters where it should use the index. SQLite
    /// plans by its indexes and needs nothing. `tables` are the caller's constant names.
    pub async fn analyze(db: &Db, tables: &[&'static str]) -> Result<()> {
        if let Pool::Postgres(p) = &db.pool
            && !tables.is_empty()
        {
            let sql = format!("ANALYZE {}", tables.join(", "));
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(p).await?;
        }
        Ok(())
    }

    /// Makes the audit table append-only at the database level: an UPDATE or
    /// DELETE through SQL fails, so only someone who drops the trigger (an
    /// administrator with DDL rights) can tamper — and `audit verify` finds that.
    /// On PostgreSQL, also keeps the journal lines' references per statement
    /// instead of per row (SQLite keeps its row-level foreign keys, which cost it
    /// an index probe each).
    pub async fn install_guards(db: &Db) -> Result<()> {
        match &db.pool {
            Pool::Sqlite(p) => {
                for sql in SQLITE_GUARDS {
                    sqlx::query(sql).execute(p).await?;
                }
            }
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                for sql in POSTGRES_GUARDS {
                    sqlx::query(sql).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Removes the append-only guard. Only the tamper-detection test uses this,
    /// to play an administrator who edits the table behind the application's back.
    pub async fn drop_guards_for_tamper_test(db: &Db) -> Result<()> {
        let statements: &[&'static str] = match &db.pool {
            Pool::Sqlite(_) => &[
                "DROP TRIGGER IF EXISTS audit_events_no_update",
                "DROP TRIGGER IF EXISTS audit_events_no_delete",
            ],
            Pool::Postgres(_) => {
                &["DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events"]
            }
        };
        for sql in statements {
            match &db.pool {
                Pool::Sqlite(p) => sqlx::query(*sql).execute(p).await.map(|_| ())?,
                Pool::Postgres(p) => sqlx::query(*sql).execute(p).await.map(|_| ())?,
            }
        }
        Ok(())
    }
}

/// Fresh databases for tests: a temporary SQLite file, or a new PostgreSQL
/// database created on the server named by `MUNISHARE_TEST_POSTGRES_URL` and
/// dropped afterwards.
pub mod testing {
    use super::Db;
    use crate::error::{Error, Result};

    /// A database that exists for one test.
    #[derive(Debug)]
    pub struct TestDb {
        /// The migrated database.
        pub db: Db,
        /// The URL it was opened with.
        pub url: String,
        cleanup: Cleanup,
    }

    #[derive(Debug)]
    enum Cleanup {
        SqliteDir(std::path::PathBuf),
        Postgres { admin_url: String, name: String },
    }

    /// Which backend a test runs on.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Backend {
        /// A temporary SQLite file.
        Sqlite,
        /// A fresh PostgreSQL database.
        Postgres,
    }

    /// The PostgreSQL server for tests, if configured. When `MUNISHARE_REQUIRE_POSTGRES`
    /// is set (CI), a missing URL is an error rather than a skip.
    pub fn postgres_admin_url() -> Result<Option<String>> {
        match std::env::var("MUNISHARE_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Ok(Some(url)),
            _ if std::env::var_os("MUNISHARE_REQUIRE_POSTGRES").is_some() => Err(Error::Internal(
                "MUNISHARE_REQUIRE_POSTGRES is set but MUNISHARE_TEST_POSTGRES_URL is not".into(),
            )),
            _ => Ok(None),
        }
    }

    impl TestDb {
        /// Creates and migrates a fresh database; `None` when the backend is
        /// PostgreSQL and no test server is configured.
        pub async fn create(backend: Backend) -> Result<Option<Self>> {
            match backend {
                Backend::Sqlite => {
                    let dir = std::env::temp_dir()
                        .join(format!("munishare-test-{}", uuid::Uuid::now_v7().simple()));
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| Error::Internal(format!("temp dir: {e}")))?;
                    let url = format!("sqlite://{}", dir.join("test.db").display());
                    let db = Db::connect(&url).await?;
                    db.migrate().await?;
                    Ok(Some(Self {
                        db,
                        url,
                        cleanup: Cleanup::SqliteDir(dir),
                    }))
                }
                Backend::Postgres => {
                    let Some(admin_url) = postgres_admin_url()? else {
                        return Ok(None);
                    };
                    let name = format!("munishare_test_{}", uuid::Uuid::now_v7().simple());
                    let admin = sqlx::PgPool::connect(&admin_url).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                        .execute(&admin)
                        .await?;
                    admin.close().await;
                    let mut url = url::Url::parse(&admin_url).map_err(|e| {
                        Error::invalid("MUNISHARE_TEST_POSTGRES_URL", e.to_string())
                    })?;
                    url.set_path(&name);
                    let url = url.to_string();
                    let db = Db::connect(&url).await?;
                    db.migrate().await?;
                    Ok(Some(Self {
                        db,
                        url,
                        cleanup: Cleanup::Postgres { admin_url, name },
                    }))
                }
            }
        }

        /// Closes the pool and removes the database.
        pub async fn destroy(self) -> Result<()> {
            self.db.close().await;
            match self.cleanup {
                Cleanup::SqliteDir(dir) => {
                    let _ = std::fs::remove_dir_all(dir);
                }
                Cleanup::Postgres { admin_url, name } => {
                    let admin = sqlx::PgPool::connect(&admin_url).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&admin)
                    .await?;
                    admin.close().await;
                }
            }
            Ok(())
        }
    }
}

/// Builds a statement whose shape depends on the caller's filters, while every
/// value still travels as a bind parameter (`$1`, `$2`, …) — never as SQL text.
#[derive(Debug, Default, Clone)]
pub struct SqlBuilder {
    sql: String,
    args: Vec<String>,
}

impl SqlBuilder {
    /// Starts with a fixed SQL fragment.
    pub fn new(sql: &'static str) -> Self {
        Self {
            sql: sql.to_owned(),
            args: Vec::new(),
        }
    }

    /// Appends a fixed SQL fragment. Only `'static` text can be appended, so
    /// user input cannot end up in the statement.
    pub fn push(&mut self, sql: &'static str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder and binds `value` to it.
    pub fn bind(&mut self, value: impl Into<String>) -> &mut Self {
        self.args.push(value.into());
        self.sql.push('$');
        self.sql.push_str(&self.args.len().to_string());
        self
    }

    /// Appends `($1, $2, …)` binding each of `values`, for `IN` (the caller makes sure there is
    /// at least one: `IN ()` is not SQL).
    pub fn bind_list<V: Into<String>>(&mut self, values: impl IntoIterator<Item = V>) -> &mut Self {
        self.sql.push('(');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.bind(v);
        }
        self.sql.push(')');
        self
    }

    /// Appends a decimal literal (page sizes); numbers cannot carry SQL.
    pub fn push_number(&mut self, n: u32) -> &mut Self {
        self.sql.push_str(&n.to_string());
        self
    }

    /// The statement text and its text arguments.
    pub fn build(&self) -> (String, &[String]) {
        (self.sql.clone(), &self.args)
    }
}

#[cfg(test)]
mod tests {
    use super::{rows_per_statement, value_rows};

    #[test]
    fn value_rows_number_each_rows_parameters_then_the_shared_ones() {
        assert_eq!(value_rows(1, 2, 0), "($1, $2)");
        assert_eq!(
            value_rows(2, 3, 2),
            "($1, $2, $3, $7, $8), ($4, $5, $6, $7, $8)"
        );
        assert_eq!(value_rows(0, 3, 1), "");
        assert_eq!(rows_per_statement(7), 71);
        assert_eq!(rows_per_statement(26), 19);
        assert_eq!(rows_per_statement(900), 1);
        assert_eq!(rows_per_statement(0), 500);
    }
}
