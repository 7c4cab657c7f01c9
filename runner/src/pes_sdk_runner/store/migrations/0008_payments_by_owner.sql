-- 0008: find a payment's owner's payments without reading every payment.
--
-- The cabinet lists a client's own payments (Начисления и платежи, Архив квитанций) by the
-- owner recorded in payment_apps; without this index that is a scan of every payment the
-- service ever took.
CREATE INDEX payment_apps_by_app ON payment_apps (app_id);
