-- 0013: who paid: the client a payment was made for, so that "Платёж зачислен" reaches them.
--
-- Same conventions as 0001. payment_apps names the payment's owner: a cabinet is its own
-- client (cabinet:<id>), an app is not (it pays for its many clients). This row names the
-- app's client (the client id the API scoped), written when the payment is booked; a
-- payment made before 0013 has none and is announced to nobody.
CREATE TABLE payment_clients (
    order_id    TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL
);
