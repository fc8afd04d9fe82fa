-- Open purchase orders carried into a later fiscal year at year-end close: the
-- year whose budget the order now encumbers (NULL: its own fiscal year). The
-- order keeps its fiscal year and number, which vendors quote.
ALTER TABLE ledger_purchase_orders ADD COLUMN carried_to BIGINT;
