//! Each town's document types: a name, an optional retention series code, and
//! typed custom fields whose values every document of the type must satisfy.

use munishare_platform::access::ServiceScope;
use munishare_platform::db::{Executor, Tx};
use munishare_platform::types::{Permission, Timestamp};
use munishare_platform::{Error, Result, audit, dispatch, execute};
use serde::{Deserialize, Serialize};

use crate::{change, new_id, opt_text, require};

/// The kind of a custom field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// Free text (up to 500 characters).
    Text,
    /// A whole number (counts, permit numbers); amounts of money are not offered as floats.
    Number,
    /// A date, `YYYY-MM-DD`.
    Date,
    /// Yes or no.
    Boolean,
}

/// A custom field of a document type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldDef {
    /// 1 to 40 characters: lowercase letters, digits and `_`, starting with a letter.
    pub name: String,
    /// What values it takes.
    pub kind: FieldKind,
    /// Whether every document of the type must have it.
    #[serde(default)]
    pub required: bool,
}

/// A document type as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentType {
    /// Id.
    pub id: String,
    /// Name, unique in the town, e.g. `Meeting minutes`.
    pub name: String,
    /// The retention series code it maps to, e.g. `M1-250`: a series of the town's catalog
    /// (the region's or its own); a code entered before the catalog existed shows as entered.
    pub retention_series: Option<String>,
    /// The catalog series' id (absent: no series, or a code entered before the catalog that is not in it).
    pub retention_series_id: Option<String>,
    /// Its custom fields.
    pub fields: Vec<FieldDef>,
    /// How many documents have this type.
    pub documents: i64,
}

/// A document type to create or change.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct DocumentTypeIn {
    /// 1 to 100 characters, unique in the town.
    pub name: String,
    /// Optional retention series: the code (e.g. `M3-120`) or id of a series in the town's
    /// catalog (422 naming `retention_series` when it is not there).
    #[serde(default)]
    pub retention_series: Option<String>,
    /// Custom fields (at most 30, names unique).
    #[serde(default)]
    pub fields: Vec<FieldDef>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    retention_series: Option<String>,
    retention_series_id: Option<String>,
    fields_json: String,
    documents: i64,
}

impl Row {
    fn into_type(self) -> Result<DocumentType> {
        Ok(DocumentType {
            fields: serde_json::from_str(&self.fields_json)
                .map_err(|e| Error::Internal(format!("document type fields: {e}")))?,
            id: self.id,
            name: self.name,
            retention_series: self.retention_series,
            retention_series_id: self.retention_series_id,
            documents: self.documents,
        })
    }
}

const SELECT: &str = "SELECT t.id, t.name, COALESCE(s.code, t.retention_series) AS retention_series, t.retention_series_id, t.fields_json, \
    (SELECT COUNT(*) FROM records_documents d WHERE d.municipality_id = t.municipality_id AND d.type_id = t.id) AS documents \
    FROM records_document_types t LEFT JOIN records_retention_series s ON s.id = t.retention_series_id WHERE t.municipality_id = $1";

/// The town's document types, by name.
pub async fn list(scope: &ServiceScope, ex: &mut impl Executor) -> Result<Vec<DocumentType>> {
    crate::require_reader(scope)?;
    let sql = format!("{SELECT} ORDER BY t.name");
    let rows: Vec<Row> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).fetch_all(c).await)?;
    rows.into_iter().map(Row::into_type).collect()
}

/// One document type by id or name; not found names `field`.
pub async fn find(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    field: &str,
    id_or_name: &str,
) -> Result<DocumentType> {
    crate::require_reader(scope)?;
    let sql = format!("{SELECT} AND (t.id = $2 OR LOWER(t.name) = LOWER($2))");
    let row: Option<Row> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(id_or_name.trim()).fetch_optional(c).await)?;
    row.map(Row::into_type).transpose()?.ok_or_else(|| {
        Error::invalid(
            field,
            format!(
                "there is no document type '{}' in {}",
                id_or_name.chars().take(60).collect::<String>(),
                scope.town().name
            ),
        )
    })
}

/// Gets a type by id for the type routes: another town's or an unknown one is 404.
pub async fn get(scope: &ServiceScope, ex: &mut impl Executor, id: &str) -> Result<DocumentType> {
    crate::require_reader(scope)?;
    let sql = format!("{SELECT} AND t.id = $2");
    let row: Option<Row> = dispatch!(ex, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(scope.municipality_id()).bind(id).fetch_optional(c).await)?;
    row.map(Row::into_type).transpose()?.ok_or(Error::NotFound {
        what: "document type",
    })
}

