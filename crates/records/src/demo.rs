//! The records demo: a few document types and documents in every demo town
//! that subscribes to records, filed through the same service functions as
//! uploads (streamed, hashed, deduplicated, audited), as the demo seed
//! (`platform::demo::seed_scope`).

use bytes::Bytes;
use munishare_platform::blob::BlobStore;
use munishare_platform::db::Db;
use munishare_platform::types::{Service, Timestamp};
use munishare_platform::{Error, Result};

use crate::documents::{self, DocumentIn};
use crate::ingest::{self, IngestError};
use crate::types::{self, DocumentTypeIn, FieldDef, FieldKind};

/// The demo towns that subscribe to records.
pub const TOWNS: [&str; 3] = ["hartford", "west-hartford", "east-hartford"];

/// (file name, title, type, department code, correspondent, date, tags, text)
type Doc = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const DOCS: [Doc; 6] = [
    (
        "bos-minutes-2026-10-06.txt",
        "Board of Selectmen minutes, October 6, 2026",
        "Meeting minutes",
        Some("CLK"),
        "Town Clerk",
        "2026-10-06",
        "minutes,board of selectmen",
        "MINUTES OF THE REGULAR MEETING OF THE BOARD OF SELECTMEN\nOctober 6, 2026, 7:00 p.m., Town Hall\n\n1. Call to order.\n2. Approval of the minutes of September 15, 2026.\n3. Public comment.\n4. Award of the road resurfacing bid to the lowest responsible bidder.\n5. Adjournment at 8:42 p.m.\n",
    ),
    (
        "bos-minutes-2026-11-03.txt",
        "Board of Selectmen minutes, November 3, 2026",
        "Meeting minutes",
        Some("CLK"),
        "Town Clerk",
        "2026-11-03",
        "minutes,board of selectmen",
        "MINUTES OF THE REGULAR MEETING OF THE BOARD OF SELECTMEN\nNovember 3, 2026, 7:00 p.m., Town Hall\n\n1. Call to order.\n2. Budget transfer for winter sand and salt.\n3. Appointment to the Conservation Commission.\n4. Adjournment at 8:05 p.m.\n",
    ),
    (
        "permit-2026-0412.txt",
        "Building permit 2026-0412, 12 Main Street",
        "Building permit",
        Some("DPW"),
        "R. Alvarez, contractor",
        "2026-09-18",
        "permits",
        "BUILDING PERMIT 2026-0412\nLocation: 12 Main Street\nWork: rear deck, 12 x 16 ft, pressure-treated framing\nEstimated cost: $8,500\nInspections: footing, framing, final\n",
    ),
    (
        "invoice-44817.txt",
        "Invoice 44817, road salt",
        "Invoice",
        Some("FIN"),
        "Northeast Salt Supply",
        "2026-11-10",
        "invoices,winter operations",
        "INVOICE 44817\nNortheast Salt Supply\nBill to: Department of Public Works\n120 tons treated road salt at $78.50 per ton\nTotal due: $9,420.00, net 30\n",
    ),
    (
        "retention-policy-memo.txt",
        "Memo: applying the M1–M16 retention schedules",
        "Memo",
        None,
        "Records Officer",
        "2026-08-01",
        "retention",
        "MEMORANDUM\nTo: All departments\nFrom: Records Officer\nRe: Municipal retention schedules M1-M16\n\nRecords may be destroyed only after the State Library approves Form RC-075. Minutes, deeds and bylaws are permanent.\n",
    ),
    // The same bytes as the first document under another name: stored once (deduplicated).
    (
        "bos-minutes-2026-10-06-copy.txt",
        "Board of Selectmen minutes, October 6, 2026 (copy sent to the library)",
        "Meeting minutes",
        Some("CLK"),
        "Town Clerk",
        "2026-10-06",
        "minutes",
        "MINUTES OF THE REGULAR MEETING OF THE BOARD OF SELECTMEN\nOctober 6, 2026, 7:00 p.m., Town Hall\n\n1. Call to order.\n2. Approval of the minutes of September 15, 2026.\n3. Public comment.\n4. Award of the road resurfacing bid to the lowest responsible bidder.\n5. Adjournment at 8:42 p.m.\n",
    ),
];

