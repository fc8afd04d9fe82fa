//! Notices of assessment (CGS 12-55: the assessor notifies an owner of an
//! increase within ten days of signing the grand list): one page per account
//! with the assessment on this list and the last, how the market value was
//! reached (the adopted model run's explanation: its components and, for a
//! market model, the five most similar sales with the model's adjustments)
//! and the owner's appeal rights with the petition deadline of the list.

use std::collections::HashMap;

use munishare_platform::access::ServiceScope;
use munishare_platform::db::Executor;
use munishare_platform::types::{Permission, format_date, parse_date};
use munishare_platform::{Error, Result};
use munishare_taxbill as tb;
use serde::Deserialize;
use time::Date;

use crate::appeals;
use crate::grand_list::{self, GrandList, Item};
use crate::model_runs::{self, CompLine, Comparables, Explanation, ParcelExplanation};
use crate::parcels::{self, CLASSES, require};

/// At most this many notices in one request (a larger mailing is made in parts).
pub const MAX_NOTICES: usize = 500;

/// What to print.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct NoticesIn {
    /// The date on the notice (`YYYY-MM-DD`): not before the list was signed, not after the appeal deadline.
    pub notice_date: String,
    /// The office owners should call, e.g. "Assessor's Office".
    pub office_name: String,
    /// Its address, 1 to 3 lines separated by newlines.
    pub office_address: String,
    /// Its telephone.
    pub office_phone: String,
    /// The accounts (default: every real-estate account, or every changed one).
    #[serde(default)]
    pub accounts: Option<Vec<String>>,
    /// Only accounts whose assessment differs from the previous list's (or that are new on it).
    #[serde(default)]
    pub changed_only: bool,
}

fn dollars(cents: i64) -> i64 {
    (cents + 50).div_euclid(100)
}

fn lines(item: &Item) -> Vec<tb::AssessmentLine> {
    vec![
        tb::AssessmentLine {
            label: if item.pa490.is_empty() {
                "Land".into()
            } else {
                "Land (PA 490 use value)".into()
            },
            assessed_dollars: dollars(item.land_cents),
        },
        tb::AssessmentLine {
            label: "Buildings".into(),
            assessed_dollars: dollars(item.building_cents),
        },
    ]
}

fn is_real_estate(item: &Item) -> bool {
    !item.parcel_id.is_empty() && CLASSES.contains(&item.property_class.as_str())
}

/// The office owners should call, checked; the error names the field.
fn checked_office(input: &NoticesIn) -> Result<tb::Office> {
    let name = input.office_name.trim();
    if name.is_empty() {
        return Err(Error::invalid("office_name", "is empty"));
    }
    let address: Vec<String> = input
        .office_address
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if !(1..=3).contains(&address.len()) {
        return Err(Error::invalid("office_address", "give 1 to 3 lines"));
    }
    let phone = input.office_phone.trim();
    if phone.is_empty() {
        return Err(Error::invalid("office_phone", "is empty"));
    }
    Ok(tb::Office {
        name: name.to_owned(),
        address_lines: address,
        phone: phone.to_owned(),
    })
}

/// The notice date: on or after the signing, on or before the appeal deadline.
fn checked_date(input: &NoticesIn, gl: &GrandList, deadline: Date) -> Result<Date> {
    let date = parse_date("notice_date", input.notice_date.trim())?;
    let signed = parse_date("signed_at", gl.signed_at.get(..10).unwrap_or(""))?;
    if date < signed {
        return Err(Error::invalid(
            "notice_date",
            format!(
                "is before the list was signed ({}); notices follow the signing",
                format_date(signed)
            ),
        ));
    }
    if date > deadline {
        return Err(Error::invalid(
            "notice_date",
            format!(
                "is after the appeal deadline ({}); an owner must have time to appeal",
                format_date(deadline)
            ),
        ));
    }
    Ok(date)
}

