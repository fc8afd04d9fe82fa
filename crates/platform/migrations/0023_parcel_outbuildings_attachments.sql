-- Assessment: the parcel record's outbuildings and extra features, and its
-- photos and sketches (docs/design/0006-assessment.md, "Outbuildings and
-- attachments").
--
-- An outbuilding's contributory value is part of the parcel's building value
-- of record: the service refuses outbuildings worth more in all than that
-- value. An attachment's bytes live in the blob store under the town's
-- prefix (`parcels/{parcel_id}/{sha256}`); the table holds what describes
-- them, and one file is attached to a parcel at most once.

CREATE TABLE assessment_outbuildings (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    parcel_id       TEXT NOT NULL,
    -- garage, shed, barn, pool, deck, porch, fireplace or other.
    kind            TEXT NOT NULL,
    description     TEXT NOT NULL,
    size            BIGINT NOT NULL,
    -- sqft or units.
    size_unit       TEXT NOT NULL,
    -- 0 when not known.
    year_built      BIGINT NOT NULL,
    -- 1 to 6, as the parcel's grades.
    condition       BIGINT NOT NULL,
    value_cents     BIGINT NOT NULL,
    version         BIGINT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, parcel_id) REFERENCES assessment_parcels (municipality_id, id)
);

CREATE INDEX assessment_outbuildings_by_parcel ON assessment_outbuildings (municipality_id, parcel_id);

CREATE TABLE assessment_attachments (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    parcel_id       TEXT NOT NULL,
    -- photo or sketch.
    kind            TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    -- image/jpeg, image/png or application/pdf, from the file's first bytes.
    content_type    TEXT NOT NULL,
    byte_size       BIGINT NOT NULL,
    sha256          TEXT NOT NULL,
    caption         TEXT NOT NULL,
    -- YYYY-MM-DD, or '' when not known.
    taken_on        TEXT NOT NULL,
    uploaded_at     TEXT NOT NULL,
    uploaded_by     TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, parcel_id, sha256),
    FOREIGN KEY (municipality_id, parcel_id) REFERENCES assessment_parcels (municipality_id, id)
);
