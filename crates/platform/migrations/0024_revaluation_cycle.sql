-- Assessment: each town's revaluation cycle under CGS 12-62(b)
-- (docs/design/0009-field-work.md): the grand-list year of the last
-- revaluation and of the next scheduled one (at most five years later).
-- One row per town; every change is audited with the row before and after.

CREATE TABLE assessment_revaluation_cycles (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    last_year       BIGINT NOT NULL,
    next_year       BIGINT NOT NULL,
    updated_at      TEXT NOT NULL,
    updated_by      TEXT NOT NULL,
    version         BIGINT NOT NULL,
    PRIMARY KEY (municipality_id)
);