/// How the value was reached, and the comparable sales shown with it.
fn method(
    x: Option<&ParcelExplanation>,
    p: &parcels::Parcel,
    comps: Vec<CompLine>,
) -> (String, Vec<tb::ValueLine>, Vec<CompLine>) {
    let line = |label: &str, dollars: i64| tb::ValueLine {
        label: label.to_owned(),
        dollars,
    };
    let whole = |x: f64| x.round() as i64;
    let Some(x) = x else {
        return (
            "The value of record set by the assessor: no adopted valuation model values this \
             property."
                .to_owned(),
            vec![
                line("Land", dollars(p.land_cents)),
                line("Buildings", dollars(p.building_cents)),
            ],
            Vec::new(),
        );
    };
    let split = [
        line("of which land", dollars(x.land_cents)),
        line("of which buildings", dollars(x.building_cents)),
    ];
    match &x.explanation {
        Explanation::Cost { breakdown: b } => {
            let mut v = vec![line("Land: the site", whole(b.land_site))];
            if whole(b.land_extra) != 0 {
                v.push(line("Land: acreage beyond the site", whole(b.land_extra)));
            }
            v.push(line("Buildings: replacement cost new", whole(b.rcn)));
            v.push(line(
                &format!(
                    "Depreciation ({:.0} %, age {:.0} years and condition)",
                    b.depreciation_pct * 100.0,
                    b.age
                ),
                -whole(b.depreciation),
            ));
            v.push(line("Market value", whole(b.total)));
            (
                format!(
                    "Valued by the cost approach of the revaluation \"{}\" as of {}: the land, plus \
                     what it would cost to build the buildings new, less their depreciation.",
                    x.run_name, x.valuation_date
                ),
                v,
                Vec::new(),
            )
        }
        Explanation::Regression { .. } => {
            let mut v = vec![line("Market value by the model", dollars(x.value_cents))];
            v.extend(split);
            (
                format!(
                    "Valued by the market model of the revaluation \"{}\" as of {}: a regression of \
                     qualified sale prices on the properties' characteristics. The most similar \
                     sales below are adjusted to this property with the model's coefficients.",
                    x.run_name, x.valuation_date
                ),
                v,
                comps,
            )
        }
        Explanation::Comparables { comps: used, .. } => {
            let mut v = vec![line(
                "Market value (weighted adjusted prices)",
                dollars(x.value_cents),
            )];
            v.extend(split);
            (
                format!(
                    "Valued from the most similar qualified sales of the revaluation \"{}\" as of {}, \
                     each adjusted to this property with the market model's coefficients and \
                     weighted by its similarity.",
                    x.run_name, x.valuation_date
                ),
                v,
                used.clone(),
            )
        }
    }
}

fn comparable(c: &CompLine) -> Result<tb::ComparableSale> {
    let price = c.price.round() as i64;
    let adjusted = c.adjusted_price.round() as i64;
    Ok(tb::ComparableSale {
        location: c.location.clone(),
        sale_date: parse_date("sale_date", &c.sale_date)?,
        price_dollars: price,
        adjustment_dollars: adjusted - price,
        adjusted_dollars: adjusted,
    })
}

