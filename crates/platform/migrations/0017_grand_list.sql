-- Assessment: the October 1 grand list, its mill rate, bills and levy
-- (docs/design/0006-assessment.md, "Grand list, mill rate, bills").
--
-- Taking the grand list copies every parcel's assessment, exemptions and
-- owner into `assessment_grand_list_items`, so the value on any past grand
-- list can be shown after the roll has moved on. A signed list no longer
-- changes. The mill rate is kept as exact decimal text; each bill's tax is
-- derived from the net assessment and the mill rate (never stored apart from
-- them, so the two cannot disagree).

CREATE TABLE assessment_grand_lists (
    municipality_id       TEXT NOT NULL REFERENCES municipalities (id),
    list_year             BIGINT NOT NULL,
    status                TEXT NOT NULL,
    taken_at              TEXT NOT NULL,
    taken_by              TEXT NOT NULL,
    signed_at             TEXT NOT NULL,
    signed_by             TEXT NOT NULL,
    levy_cents            BIGINT NOT NULL,
    mill_rate             TEXT NOT NULL,
    installment_threshold_cents BIGINT NOT NULL,
    collector_name        TEXT NOT NULL,
    collector_address     TEXT NOT NULL,
    collector_phone       TEXT NOT NULL,
    levy_entry_id         TEXT NOT NULL,
    bills_status          TEXT NOT NULL,
    bills_error           TEXT NOT NULL,
    bills_blob_key        TEXT NOT NULL,
    bills_count           BIGINT NOT NULL,
    bills_made_at         TEXT NOT NULL,
    PRIMARY KEY (municipality_id, list_year)
);

CREATE TABLE assessment_grand_list_items (
    municipality_id  TEXT NOT NULL,
    list_year        BIGINT NOT NULL,
    account          TEXT NOT NULL,
    parcel_id        TEXT NOT NULL,
    parcel_key       TEXT NOT NULL,
    location         TEXT NOT NULL,
    owner            TEXT NOT NULL,
    mailing_address  TEXT NOT NULL,
    property_class   TEXT NOT NULL,
    pa490            TEXT NOT NULL,
    land_cents       BIGINT NOT NULL,
    building_cents   BIGINT NOT NULL,
    gross_cents      BIGINT NOT NULL,
    exemptions       TEXT NOT NULL,
    exemptions_cents BIGINT NOT NULL,
    net_cents        BIGINT NOT NULL,
    PRIMARY KEY (municipality_id, list_year, account),
    FOREIGN KEY (municipality_id, list_year) REFERENCES assessment_grand_lists (municipality_id, list_year)
);
