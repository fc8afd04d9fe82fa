-- Assessment: building permits, field inspections and owner data mailers
-- (docs/design/0009-field-work.md).
--
-- A permit creates the inspection that picks it up; an inspection goes
-- open → assigned → done, or cancelled. A done inspection with an interior
-- visit, or a returned mailer, is a full inspection under CGS 12-62.

CREATE TABLE assessment_permits (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    permit_number   TEXT NOT NULL,
    parcel_id       TEXT NOT NULL,
    issued_on       TEXT NOT NULL,
    work_type       TEXT NOT NULL,
    description     TEXT NOT NULL,
    value_cents     BIGINT NOT NULL,
    inspection_id   TEXT NOT NULL,
    import_id       TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, permit_number),
    FOREIGN KEY (municipality_id, parcel_id) REFERENCES assessment_parcels (municipality_id, id)
);

CREATE TABLE assessment_inspections (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    parcel_id       TEXT NOT NULL,
    reason          TEXT NOT NULL,
    source          TEXT NOT NULL,
    due_on          TEXT NOT NULL,
    status          TEXT NOT NULL,
    inspector_id    TEXT NOT NULL,
    inspector_name  TEXT NOT NULL,
    inspected_on    TEXT NOT NULL,
    interior        BOOLEAN NOT NULL,
    changes         TEXT NOT NULL,
    notes           TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    version         BIGINT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, parcel_id) REFERENCES assessment_parcels (municipality_id, id)
);

CREATE INDEX assessment_inspections_by_status ON assessment_inspections (municipality_id, status, due_on);
CREATE INDEX assessment_inspections_by_parcel ON assessment_inspections (municipality_id, parcel_id);

CREATE TABLE assessment_mailers (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    parcel_id       TEXT NOT NULL,
    sent_on         TEXT NOT NULL,
    returned_on     TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    version         BIGINT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, parcel_id) REFERENCES assessment_parcels (municipality_id, id)
);

CREATE INDEX assessment_mailers_by_parcel ON assessment_mailers (municipality_id, parcel_id);