/// The notices of a signed grand list's real-estate accounts, in account order
/// (or the order asked). Refused, naming the field, when the list is not
/// signed, an account is unknown, none is left to print or there are too many.
pub async fn notices(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
    input: &NoticesIn,
) -> Result<Vec<tb::Notice>> {
    require(scope, Permission::View)?;
    let gl = grand_list::get(scope, ex, list_year).await?;
    if !grand_list::is_signed(scope, ex, list_year).await? {
        return Err(Error::conflict(
            "list_year",
            format!(
                "the grand list of {list_year} is not signed; a notice gives the appeal deadline, which follows the signing"
            ),
        ));
    }
    let office = checked_office(input)?;
    let deadline = appeals::petition_deadline(&gl)?;
    let notice_date = checked_date(input, &gl, deadline)?;
    let year = i32::try_from(list_year).map_err(|_| Error::invalid("list_year", "out of range"))?;
    let items: Vec<Item> = grand_list::items(scope, ex, list_year, None)
        .await?
        .into_iter()
        .filter(is_real_estate)
        .collect();
    let previous: HashMap<String, Item> = match grand_list::get(scope, ex, list_year - 1).await {
        Ok(_) => grand_list::items(scope, ex, list_year - 1, None)
            .await?
            .into_iter()
            .filter(is_real_estate)
            .map(|i| (i.account.clone(), i))
            .collect(),
        Err(Error::NotFound { .. }) => HashMap::new(),
        Err(e) => return Err(e),
    };
    let mut chosen: Vec<&Item> = match &input.accounts {
        Some(accounts) if !accounts.is_empty() => {
            let by_account: HashMap<&str, &Item> =
                items.iter().map(|i| (i.account.as_str(), i)).collect();
            accounts
                .iter()
                .map(|a| {
                    by_account.get(a.trim()).copied().ok_or_else(|| {
                        Error::invalid(
                            "accounts",
                            format!("{a} is not a real-estate account on the {list_year} list"),
                        )
                    })
                })
                .collect::<Result<_>>()?
        }
        _ => items.iter().collect(),
    };
    if input.changed_only {
        chosen.retain(|i| {
            previous
                .get(&i.account)
                .is_none_or(|p| p.gross_cents != i.gross_cents)
        });
    }
    if chosen.is_empty() {
        return Err(Error::invalid(
            "accounts",
            "no account to notify: no real-estate account on the list, or none changed",
        ));
    }
    if chosen.len() > MAX_NOTICES {
        return Err(Error::invalid(
            "accounts",
            format!(
                "{} notices asked for; print at most {MAX_NOTICES} at a time (choose accounts)",
                chosen.len()
            ),
        ));
    }
    let mut models: HashMap<String, Option<Comparables>> = HashMap::new();
    let mut out = Vec::with_capacity(chosen.len());
    for item in chosen {
        let p = parcels::get(scope, ex, &item.parcel_id).await?;
        let x = match model_runs::explain(scope, ex, &item.parcel_id, None).await {
            Ok(x) => Some(x),
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let comps = match &x {
            Some(x) if x.approach == "regression" => {
                if !models.contains_key(&x.run_id) {
                    let run = model_runs::get(scope, ex, &x.run_id).await?;
                    models.insert(x.run_id.clone(), Comparables::read(scope, ex, &run).await?);
                }
                models
                    .get(&x.run_id)
                    .and_then(Option::as_ref)
                    .map(|m| m.of(&item.parcel_id, tb::MAX_COMPARABLES))
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let (method, components, comps) = method(x.as_ref(), &p, comps);
        let market = (item.pa490.is_empty()
            && parcels::assessment_of(p.appraised_cents()) == item.gross_cents)
            .then(|| dollars(p.appraised_cents()));
        let notice = tb::Notice {
            town: scope.town().name.clone(),
            office: office.clone(),
            list_year: year,
            notice_date,
            account_id: item.account.clone(),
            parcel: item.parcel_key.clone(),
            location: item.location.clone(),
            owners: vec![item.owner.clone()],
            mailing_address: item.address_lines(),
            previous: previous.get(&item.account).map(lines),
            assessment: lines(item),
            market_value_dollars: market,
            method,
            components,
            comparables: comps
                .iter()
                .take(tb::MAX_COMPARABLES)
                .map(comparable)
                .collect::<Result<_>>()?,
            appeal_deadline: deadline,
        };
        notice.validate().map_err(|e| {
            Error::invalid(
                format!("notice {}: {}", item.account, e.field()),
                e.problem().to_string(),
            )
        })?;
        out.push(notice);
    }
    Ok(out)
}

/// The notices as one PDF, a page each.
pub async fn pdf(
    scope: &ServiceScope,
    ex: &mut impl Executor,
    list_year: i64,
    input: &NoticesIn,
) -> Result<Vec<u8>> {
    let notices = notices(scope, ex, list_year, input).await?;
    tb::render_notices(&notices).map_err(|e| Error::invalid(e.field().to_owned(), e.to_string()))
}
