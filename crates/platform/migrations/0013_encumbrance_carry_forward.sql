-- Open purchase orders carried into the next fiscal year at year-end close:
-- the year they were carried from (NULL when never carried).
ALTER TABLE ledger_purchase_orders ADD COLUMN carried_from BIGINT;
