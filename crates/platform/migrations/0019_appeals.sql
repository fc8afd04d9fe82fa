-- Assessment: Board of Assessment Appeals petitions and certificates of
-- correction (docs/design/0010-appeals.md).
--
-- A petition is against one account of a signed grand list. Its hearing and
-- decision are recorded on it; a decision that changes the assessment issues a
-- certificate of correction in the same transaction. A certificate keeps the
-- account's assessment before and after and the tax before and after at the
-- list's mill rate; the signed grand list itself never changes (the adjusted
-- bill is the item with its latest certificate applied).

CREATE TABLE assessment_appeals (
    id                   TEXT PRIMARY KEY,
    municipality_id      TEXT NOT NULL REFERENCES municipalities (id),
    list_year            BIGINT NOT NULL,
    number               TEXT NOT NULL,
    account              TEXT NOT NULL,
    appellant            TEXT NOT NULL,
    contact              TEXT NOT NULL,
    filed_on             TEXT NOT NULL,
    grounds              TEXT NOT NULL,
    opinion_cents        BIGINT NOT NULL,
    status               TEXT NOT NULL,
    hearing_at           TEXT NOT NULL,
    hearing_place        TEXT NOT NULL,
    decision             TEXT NOT NULL,
    decided_on           TEXT NOT NULL,
    decision_note        TEXT NOT NULL,
    notice_mailed_on     TEXT NOT NULL,
    certificate_number   TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    created_by           TEXT NOT NULL,
    version              BIGINT NOT NULL,
    UNIQUE (municipality_id, list_year, number),
    FOREIGN KEY (municipality_id, list_year) REFERENCES assessment_grand_lists (municipality_id, list_year)
);

CREATE INDEX assessment_appeals_by_account ON assessment_appeals (municipality_id, list_year, account);

CREATE TABLE assessment_corrections (
    municipality_id      TEXT NOT NULL REFERENCES municipalities (id),
    list_year            BIGINT NOT NULL,
    number               TEXT NOT NULL,
    account              TEXT NOT NULL,
    reason               TEXT NOT NULL,
    statute              TEXT NOT NULL,
    appeal_id            TEXT NOT NULL,
    before_land_cents    BIGINT NOT NULL,
    before_building_cents BIGINT NOT NULL,
    before_net_cents     BIGINT NOT NULL,
    land_cents           BIGINT NOT NULL,
    building_cents       BIGINT NOT NULL,
    exemptions_cents     BIGINT NOT NULL,
    net_cents            BIGINT NOT NULL,
    before_tax_cents     BIGINT NOT NULL,
    tax_cents            BIGINT NOT NULL,
    issued_at            TEXT NOT NULL,
    issued_by            TEXT NOT NULL,
    entry_id             TEXT NOT NULL,
    PRIMARY KEY (municipality_id, list_year, number),
    FOREIGN KEY (municipality_id, list_year) REFERENCES assessment_grand_lists (municipality_id, list_year)
);

CREATE INDEX assessment_corrections_by_account ON assessment_corrections (municipality_id, list_year, account);
