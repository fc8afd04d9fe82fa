-- The region's UCOA catalog and each town's crosswalk (docs/design/0004-ucoa-catalog-crosswalk.md).

-- source: 'official' (imported from OPM's code list), 'observed' (seen in OPM's
-- published UCOA data), 'illustrative' (neither; MuniShare's own placeholders).
CREATE TABLE ucoa_codes (
    segment     TEXT NOT NULL,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    source      TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (segment, code)
);

-- The codes seen in OPM's FY2014 UCOA release (data.ct.gov 94fn-fqds, public domain;
-- see ../shared/data/ucoa/PROVENANCE.md). The sub-department segment is not a uniform segment.
INSERT INTO ucoa_codes (segment, code, name, source, updated_at) VALUES
    ('fund', '1005', 'Town General Fund', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('fund', '6001', 'Wastewater', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('function', '00', 'Undefined Function', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('function', '41', 'General Government', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('function', '42', 'Public Safety', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('department', '0000', 'Undefined Department', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('department', '4107', 'Executive', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('department', '4201', 'Police', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('department', '4203', 'Fire', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('department', '4299', 'Other Public Safety', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('object', '10000', 'Asset', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('object', '20000', 'Liability', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('object', '43000', 'Intergovernmental Revenues', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('object', '50000', 'Expenditure', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('object', '51000', 'Wages', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('object', '52000', 'Employee Benefits', 'observed', '2026-11-26T00:00:00.000000Z'),
    ('project', '000', 'Undefined Project', 'observed', '2026-11-26T00:00:00.000000Z'),
    -- Codes MuniShare's demo books use that OPM's sample does not show: illustrative.
    ('object', '10100', 'Cash', 'illustrative', '2026-11-26T00:00:00.000000Z'),
    ('object', '20100', 'Accounts payable', 'illustrative', '2026-11-26T00:00:00.000000Z'),
    ('object', '30100', 'Unassigned fund balance', 'illustrative', '2026-11-26T00:00:00.000000Z'),
    ('object', '41000', 'Property taxes', 'illustrative', '2026-11-26T00:00:00.000000Z'),
    ('function', '45', 'Education', 'illustrative', '2026-11-26T00:00:00.000000Z'),
    ('function', '47', 'Debt Service', 'illustrative', '2026-11-26T00:00:00.000000Z'),
    ('department', '4500', 'Education', 'illustrative', '2026-11-26T00:00:00.000000Z'),
    ('department', '4700', 'Debt Service', 'illustrative', '2026-11-26T00:00:00.000000Z');

-- How a town's books meet the UCOA: 'uniform' (its account strings are UCOA
-- strings) or 'local' (its own codes, mapped by a crosswalk).
ALTER TABLE ledger_settings ADD COLUMN chart TEXT NOT NULL DEFAULT 'uniform';

-- A crosswalk version: the whole map of a town's local accounts to uniform
-- account strings, effective from a fiscal year.
CREATE TABLE ledger_crosswalks (
    municipality_id         TEXT NOT NULL REFERENCES municipalities (id),
    id                      TEXT NOT NULL,
    version                 BIGINT NOT NULL,
    effective_fiscal_year   BIGINT NOT NULL,
    created_by              TEXT NOT NULL REFERENCES users (id),
    created_at              TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, version)
);

CREATE TABLE ledger_crosswalk_lines (
    municipality_id TEXT NOT NULL,
    crosswalk_id    TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    uniform_account TEXT NOT NULL,
    PRIMARY KEY (municipality_id, crosswalk_id, account_id),
    FOREIGN KEY (municipality_id, crosswalk_id) REFERENCES ledger_crosswalks (municipality_id, id),
    FOREIGN KEY (municipality_id, account_id) REFERENCES ledger_accounts (municipality_id, id)
);