fn ty(name: &str, series: Option<&str>, fields: &[(&str, FieldKind, bool)]) -> DocumentTypeIn {
    DocumentTypeIn {
        name: name.to_owned(),
        retention_series: series.map(str::to_owned),
        fields: fields
            .iter()
            .map(|(n, k, r)| FieldDef {
                name: (*n).to_owned(),
                kind: *k,
                required: *r,
            })
            .collect(),
    }
}

/// The October minutes, and the library's copy of them, which the demo links together.
const ORIGINAL: &str = "bos-minutes-2026-10-06.txt";
const COPY: &str = "bos-minutes-2026-10-06-copy.txt";

/// Seeds every demo town that subscribes to records; returns how many documents were filed.
pub async fn seed(db: &Db, blobs: &BlobStore, now: Timestamp) -> Result<usize> {
    let mut filed = 0;
    // A few illustrative region series (made-up DEMO- codes, labelled as such) for the demo types.
    let mut tx = db.begin().await?;
    crate::retention::seed_illustrative(&mut tx, now).await?;
    tx.commit().await?;
    for slug in TOWNS {
        let scope = match munishare_platform::demo::seed_scope(
            db,
            now.datetime().date(),
            slug,
            Service::Records,
        )
        .await
        {
            Ok(s) => s,
            Err(Error::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        let mut tx = db.begin().await?;
        for t in [
            ty(
                "Meeting minutes",
                Some("DEMO-M1-MINUTES"),
                &[
                    ("board", FieldKind::Text, false),
                    ("approved", FieldKind::Boolean, false),
                ],
            ),
            ty(
                "Building permit",
                None,
                &[
                    ("permit_number", FieldKind::Text, true),
                    ("estimated_cost_dollars", FieldKind::Number, false),
                ],
            ),
            ty(
                "Invoice",
                Some("DEMO-M3-BILLS"),
                &[
                    ("invoice_number", FieldKind::Text, true),
                    ("due_date", FieldKind::Date, false),
                ],
            ),
            ty("Memo", None, &[]),
        ] {
            types::create(&scope, &mut tx, now, &t).await?;
        }
        tx.commit().await?;
        let (mut original, mut copy) = (None, None);
        for (file, title, type_name, dept, corr, date, tags, text) in DOCS {
            let mut fields = serde_json::Map::new();
            match type_name {
                "Building permit" => {
                    fields.insert("permit_number".into(), "2026-0412".into());
                    fields.insert("estimated_cost_dollars".into(), 8500.into());
                }
                "Invoice" => {
                    fields.insert("invoice_number".into(), "44817".into());
                    fields.insert("due_date".into(), "2026-12-10".into());
                }
                "Meeting minutes" => {
                    fields.insert("board".into(), "Board of Selectmen".into());
                    fields.insert("approved".into(), true.into());
                }
                _ => {}
            }
            let meta = {
                let mut c = db.read().await?;
                documents::check_meta(
                    &scope,
                    &mut c,
                    &DocumentIn {
                        title: Some(title.to_owned()),
                        doc_type: Some(type_name.to_owned()),
                        department: dept.map(str::to_owned),
                        correspondent: Some(corr.to_owned()),
                        document_date: Some(date.to_owned()),
                        confidential: false,
                        fields,
                        tags: tags.split(',').map(str::to_owned).collect(),
                    },
                )
                .await?
            };
            let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(
                Bytes::from_static(text.as_bytes()),
            )]);
            let staged = ingest::stage(&scope, db, blobs, now, file, Some(text.len() as u64), body)
                .await
                .map_err(|e| match e {
                    IngestError::Other(e) => e,
                    other => Error::Internal(other.to_string()),
                })?;
            let id = documents::file(&scope, db, blobs, now, &staged, &meta)
                .await?
                .document
                .id;
            filed += 1;
            match file {
                ORIGINAL => original = Some(id),
                COPY => copy = Some(id),
                _ => {}
            }
        }
        // The library's copy points to the minutes it copies (one link, seen from both).
        if let (Some(copy), Some(original)) = (copy, original) {
            let mut tx = db.begin().await?;
            crate::links::add(
                &scope,
                &mut tx,
                now,
                &copy,
                &crate::links::LinkIn {
                    kind: crate::links::DOCUMENT.into(),
                    target: original,
                    label: None,
                },
            )
            .await?;
            tx.commit().await?;
        }
    }
    Ok(filed)
}
