-- Legal holds on a saved search's results (issue 6; docs/design/0013-records.md, "Retention,
-- disposition, legal holds"): the documents the search found when the hold was placed (or
-- refreshed) are held, listed here; the hold keeps what the search was in `detail`.
ALTER TABLE records_legal_holds ADD COLUMN detail TEXT;

CREATE TABLE records_hold_documents (
    municipality_id TEXT NOT NULL,
    hold_id         TEXT NOT NULL,
    document_id     TEXT NOT NULL,
    PRIMARY KEY (municipality_id, hold_id, document_id),
    FOREIGN KEY (municipality_id, hold_id) REFERENCES records_legal_holds (municipality_id, id)
);
CREATE INDEX records_hold_documents_by_document ON records_hold_documents (municipality_id, document_id);