fn check(req: &DocumentTypeIn) -> Result<(String, Option<String>, Vec<FieldDef>)> {
    let name = opt_text("name", Some(&req.name), 100)?
        .ok_or_else(|| Error::invalid("name", "a document type needs a name"))?;
    let series = opt_text("retention_series", req.retention_series.as_deref(), 40)?;
    if req.fields.len() > 30 {
        return Err(Error::invalid("fields", "at most 30 custom fields"));
    }
    let mut fields: Vec<FieldDef> = Vec::new();
    for (i, f) in req.fields.iter().enumerate() {
        let n = f.name.trim();
        let ok = (1..=40).contains(&n.len())
            && n.starts_with(|c: char| c.is_ascii_lowercase())
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(Error::invalid(
                format!("fields[{i}].name"),
                "use 1 to 40 lowercase letters, digits or _, starting with a letter",
            ));
        }
        if fields.iter().any(|x| x.name == n) {
            return Err(Error::invalid(
                format!("fields[{i}].name"),
                format!("'{n}' appears twice"),
            ));
        }
        fields.push(FieldDef {
            name: n.to_owned(),
            kind: f.kind,
            required: f.required,
        });
    }
    Ok((name, series, fields))
}

/// The catalog series a type refers to (its code and id), or a 422 naming `retention_series`.
async fn catalog_series(
    scope: &ServiceScope,
    tx: &mut Tx,
    series: Option<String>,
) -> Result<(Option<String>, Option<String>)> {
    match series {
        None => Ok((None, None)),
        Some(code) => {
            let s = crate::retention::find_for_town(scope, tx, "retention_series", &code).await?;
            Ok((Some(s.code), Some(s.id)))
        }
    }
}

/// Refuses a name another type of the town has, whatever its case.
async fn unique_name(
    scope: &ServiceScope,
    tx: &mut Tx,
    name: &str,
    except: Option<&str>,
) -> Result<()> {
    let n: i64 = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM records_document_types WHERE municipality_id = $1 AND LOWER(name) = LOWER($2) AND id <> $3")
        .bind(scope.municipality_id()).bind(name).bind(except.unwrap_or("")).fetch_one(c).await)?;
    if n > 0 {
        Err(Error::conflict(
            "name",
            format!("{} already has a document type '{name}'", scope.town().name),
        ))
    } else {
        Ok(())
    }
}

/// Creates a document type (administer); audited.
pub async fn create(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    req: &DocumentTypeIn,
) -> Result<DocumentType> {
    require(scope, Permission::Administer)?;
    let (name, series, fields) = check(req)?;
    let (series, series_id) = catalog_series(scope, tx, series).await?;
    unique_name(scope, tx, &name, None).await?;
    let id = new_id();
    let fields_json = serde_json::to_string(&fields).map_err(|e| Error::Internal(e.to_string()))?;
    execute!(tx, c => sqlx::query(
        "INSERT INTO records_document_types (municipality_id, id, name, retention_series, retention_series_id, fields_json, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $7, $5, $6, $6)")
        .bind(scope.municipality_id()).bind(&id).bind(&name).bind(&series).bind(&fields_json)
        .bind(now.to_db()).bind(&series_id).execute(c).await)
    .map_err(|e| Error::from(e).on_conflict("name", format!("{} already has a document type '{name}'", scope.town().name)))?;
    let t = DocumentType {
        id,
        name,
        retention_series: series,
        retention_series_id: series_id,
        fields,
        documents: 0,
    };
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.type.create",
            "records_document_type",
            &t.id,
            None,
            Some(serde_json::json!(t)),
        ),
    )
    .await?;
    Ok(t)
}

