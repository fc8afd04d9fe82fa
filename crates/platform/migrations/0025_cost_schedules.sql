-- Assessment: each town's cost schedule (docs/design/0008-model-runs.md):
-- base rates, depreciation and the land schedules by neighbourhood and by
-- zoning district, as JSON text (`valuation::CostSchedule`). One row per
-- town, versioned for optimistic concurrency; every change is audited with
-- the schedule before and after. Cost runs use it unless they bring their
-- own; a town without a row uses the illustrative schedule.

CREATE TABLE assessment_cost_schedules (
    municipality_id  TEXT NOT NULL REFERENCES municipalities (id),
    schedule         TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    updated_by       TEXT NOT NULL,
    version          BIGINT NOT NULL,
    PRIMARY KEY (municipality_id)
);