/// Changes a document type (administer); removing a field keeps the values
/// documents hold (they are no longer checked); audited.
pub async fn update(
    scope: &ServiceScope,
    tx: &mut Tx,
    now: Timestamp,
    id: &str,
    req: &DocumentTypeIn,
) -> Result<DocumentType> {
    require(scope, Permission::Administer)?;
    let before = get(scope, tx, id).await?;
    let (name, series, fields) = check(req)?;
    // A code entered before the catalog existed may stay as it is until the type's series is changed.
    let (series, series_id) = if before.retention_series_id.is_none()
        && series.is_some()
        && series == before.retention_series
    {
        (series, None)
    } else {
        catalog_series(scope, tx, series).await?
    };
    unique_name(scope, tx, &name, Some(id)).await?;
    let fields_json = serde_json::to_string(&fields).map_err(|e| Error::Internal(e.to_string()))?;
    execute!(tx, c => sqlx::query(
        "UPDATE records_document_types SET name = $3, retention_series = $4, fields_json = $5, updated_at = $6, retention_series_id = $7 \
         WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(id).bind(&name).bind(&series).bind(&fields_json)
        .bind(now.to_db()).bind(&series_id).execute(c).await)
    .map_err(|e| Error::from(e).on_conflict("name", format!("{} already has a document type '{name}'", scope.town().name)))?;
    if series_id != before.retention_series_id {
        crate::retention::recompute(
            tx,
            &crate::retention::Scope::Town(scope.municipality_id().as_str().to_owned()),
        )
        .await?;
    }
    let after = DocumentType {
        id: before.id.clone(),
        name,
        retention_series: series,
        retention_series_id: series_id,
        fields,
        documents: before.documents,
    };
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.type.update",
            "records_document_type",
            id,
            Some(serde_json::json!(before)),
            Some(serde_json::json!(after)),
        ),
    )
    .await?;
    Ok(after)
}

/// Deletes a document type no document has (administer); audited.
pub async fn delete(scope: &ServiceScope, tx: &mut Tx, now: Timestamp, id: &str) -> Result<()> {
    require(scope, Permission::Administer)?;
    let before = get(scope, tx, id).await?;
    if before.documents > 0 {
        return Err(Error::conflict(
            "type",
            format!(
                "'{}' is the type of {} documents; change their type first",
                before.name, before.documents
            ),
        ));
    }
    execute!(tx, c => sqlx::query("DELETE FROM records_document_types WHERE municipality_id = $1 AND id = $2")
        .bind(scope.municipality_id()).bind(id).execute(c).await)?;
    audit::record(
        tx,
        now,
        scope.actor(),
        change(
            scope,
            "records.type.delete",
            "records_document_type",
            id,
            Some(serde_json::json!(before)),
            None,
        ),
    )
    .await?;
    Ok(())
}

/// Checks custom field values against a type's fields; returns them normalised
/// (dates as `YYYY-MM-DD`, numbers as integers). Errors name `fields.<name>`.
/// `require_all` enforces the required fields: when a document's details are
/// saved, not when a scan is first filed (it is indexed after it lands).
pub fn check_values(
    ty: Option<&DocumentType>,
    values: &serde_json::Map<String, serde_json::Value>,
    require_all: bool,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    use serde_json::Value;
    let defs: &[FieldDef] = ty.map_or(&[], |t| &t.fields);
    let mut out = serde_json::Map::new();
    for (k, v) in values {
        let field = format!("fields.{}", k.chars().take(40).collect::<String>());
        let Some(def) = defs.iter().find(|d| &d.name == k) else {
            return Err(Error::invalid(
                field,
                match ty {
                    Some(t) => format!("'{}' has no such field", t.name),
                    None => "a document without a type has no custom fields".to_owned(),
                },
            ));
        };
        if v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()) {
            continue;
        }
        let norm = match def.kind {
            FieldKind::Text => match v {
                Value::String(s) => {
                    Value::String(opt_text(&field, Some(s), 500)?.unwrap_or_default())
                }
                _ => return Err(Error::invalid(field, "must be text")),
            },
            FieldKind::Number => match v {
                Value::Number(n) if n.is_i64() => v.clone(),
                Value::String(s) => s
                    .trim()
                    .replace(',', "")
                    .parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| {
                        Error::invalid(
                            &field,
                            format!(
                                "'{}' is not a whole number",
                                s.chars().take(40).collect::<String>()
                            ),
                        )
                    })?,
                _ => return Err(Error::invalid(field, "must be a whole number")),
            },
            FieldKind::Date => match v {
                Value::String(s) => Value::String(crate::parse_date(&field, s)?.to_string()),
                _ => return Err(Error::invalid(field, "must be a date (YYYY-MM-DD)")),
            },
            FieldKind::Boolean => match v {
                Value::Bool(_) => v.clone(),
                Value::String(s) if matches!(s.trim(), "true" | "yes" | "on") => Value::Bool(true),
                Value::String(s) if matches!(s.trim(), "false" | "no" | "off") => {
                    Value::Bool(false)
                }
                _ => return Err(Error::invalid(field, "must be true or false")),
            },
        };
        out.insert(k.clone(), norm);
    }
    for d in defs.iter().filter(|d| d.required && require_all) {
        if !out.contains_key(&d.name) {
            return Err(Error::invalid(
                format!("fields.{}", d.name),
                "is required by the document type",
            ));
        }
    }
    Ok(out)
}
